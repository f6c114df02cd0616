//! Criterion micro-benchmark of search parsing and planning: `engine::search::parse_search` and the SQL storage builds from its result, on ten query shapes, from one string parameter to chains and `_has`.
//! Run: cargo bench -p ember-benches --bench search_planning -- --warm-up-time 1 --measurement-time 3
// PERF: measures engine/src/search/ (criteria.rs, value.rs, result.rs), which runs on every
// search request before storage sees it.
//
// One benchmark per shape (group `search_parse`, id = shape): `parse_search` on
// percent-decoded name/value pairs, as the handler passes them after decoding the query string
// (decoding is not measured). Every shape is checked to parse, so no error path is timed.
//
// Group `search_sql`, same shapes: the SQL of the first page as storage builds it from the
// parsed query (`storage::bench_support::search_statements`: criteria, sort keys, paging,
// and the id-order probe for chains and `_has`), without running it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use engine::search::{parse_search, Scope};
use engine::ResourceType;

// The server's allocator (http/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Decoded query parameters in request order.
type Pairs = &'static [(&'static str, &'static str)];

/// (shape, searched type, parameters).
const SHAPES: &[(&str, &str, Pairs)] = &[
    ("string", "Patient", &[("family", "levin")]),
    (
        "token",
        "Observation",
        &[("code", "http://loinc.org|2339-0")],
    ),
    (
        "date_range",
        "Observation",
        &[("date", "ge2026-01-01"), ("date", "lt2026-02-01")],
    ),
    (
        "patient_code",
        "Observation",
        &[
            ("patient", "Patient/glossy"),
            ("code", "http://loinc.org|2339-0"),
        ],
    ),
    (
        "sort",
        "Observation",
        &[("patient", "Patient/glossy"), ("_sort", "-date")],
    ),
    (
        "include",
        "Observation",
        &[
            ("code", "http://loinc.org|2339-0"),
            ("_include", "Observation:patient"),
        ],
    ),
    (
        "revinclude",
        "Patient",
        &[("family", "levin"), ("_revinclude", "Observation:subject")],
    ),
    (
        "chain",
        "Observation",
        &[("subject:Patient.name", "miller")],
    ),
    (
        "chain_two_levels",
        "Observation",
        &[("patient.organization.name", "Good Health Clinic")],
    ),
    (
        "has",
        "Patient",
        &[("_has:Observation:patient:code", "http://loinc.org|2339-0")],
    ),
];

/// The searched type and the owned name/value pairs of a shape, as the handler has them.
fn decoded(type_name: &str, pairs: Pairs) -> (ResourceType, Vec<(String, String)>) {
    let resource_type = ResourceType::parse(type_name).expect("an R4 resource type");
    let params = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    (resource_type, params)
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("search_parse");
    for (shape, type_name, pairs) in SHAPES {
        let (resource_type, params) = decoded(type_name, pairs);
        // Lenient, the default without `Prefer: handling=strict`; nothing is ignored (checked).
        let query = parse_search(Scope::Type(resource_type), &params, false)
            .unwrap_or_else(|error| panic!("{shape}: {error:?}"));
        assert!(query.ignored.is_empty(), "{shape}: {:?}", query.ignored);

        group.bench_function(*shape, |b| {
            b.iter(|| {
                parse_search(Scope::Type(resource_type), black_box(&params), false).expect("parses")
            })
        });
    }
    group.finish();
}

fn bench_sql(c: &mut Criterion) {
    let mut group = c.benchmark_group("search_sql");
    for (shape, type_name, pairs) in SHAPES {
        let (resource_type, params) = decoded(type_name, pairs);
        let query = parse_search(Scope::Type(resource_type), &params, false)
            .unwrap_or_else(|error| panic!("{shape}: {error:?}"));
        storage::bench_support::search_statements(&query, 50)
            .unwrap_or_else(|error| panic!("{shape}: {error}"));

        group.bench_function(*shape, |b| {
            b.iter(|| {
                storage::bench_support::search_statements(black_box(&query), 50).expect("plans")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_parse, bench_sql);
criterion_main!(benches);
