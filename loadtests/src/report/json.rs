//! The JSON result file and the run metadata that makes it reproducible: date, tool version
//! and commit, base URL, and the machine (cores, RAM, kernel).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{latency_chart, markdown_table, RunResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// RFC 3339, UTC.
    pub date: String,
    pub tool: String,
    pub tool_version: String,
    /// The commit the tool was built from, when its source is a git checkout.
    pub git_commit: Option<String>,
    pub base_url: String,
    pub command: Vec<String>,
    /// `software.name` and `software.version` of the server's CapabilityStatement, if given.
    pub server_software: Option<String>,
    pub machine: Machine,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub ram_bytes: Option<u64>,
    pub kernel: Option<String>,
}

impl Metadata {
    /// Metadata for a run starting now against `base_url`.
    pub fn collect(base_url: &str, server_software: Option<String>) -> Metadata {
        Metadata {
            date: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            tool: "ember-load".to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: git_commit(),
            base_url: base_url.to_owned(),
            command: std::env::args().collect(),
            server_software,
            machine: Machine::current(),
        }
    }
}

impl Machine {
    pub fn current() -> Machine {
        let ram_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|meminfo| {
                let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            });
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            ram_bytes,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|release| release.trim().to_owned()),
        }
    }
}

/// The commit of the source tree the tool was built from; `None` outside a git checkout.
fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Reads a result file written by [`write_outputs`].
///
/// # Errors
/// The file cannot be read or is not a result file.
pub fn read_result(path: &Path) -> Result<RunResult, String> {
    let text = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    serde_json::from_slice(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// Writes `results.json`, `results.md` and one `latency-<scenario>.svg` per timed scenario
/// into `directory`, creating it if needed.
///
/// # Errors
/// The directory or a file cannot be written.
pub fn write_outputs(result: &RunResult, directory: &Path) -> Result<(), String> {
    let write = |name: &str, contents: &[u8]| {
        let path = directory.join(name);
        std::fs::write(&path, contents).map_err(|error| format!("{}: {error}", path.display()))
    };
    std::fs::create_dir_all(directory)
        .map_err(|error| format!("{}: {error}", directory.display()))?;
    let json = serde_json::to_vec_pretty(result).map_err(|error| error.to_string())?;
    write("results.json", &json)?;
    write("results.md", markdown_table(result).as_bytes())?;
    for scenario in result
        .scenarios
        .iter()
        .filter(|scenario| !scenario.steps.is_empty())
    {
        write(
            &format!("latency-{}.svg", scenario.name),
            latency_chart(scenario).as_bytes(),
        )?;
    }
    Ok(())
}
