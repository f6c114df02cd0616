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

criterion_group!(benches, bench_index);
criterion_main!(benches);
