//! Finding the PostgreSQL server binaries (`initdb`, `postgres`) the embedded cluster runs.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// A directory holding an `initdb` and a `postgres` of the same installation.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub(crate) bin_dir: PathBuf,
}

impl Binaries {
    pub(crate) fn initdb(&self) -> PathBuf {
        self.bin_dir.join("initdb")
    }

    pub(crate) fn postgres(&self) -> PathBuf {
        self.bin_dir.join("postgres")
    }
}

/// Looks on `path` (PATH syntax) for `initdb`, then asks `pg_config --bindir` (found on the same
/// `path`), then takes the highest version under each of `install_roots` (`<root>/<version>/bin`).
///
/// PATH comes first because whoever put a PostgreSQL on PATH chose that version; Debian and
/// Ubuntu keep the server binaries off PATH, which is what the other two places are for.
pub(crate) fn find(path: &OsStr, install_roots: &[PathBuf]) -> Result<Binaries, Error> {
    let mut searched = Vec::new();

    for dir in std::env::split_paths(path) {
        if let Some(bin_dir) = server_dir_of(&dir.join("initdb")) {
            return Ok(Binaries { bin_dir });
        }
    }
    if path.is_empty() {
        searched.push("PATH (empty)".to_owned());
    } else {
        searched.push(format!("PATH ({})", path.to_string_lossy()));
    }

    match std::env::split_paths(path)
        .map(|dir| dir.join("pg_config"))
        .find(|candidate| is_executable(candidate))
    {
        Some(pg_config) => match bindir_from(&pg_config) {
            Some(dir) if has_server(&dir) => return Ok(Binaries { bin_dir: dir }),
            Some(dir) => searched.push(format!(
                "{} (from `{} --bindir`)",
                dir.display(),
                pg_config.display()
            )),
            None => searched.push(format!("`{} --bindir` (failed)", pg_config.display())),
        },
        None => searched.push("`pg_config --bindir` (no pg_config on PATH)".to_owned()),
    }

    for root in install_roots {
        let mut versions = installed_versions(root);
        // Highest version first: a newer server can always read what it created itself.
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some((_, bin_dir)) = versions.into_iter().find(|(_, dir)| has_server(dir)) {
            return Ok(Binaries { bin_dir });
        }
        searched.push(format!("{}/*/bin", root.display()));
    }

    Err(Error::PostgresBinariesNotFound {
        searched: searched.join("; "),
    })
}

/// The directory to run the server from, given an `initdb` found on PATH.
///
/// Distributions often put symlinks on PATH (`/usr/local/bin/initdb` → the versioned
/// directory); the real directory is where the matching `postgres` is sure to be.
fn server_dir_of(initdb: &Path) -> Option<PathBuf> {
    if !is_executable(initdb) {
        return None;
    }
    let real_dir = std::fs::canonicalize(initdb)
        .ok()
        .and_then(|real| real.parent().map(Path::to_path_buf));
    let listed_dir = initdb.parent().map(Path::to_path_buf);
    [real_dir, listed_dir]
        .into_iter()
        .flatten()
        .find(|dir| has_server(dir))
}

fn bindir_from(pg_config: &Path) -> Option<PathBuf> {
    let output = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<version>/bin` for every subdirectory whose name is a version number ("15", "9.6").
fn installed_versions(root: &Path) -> Vec<(Vec<u32>, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = name
                .to_str()?
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect()
}

fn has_server(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_install(root: &Path, version: &str, with_postgres: bool) {
        let bin = root.join(version).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let mut names = vec!["initdb"];
        if with_postgres {
            names.push("postgres");
        }
        for name in names {
            let file = bin.join(name);
            std::fs::write(&file, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn highest_complete_version_under_an_install_root_wins() {
        let root = tempfile::tempdir().unwrap();
        fake_install(root.path(), "9.6", true);
        fake_install(root.path(), "14", true);
        fake_install(root.path(), "16", false);
        fake_install(root.path(), "not-a-version", true);

        let found = find(OsStr::new(""), &[root.path().to_path_buf()]).unwrap();

        assert_eq!(found.bin_dir, root.path().join("14").join("bin"));
    }

    #[test]
    fn path_comes_before_install_roots() {
        let on_path = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        fake_install(on_path.path(), "any", true);
        fake_install(root.path(), "17", true);
        let path = on_path.path().join("any").join("bin");

        let found = find(path.as_os_str(), &[root.path().to_path_buf()]).unwrap();

        assert_eq!(found.bin_dir, std::fs::canonicalize(path).unwrap());
    }

    #[test]
    fn nothing_found_lists_every_place_searched() {
        let root = tempfile::tempdir().unwrap();

        let error = find(OsStr::new("/nonexistent"), &[root.path().to_path_buf()]).unwrap_err();

        let message = error.to_string();
        assert!(message.contains("PATH (/nonexistent)"), "{message}");
        assert!(message.contains("no pg_config on PATH"), "{message}");
        assert!(
            message.contains(&root.path().display().to_string()),
            "{message}"
        );
    }
}
