//! Criterion micro-benchmark of the write path's CPU work per resource: `engine::prepare_resource` (parse, structural checks, search-index extraction), `engine::index::extract` alone, and `finalize`.
//! Run: cargo bench -p ember-benches --bench index_extraction -- --warm-up-time 1 --measurement-time 3
// PERF: measures the hot path of every create and update (engine/src/json/ingest.rs,
// engine/src/index/extract.rs); run it before and after changing either.
//
// Per fixture (group `index/<fixture>`, throughput = body bytes as sent):
//   parse     sonic_rs::from_slice::<Value>, the one parse prepare_resource starts with
//   extract   engine::index::extract on an already parsed Value: every SearchParameter of
//             the type evaluated (FHIRPath) and normalised into IndexEntry values
//   prepare   engine::prepare_resource: nesting guard + parse + structural checks + canonical
//             members + extract, i.e. what a create or update costs before the database
//   finalize  PreparedResource::finalize: the stored bytes with id and meta (after prepare)
//
// Group `include/diagnostic-report`: what `_include=DiagnosticReport:result` costs per
// matched resource in Ember (storage/src/search/include.rs): the stored body parsed and
// `engine::index::reference_targets` evaluated on it, for a body shaped as the load
// generator's (779 bytes).
//
// So `prepare - parse - extract` is the structural checks and the canonical serialisation.
// Fixtures are pretty-printed, as many clients send them; see benches/data/README.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::{prepare_resource, Id, Instant, VersionId};

// The server's allocator (http/src/main.rs): extraction allocates a String per value.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// (benchmark name, body): small, realistic resources of the types written most.
const FIXTURES: [(&str, &[u8]); 4] = [
    ("patient", include_bytes!("../data/Patient-glossy.json")),
    (
        "observation",
        include_bytes!("../data/Observation-glucose.json"),
    ),
    ("encounter", include_bytes!("../data/Encounter-visit.json")),
    ("claim", include_bytes!("../data/Claim-visit.json")),
];

fn bench_index(c: &mut Criterion) {
    let id = Id::parse("0b7c8e2a-4f6d-4e0a-9a4c-2f1d3e5b7a90").expect("valid id");
    let last_updated =
        Instant::from_datetime(time::macros::datetime!(2026-11-23 10:15:30.123456 UTC));
    for (name, body) in FIXTURES {
        let prepared = prepare_resource(body).expect("the fixture is a valid resource");
        assert!(
            !prepared.index_entries().is_empty(),
            "{name}: no index entries, so `extract` would measure nothing"
        );
        let resource_type = prepared.resource_type();
        let parsed: sonic_rs::Value = sonic_rs::from_slice(body).expect("valid JSON");

        let mut group = c.benchmark_group(format!("index/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("parse", |b| {
            b.iter(|| {
                let value: sonic_rs::Value =
                    sonic_rs::from_slice(black_box(body)).expect("valid JSON");
                black_box(value)
            })
        });
        group.bench_function("extract", |b| {
            b.iter(|| engine::index::extract(resource_type, black_box(&parsed)))
        });
        group.bench_function("prepare", |b| {
            b.iter(|| prepare_resource(black_box(body)).expect("valid resource"))
        });
        group.bench_function("finalize", |b| {
            b.iter(|| black_box(&prepared).finalize(&id, VersionId::FIRST, last_updated))
        });
        group.finish();
    }
}

/// A stored DiagnosticReport as the load generator writes them (`ember-load generate`).
const STORED_REPORT: &[u8] = br#"{"resourceType":"DiagnosticReport","id":"dr-7-10076-6","meta":{"versionId":"1","lastUpdated":"2026-12-06T20:53:17.520697Z"},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB","display":"Laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"58410-2","display":"CBC panel - Blood by Automated count"}],"text":"CBC panel - Blood by Automated count"},"subject":{"reference":"Patient/pt-7-10076"},"encounter":{"reference":"Encounter/enc-7-10076-6"},"effectiveDateTime":"2025-10-28T15:27:00+00:00","issued":"2025-10-28T15:57:00+00:00","performer":[{"reference":"Organization/org-7-10"}],"result":[{"reference":"Observation/obs-7-10076-6-0"},{"reference":"Observation/obs-7-10076-6-1"},{"reference":"Observation/obs-7-10076-6-2"}]}"#;

fn bench_include_targets(c: &mut Criterion) {
    let report = engine::ResourceType::parse("DiagnosticReport").expect("an R4 type");
    let mut group = c.benchmark_group("include/diagnostic-report");
    group.throughput(Throughput::Bytes(STORED_REPORT.len() as u64));
    group.bench_function("parse-and-follow-result", |b| {
        b.iter(|| {
            let body: sonic_rs::Value =
                sonic_rs::from_slice(black_box(STORED_REPORT)).expect("valid JSON");
            let targets = engine::index::reference_targets(report, &body, Some("result"), None);
            assert_eq!(targets.len(), 3);
            black_box(targets)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_index, bench_include_targets);
criterion_main!(benches);
