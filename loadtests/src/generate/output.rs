//! Writing a dataset: NDJSON with one file per resource type (for `ember-load load`), or
//! transaction Bundles, one per line of `transactions.ndjson` (the shared pool first, then one
//! per patient). Streams patient by patient, so memory stays constant at any size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Generator, ReferenceStyle, Resource};

/// The order in which types must be loaded so that every reference points at a resource
/// already there (servers that enforce referential integrity, such as HAPI FHIR's default,
/// refuse a dangling one).
pub const LOAD_ORDER: &[&str] = &[
    "Organization",
    "Location",
    "Practitioner",
    "Patient",
    "Encounter",
    "Observation",
    "Condition",
    "MedicationRequest",
    "DiagnosticReport",
    "Claim",
    "ExplanationOfBenefit",
];

/// The file of transaction Bundles, one per line.
pub const BUNDLES_FILE: &str = "transactions.ndjson";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetFormat {
    /// `<Type>.ndjson` per type, references `Type/id`: load with `ember-load load`.
    Ndjson,
    /// Transactions of `POST [type]` with `urn:uuid:` references: the server assigns ids.
    TransactionPost,
    /// Transactions of `PUT [type]/[id]` with `Type/id` references.
    TransactionPut,
}

/// What was written: `manifest.json` in the dataset's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub seed: u64,
    pub format: DatasetFormat,
    pub patients: u64,
    pub resources: u64,
    pub counts: BTreeMap<String, u64>,
}

/// Generates at least `resources` resources (whole patients, so slightly more) from `seed`
/// into `directory`, and writes `manifest.json` beside them.
///
/// # Errors
/// The directory or a file cannot be written.
pub fn generate_dataset(
    directory: &Path,
    seed: u64,
    resources: u64,
    format: DatasetFormat,
) -> Result<DatasetSummary, String> {
    let io_error = |error: std::io::Error| format!("{}: {error}", directory.display());
    std::fs::create_dir_all(directory).map_err(io_error)?;
    let references = match format {
        DatasetFormat::TransactionPost => ReferenceStyle::UrnUuid,
        DatasetFormat::Ndjson | DatasetFormat::TransactionPut => ReferenceStyle::Ids,
    };
    let mut generator = Generator::new(seed, references, resources);
    let mut sink = Sink::new(directory, format).map_err(io_error)?;
    let mut summary = DatasetSummary {
        seed,
        format,
        patients: 0,
        resources: 0,
        counts: BTreeMap::new(),
    };
    let mut write = |batch: &[Resource], method: &str, summary: &mut DatasetSummary| {
        for resource in batch {
            *summary
                .counts
                .entry(resource.resource_type.to_owned())
                .or_default() += 1;
        }
        summary.resources += batch.len() as u64;
        sink.write(batch, method)
    };
    write(&generator.shared_resources(), "PUT", &mut summary).map_err(io_error)?;
    let method = match format {
        DatasetFormat::TransactionPost => "POST",
        DatasetFormat::Ndjson | DatasetFormat::TransactionPut => "PUT",
    };
    while summary.resources < resources {
        write(&generator.next_patient(), method, &mut summary).map_err(io_error)?;
        summary.patients += 1;
    }
    sink.finish().map_err(io_error)?;
    let manifest = serde_json::to_vec_pretty(&summary).map_err(|error| error.to_string())?;
    std::fs::write(directory.join("manifest.json"), manifest).map_err(io_error)?;
    Ok(summary)
}

enum Sink {
    Ndjson {
        directory: std::path::PathBuf,
        files: BTreeMap<&'static str, BufWriter<File>>,
    },
    Bundles(BufWriter<File>),
}

impl Sink {
    fn new(directory: &Path, format: DatasetFormat) -> std::io::Result<Sink> {
        Ok(match format {
            DatasetFormat::Ndjson => Sink::Ndjson {
                directory: directory.to_path_buf(),
                files: BTreeMap::new(),
            },
            DatasetFormat::TransactionPost | DatasetFormat::TransactionPut => Sink::Bundles(
                BufWriter::with_capacity(1 << 20, File::create(directory.join(BUNDLES_FILE))?),
            ),
        })
    }

    /// Writes one batch: appended to each type's file, or as one transaction (`method`
    /// POST or PUT for each entry).
    fn write(&mut self, batch: &[Resource], method: &str) -> std::io::Result<()> {
        match self {
            Sink::Ndjson { directory, files } => {
                for resource in batch {
                    let file = match files.entry(resource.resource_type) {
                        std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                        std::collections::btree_map::Entry::Vacant(entry) => {
                            let path = directory.join(format!("{}.ndjson", resource.resource_type));
                            entry.insert(BufWriter::with_capacity(1 << 18, File::create(path)?))
                        }
                    };
                    file.write_all(resource.json.as_bytes())?;
                    file.write_all(b"\n")?;
                }
                Ok(())
            }
            Sink::Bundles(file) => {
                file.write_all(transaction_bundle(batch, method).as_bytes())?;
                file.write_all(b"\n")
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Ndjson { files, .. } => files.into_values().try_for_each(|mut file| file.flush()),
            Sink::Bundles(mut file) => file.flush(),
        }
    }
}

/// A transaction Bundle of `resources`, each entry a `method` (`POST [type]` or
/// `PUT [type]/[id]`) with a `urn:uuid:` fullUrl.
pub(crate) fn transaction_bundle(resources: &[Resource], method: &str) -> String {
    let mut bundle = String::from(r#"{"resourceType":"Bundle","type":"transaction","entry":["#);
    for (entry_idx, resource) in resources.iter().enumerate() {
        if entry_idx > 0 {
            bundle.push(',');
        }
        let url = if method == "PUT" {
            format!("{}/{}", resource.resource_type, resource.id)
        } else {
            resource.resource_type.to_owned()
        };
        bundle.push_str(&format!(
            r#"{{"fullUrl":"{}","resource":{},"request":{{"method":"{method}","url":"{url}"}}}}"#,
            resource.full_url(),
            resource.json
        ));
    }
    bundle.push_str("]}");
    bundle
}
