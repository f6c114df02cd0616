//! Architecture invariants from ARCHITECTURE.md, checked on every `cargo test`: dependencies
//! point only downward (http → actors → storage → engine), engine stays free of IO and async
//! runtimes, the load tool speaks only HTTP, and every source file says what it is for.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, PackageId};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn metadata() -> Metadata {
    MetadataCommand::new()
        .manifest_path(workspace_root().join("Cargo.toml"))
        .exec()
        .unwrap()
}

/// Names of every package `package` depends on at run time, directly or not.
fn runtime_dependencies(metadata: &Metadata, package: &str) -> BTreeSet<String> {
    let resolve = metadata.resolve.as_ref().unwrap();
    let names: HashMap<&PackageId, &str> = metadata
        .packages
        .iter()
        .map(|package| (&package.id, package.name.as_str()))
        .collect();
    let nodes: HashMap<&PackageId, _> = resolve.nodes.iter().map(|node| (&node.id, node)).collect();
    let start = metadata
        .packages
        .iter()
        .find(|candidate| candidate.name.as_str() == package)
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut stack = vec![&start.id];
    while let Some(id) = stack.pop() {
        for dependency in &nodes[id].deps {
            let at_run_time = dependency
                .dep_kinds
                .iter()
                .any(|kind| kind.kind == DependencyKind::Normal);
            if at_run_time && seen.insert(names[&dependency.pkg].to_owned()) {
                stack.push(&dependency.pkg);
            }
        }
    }
    seen
}

#[test]
fn engine_has_no_io_runtime_database_or_actor_dependency() {
    let dependencies = runtime_dependencies(&metadata(), "engine");
    for forbidden in [
        "tokio",
        "tokio-postgres",
        "deadpool-postgres",
        "ractor",
        "axum",
        "hyper",
    ] {
        assert!(
            !dependencies.contains(forbidden),
            "engine must not depend on {forbidden} (it does no IO)"
        );
    }
}

#[test]
fn crates_depend_only_downward() {
    let metadata = metadata();
    let layers = ["engine", "storage", "actors", "ember-http"];
    for (level, crate_name) in layers.iter().enumerate() {
        let dependencies = runtime_dependencies(&metadata, crate_name);
        for higher in &layers[level + 1..] {
            assert!(
                !dependencies.contains(*higher),
                "{crate_name} must not depend on {higher}: dependencies point down"
            );
        }
    }
}

#[test]
fn storage_knows_nothing_of_http_or_actors() {
    let dependencies = runtime_dependencies(&metadata(), "storage");
    for forbidden in ["axum", "hyper", "ractor"] {
        assert!(
            !dependencies.contains(forbidden),
            "storage must not depend on {forbidden}"
        );
    }
}

#[test]
fn loadtests_depends_on_no_ember_crate_at_run_time() {
    // It measures Ember and other servers alike, so it may know Ember only through HTTP (its
    // end-to-end test starts Ember through a dev-dependency, which this does not follow).
    let dependencies = runtime_dependencies(&metadata(), "loadtests");
    for ember_crate in ["engine", "storage", "actors", "ember-http"] {
        assert!(
            !dependencies.contains(ember_crate),
            "loadtests must not depend on {ember_crate}: it speaks only HTTP"
        );
    }
}

fn source_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut directories: Vec<PathBuf> = ["engine", "storage", "actors", "http", "loadtests"]
        .iter()
        .map(|name| workspace_root().join(name).join("src"))
        .collect();
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                directories.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn every_source_file_opens_with_a_doc_line_saying_what_it_is_for() {
    let undocumented: Vec<PathBuf> = source_files()
        .into_iter()
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "files without a leading //! line: {undocumented:?}"
    );
}

#[test]
fn no_source_file_passes_600_lines_of_code() {
    let too_long: Vec<(PathBuf, usize)> = source_files()
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let code_lines = text
                .lines()
                .take_while(|line| !line.starts_with("#[cfg(test)]"))
                .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with("//"))
                .count();
            (code_lines > 600).then_some((path, code_lines))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "split these files by concept: {too_long:?}"
    );
}
