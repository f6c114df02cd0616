//! The data generator: the same seed gives the same bytes, every reference resolves inside
//! the dataset, and the requested scale is reached with whole patients.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use loadtests::generate::{generate_dataset, DatasetFormat, BUNDLES_FILE};
use serde_json::Value;

fn files(directory: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect()
}

fn generated(
    seed: u64,
    resources: u64,
    format: DatasetFormat,
) -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let directory = tempfile::tempdir().unwrap();
    generate_dataset(directory.path(), seed, resources, format).unwrap();
    let contents = files(directory.path());
    (directory, contents)
}

/// Every `reference` value anywhere in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("reference", Value::String(reference)) => found.push(reference.clone()),
                    _ => references(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[test]
fn the_same_seed_gives_byte_identical_datasets() {
    for format in [
        DatasetFormat::Ndjson,
        DatasetFormat::TransactionPost,
        DatasetFormat::TransactionPut,
    ] {
        let (_one, first) = generated(42, 3_000, format);
        let (_two, second) = generated(42, 3_000, format);
        assert_eq!(first, second, "{format:?}");
    }
}

#[test]
fn a_different_seed_gives_a_different_dataset() {
    let (_one, first) = generated(1, 2_000, DatasetFormat::Ndjson);
    let (_two, second) = generated(2, 2_000, DatasetFormat::Ndjson);
    assert_ne!(first["Patient.ndjson"], second["Patient.ndjson"]);
    assert_ne!(first["Observation.ndjson"], second["Observation.ndjson"]);
}

/// Pins the algorithm (ChaCha8 and the order of draws): a change here changes every dataset
/// anyone generated before, so it must be deliberate.
#[test]
fn seed_1_starts_with_the_same_patient_as_ever() {
    let (_directory, contents) = generated(1, 1_000, DatasetFormat::Ndjson);
    let patients = String::from_utf8(contents["Patient.ndjson"].clone()).unwrap();
    let first = patients.lines().next().unwrap();
    assert_eq!(
        first,
        include_str!("golden/seed-1-first-patient.json").trim_end()
    );
}

#[test]
fn ndjson_references_all_resolve_to_resources_in_the_dataset() {
    let (_directory, contents) = generated(3, 5_000, DatasetFormat::Ndjson);
    let mut ids = HashSet::new();
    let mut found = Vec::new();
    for (name, bytes) in &contents {
        if !name.ends_with(".ndjson") {
            continue;
        }
        for line in std::str::from_utf8(bytes).unwrap().lines() {
            let resource: Value = serde_json::from_str(line).unwrap();
            let resource_type = resource["resourceType"].as_str().unwrap();
            assert_eq!(format!("{resource_type}.ndjson"), *name);
            let key = format!("{resource_type}/{}", resource["id"].as_str().unwrap());
            assert!(ids.insert(key.clone()), "duplicate {key}");
            references(&resource, &mut found);
        }
    }
    assert!(found.len() > ids.len(), "resources refer to each other");
    let dangling: Vec<&String> = found
        .iter()
        .filter(|reference| !ids.contains(*reference))
        .collect();
    assert!(
        dangling.is_empty(),
        "dangling references: {:?}",
        &dangling[..dangling.len().min(5)]
    );
}

#[test]
fn transaction_references_resolve_to_an_entry_of_the_same_bundle_or_the_shared_pool() {
    let (_directory, contents) = generated(4, 3_000, DatasetFormat::TransactionPost);
    let text = std::str::from_utf8(&contents[BUNDLES_FILE]).unwrap();
    let mut lines = text.lines();
    let shared: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let shared_ids: HashSet<String> = shared["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert_eq!(entry["request"]["method"], "PUT");
            entry["request"]["url"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut bundles = 0;
    for line in lines {
        bundles += 1;
        let bundle: Value = serde_json::from_str(line).unwrap();
        assert_eq!(bundle["type"], "transaction");
        let entries = bundle["entry"].as_array().unwrap();
        let full_urls: HashSet<&str> = entries
            .iter()
            .map(|entry| entry["fullUrl"].as_str().unwrap())
            .collect();
        assert_eq!(full_urls.len(), entries.len(), "fullUrls are unique");
        let mut found = Vec::new();
        for entry in entries {
            assert_eq!(entry["request"]["method"], "POST");
            assert_eq!(entry["request"]["url"], entry["resource"]["resourceType"]);
            references(&entry["resource"], &mut found);
        }
        for reference in found {
            assert!(
                full_urls.contains(reference.as_str()) || shared_ids.contains(&reference),
                "dangling {reference}"
            );
        }
    }
    assert!(bundles > 50);
}

#[test]
fn the_requested_scale_is_reached_with_whole_patients_and_recorded_in_the_manifest() {
    let directory = tempfile::tempdir().unwrap();
    let summary = generate_dataset(directory.path(), 5, 10_000, DatasetFormat::Ndjson).unwrap();
    assert!(
        summary.resources >= 10_000 && summary.resources < 10_100,
        "{summary:?}"
    );
    assert_eq!(summary.counts.values().sum::<u64>(), summary.resources);
    assert_eq!(summary.counts["Patient"], summary.patients);
    for resource_type in [
        "Encounter",
        "Observation",
        "Condition",
        "MedicationRequest",
        "DiagnosticReport",
        "Claim",
        "ExplanationOfBenefit",
        "Organization",
        "Practitioner",
        "Location",
    ] {
        assert!(summary.counts[resource_type] > 0, "{resource_type}");
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(directory.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["resources"], summary.resources);
}
