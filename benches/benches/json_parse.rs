//! Criterion benchmark: simd-json vs sonic-rs (and optionally serde_json) parsing and ingesting FHIR R4 payloads.
// PERF: hot path comparison behind docs/adr/0001-json-parser.md
//
// Per payload (group `json/<payload>`, throughput = payload bytes):
//   parse/simd_borrowed_copy  copy body to a Vec + simd_json::to_borrowed_value (what a request costs)
//   parse/simd_borrowed_only  simd_json::to_borrowed_value on a pre-made copy (copy excluded)
//   parse/simd_owned_copy     copy body + simd_json::to_owned_value (owned strings; for reference)
//   parse/simd_tape_copy      copy body + simd_json::to_tape
//   parse/sonic_value         sonic_rs::from_slice::<sonic_rs::Value> (arbitrary_precision)
//   parse/serde_json_value    serde_json::from_slice::<Value> (feature serde-json-baseline)
//   ingest/<path>             parse + set id/meta + compact serialise, see ember_benches::ingest_*
//   ingest/engine_prepare     engine::prepare_resource: what Ember does per write before the
//                             database (nesting guard, parse, structure and element checks,
//                             canonical members, search-index extraction)
//
// Run: cargo bench -p ember-benches --bench json_parse -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ember_benches::{ingest_paths, ASSIGNED, PAYLOADS};

fn bench_json(c: &mut Criterion) {
    for p in PAYLOADS {
        let body = p.bytes;
        let mut g = c.benchmark_group(format!("json/{}", p.name));
        g.throughput(Throughput::Bytes(body.len() as u64));

        g.bench_function("parse/simd_borrowed_copy", |b| {
            b.iter(|| {
                let mut buf = black_box(body).to_vec();
                let v = simd_json::to_borrowed_value(&mut buf).expect("valid JSON");
                black_box(&v);
            })
        });
        g.bench_function("parse/simd_borrowed_only", |b| {
            b.iter_batched_ref(
                || body.to_vec(),
                |buf| {
                    let v = simd_json::to_borrowed_value(buf).expect("valid JSON");
                    black_box(&v);
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function("parse/simd_owned_copy", |b| {
            b.iter(|| {
                let mut buf = black_box(body).to_vec();
                let v = simd_json::to_owned_value(&mut buf).expect("valid JSON");
                black_box(&v);
            })
        });
        g.bench_function("parse/simd_tape_copy", |b| {
            b.iter(|| {
                let mut buf = black_box(body).to_vec();
                let t = simd_json::to_tape(&mut buf).expect("valid JSON");
                black_box(&t);
            })
        });
        g.bench_function("parse/sonic_value", |b| {
            b.iter(|| {
                let v: sonic_rs::Value = sonic_rs::from_slice(black_box(body)).expect("valid JSON");
                black_box(&v);
            })
        });
        #[cfg(feature = "serde-json-baseline")]
        g.bench_function("parse/serde_json_value", |b| {
            b.iter(|| {
                let v: serde_json::Value =
                    serde_json::from_slice(black_box(body)).expect("valid JSON");
                black_box(&v);
            })
        });

        g.bench_function("ingest/engine_prepare", |b| {
            b.iter(|| {
                let prepared =
                    engine::prepare_resource(black_box(body)).expect("an official example");
                black_box(prepared);
            })
        });
        for (label, ingest) in ingest_paths() {
            g.bench_function(format!("ingest/{label}"), |b| {
                b.iter(|| {
                    let out = ingest(black_box(body), &ASSIGNED).expect("ingest");
                    black_box(out);
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_json);
criterion_main!(benches);
