//! Criterion micro-benchmark of searchset Bundle assembly around stored bytes (http/src/bundle.rs), for pages of 50 and 1,000 Observations.
//! Run: cargo bench -p ember-benches --bench bundle_assembly -- --warm-up-time 1 --measurement-time 3
// PERF: measures the hot path of every search response (http/src/bundle.rs, driven through
// ember_http::bench_support as http/src/interaction/search.rs drives it).
//
// Per page size n (group `searchset/<n>`, throughput = Bundle bytes written):
//   stored    the default: each match's stored bytes copied in unchanged (subset() says
//             "whole resource", as it does without _summary/_elements)
//   elements  `_elements=code,subject,valueQuantity`: each match re-parsed and re-written by
//             engine::search::subset before it is copied in
//
// The page is n stored Observations (benches/data/Observation-glucose.json prepared and
// finalized with ids obs-00000...), the links are self and next as the handler writes them,
// and `total` is absent (the default `_total=none`). The database fetch is not measured.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ember_http::bench_support::SearchsetWriter;
use engine::search::Summary;
use engine::{prepare_resource, Id, Instant, VersionId};
use sonic_rs::JsonContainerTrait;
use storage::FoundResource;

// The server's allocator (http/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BASE: &str = "http://localhost:8080/fhir";
const SELF_URL: &str =
    "http://localhost:8080/fhir/Observation?code=http%3A%2F%2Floinc.org%7C2339-0";
const NEXT_URL: &str = "http://localhost:8080/fhir/Observation?code=http%3A%2F%2Floinc.org%7C2339-0&_cursor=AXsib2JzLTAwMDQ5In0";

/// `n` Observations as storage returns them: canonical bytes with id and meta.
fn stored_page(n: usize) -> Vec<FoundResource> {
    let prepared = prepare_resource(include_bytes!("../data/Observation-glucose.json"))
        .expect("the fixture is a valid resource");
    let last_updated =
        Instant::from_datetime(time::macros::datetime!(2026-11-23 10:15:30.123456 UTC));
    (0..n)
        .map(|index| {
            let id = Id::parse(&format!("obs-{index:05}")).expect("valid id");
            let body = prepared.finalize(&id, VersionId::FIRST, last_updated);
            FoundResource {
                resource_type: "Observation".to_owned(),
                id: id.as_str().to_owned(),
                body: Bytes::from(body),
            }
        })
        .collect()
}

/// What the search handler does with a page: size the buffer, write each match (or its
/// subset), finish.
fn assemble(page: &[FoundResource], elements: &[String]) -> Bytes {
    let capacity = page.iter().map(|found| found.body.len() + 128).sum();
    let links = [("self", SELF_URL), ("next", NEXT_URL)];
    let mut bundle = SearchsetWriter::new(None, &links, capacity);
    for found in page {
        let body = engine::search::subset(&found.body, Summary::False, elements);
        bundle.push_match(BASE, found, body.as_deref().unwrap_or(&found.body));
    }
    bundle.finish()
}

fn bench_bundle(c: &mut Criterion) {
    let elements: Vec<String> = ["code", "subject", "valueQuantity"]
        .map(str::to_owned)
        .to_vec();
    for n in [50, 1000] {
        let page = stored_page(n);
        let mut group = c.benchmark_group(format!("searchset/{n}"));
        for (label, elements) in [("stored", &[][..]), ("elements", &elements[..])] {
            let bundle = assemble(&page, elements);
            let parsed: sonic_rs::Value =
                sonic_rs::from_slice(&bundle).expect("the Bundle is JSON");
            assert_eq!(
                parsed["entry"].as_array().map(|entries| entries.len()),
                Some(n)
            );
            group.throughput(Throughput::Bytes(bundle.len() as u64));
            group.bench_function(label, |b| {
                b.iter(|| assemble(black_box(&page), black_box(elements)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_bundle);
criterion_main!(benches);
