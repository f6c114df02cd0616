//! Criterion micro-benchmark of the in-process write batching: what a writer does for a batch of creates before it sends the statement (decide each write, gather versions and index rows, hash each index row).
//! Run: cargo bench -p ember-benches --bench write_batching -- --warm-up-time 1 --measurement-time 3
// PERF: measures storage/src/write.rs `plan` (with storage/src/index_rows.rs), which runs while
// a writer holds its batch; run it before and after changing either.
//
// Group `write_batch/<resource>`, one benchmark per batch size (1, 8, 64, 512 writes; a writer
// under load commits 8 on average at 16 clients and up to 1,000), throughput = writes. The
// resources are prepared once, outside the timing: preparation happens on the request's own
// task, before the write reaches its writer (benches/benches/index_extraction.rs measures it).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use engine::{prepare_resource, Id, Instant};
use storage::model::{WriteAction, WriteRequest};

// The server's allocator (http/src/main.rs): planning allocates a String per index column value.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURES: [(&str, &[u8]); 2] = [
    ("patient", include_bytes!("../data/Patient-glossy.json")),
    (
        "observation",
        include_bytes!("../data/Observation-glucose.json"),
    ),
];

fn creates(body: &[u8], count: usize) -> Vec<WriteRequest> {
    let prepared = prepare_resource(body).expect("fixture is a valid resource");
    (0..count)
        .map(|_| WriteRequest {
            id: Id::generate(),
            action: WriteAction::Create(prepared.clone()),
        })
        .collect()
}

fn bench_write_batching(c: &mut Criterion) {
    let now = Instant::from_datetime(time::macros::datetime!(2026-11-23 10:15:30.123456 UTC));
    for (name, body) in FIXTURES {
        let mut group = c.benchmark_group(format!("write_batch/{name}"));
        for size in [1usize, 8, 64, 512] {
            group.throughput(Throughput::Elements(size as u64));
            group.bench_function(format!("{size}"), |bencher| {
                bencher.iter_batched_ref(
                    || creates(body, size),
                    |requests| black_box(storage::bench_support::plan_new_batch(requests, now)),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_write_batching);
criterion_main!(benches);
