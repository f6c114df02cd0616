//! End to end against a real Ember (in-process, real PostgreSQL): the smoke run is
//! error-free and its result files are well-formed, and a generated dataset loads with
//! `PUT [type]/[id]` and reads back. Nothing here asserts a speed.

use std::sync::Arc;
use std::time::Duration;

use loadtests::generate::{generate_dataset, DatasetFormat};
use loadtests::load::{load, LoadOptions};
use loadtests::report::{read_result, write_outputs};
use loadtests::run::smoke;
use loadtests::target::Target;

use crate::support::start_ember;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_against_ember_is_error_free_with_well_formed_results() {
    let base_url = start_ember().await;
    let result = smoke(Target::new(&base_url, None).unwrap()).await.unwrap();
    let directory = tempfile::tempdir().unwrap();
    write_outputs(&result, directory.path()).unwrap();

    let written = read_result(&directory.path().join("results.json")).unwrap();
    assert_eq!(written, result);
    assert_eq!(written.metadata.base_url, base_url);
    assert_eq!(
        written
            .metadata
            .server_software
            .as_deref()
            .map(|software| software.starts_with("Ember")),
        Some(true)
    );
    let names: Vec<&str> = written
        .scenarios
        .iter()
        .map(|scenario| scenario.name.as_str())
        .collect();
    assert_eq!(names, ["read", "create", "crud"]);
    for scenario in &written.scenarios {
        assert_eq!(scenario.skipped, None);
        let step = &scenario.steps[0];
        assert!(step.requests > 0 && step.errors.is_empty(), "{scenario:?}");
        assert!(
            step.latency_ms.p50 <= step.latency_ms.p99
                && step.latency_ms.p99 <= step.latency_ms.max
        );
        assert!(directory
            .path()
            .join(format!("latency-{}.svg", scenario.name))
            .exists());
    }
    let table = std::fs::read_to_string(directory.path().join("results.md")).unwrap();
    assert_eq!(
        table
            .lines()
            .filter(|line| line.starts_with("| crud |"))
            .count(),
        1,
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_dataset_loads_into_ember_and_reads_back() {
    let base_url = start_ember().await;
    let directory = tempfile::tempdir().unwrap();
    let summary = generate_dataset(directory.path(), 9, 1_000, DatasetFormat::Ndjson).unwrap();
    let options = LoadOptions {
        directory: directory.path().to_path_buf(),
        concurrency: 8,
        timeout: Duration::from_secs(30),
    };
    let report = load(Arc::new(Target::new(&base_url, None).unwrap()), &options)
        .await
        .unwrap();
    assert_eq!(report.failed, 0, "{:?}", report.errors);
    assert_eq!(report.loaded, summary.resources);

    let client = reqwest::Client::new();
    for path in [
        "Patient/pt-9-0",
        "Observation/obs-9-0-0-0",
        "Organization/org-9-0",
        "ExplanationOfBenefit/eob-9-0-0",
    ] {
        let response = client
            .get(format!("{base_url}/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    // Loading again is idempotent: every PUT updates what is there.
    let again = load(Arc::new(Target::new(&base_url, None).unwrap()), &options)
        .await
        .unwrap();
    assert_eq!((again.loaded, again.failed), (summary.resources, 0));
}
