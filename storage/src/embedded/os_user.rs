//! The unprivileged OS user PostgreSQL runs as when Ember runs as root (PostgreSQL refuses
//! to run as root), and the checks that this user can reach the files it needs.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{geteuid, Gid, Uid, User};

use super::cluster_error;
use crate::Error;

/// The account initdb, postgres and the guardian run as.
#[derive(Debug, Clone)]
pub(crate) struct OsUser {
    pub(crate) name: String,
    pub(crate) uid: Uid,
    pub(crate) gid: Gid,
}

/// `None` when Ember is not root: PostgreSQL then simply runs as Ember's own user.
pub(crate) fn server_user() -> Result<Option<OsUser>, Error> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    // `postgres` is what distribution packages create and what admins expect to own a
    // cluster; `nobody` exists nearly everywhere, so a bare container still works.
    for name in ["postgres", "nobody"] {
        match User::from_name(name) {
            Ok(Some(user)) => {
                return Ok(Some(OsUser {
                    name: user.name,
                    uid: user.uid,
                    gid: user.gid,
                }))
            }
            Ok(None) => continue,
            Err(errno) => {
                return Err(cluster_error(
                    format!("looking up the OS user `{name}`"),
                    errno.to_string(),
                ))
            }
        }
    }
    Err(cluster_error(
        "Ember runs as root",
        "PostgreSQL refuses to run as root and neither a `postgres` nor a `nobody` user \
         exists; create one (`useradd --system postgres`) or run Ember as an ordinary user",
    ))
}

impl OsUser {
    pub(crate) fn run_as(&self, command: &mut Command) {
        command.uid(self.uid.as_raw()).gid(self.gid.as_raw());
    }

    pub(crate) fn give(&self, path: &Path) -> Result<(), Error> {
        std::os::unix::fs::chown(path, Some(self.uid.as_raw()), Some(self.gid.as_raw())).map_err(
            Error::io(format!(
                "handing {} to the OS user `{}`",
                path.display(),
                self.name
            )),
        )
    }

    /// Fails with a message naming the first directory on the way to `dir` (inclusive) that
    /// this user may not enter.
    ///
    /// Checked up front because initdb and postgres report it obscurely ("could not change
    /// directory", "permission denied" on a path the user never asked about). Permission
    /// bits only: std drops supplementary groups when it switches user, so owner, primary
    /// group and others are exactly what the child gets (ACLs aside).
    pub(crate) fn check_reachable(&self, dir: &Path) -> Result<(), Error> {
        let mut ancestors: Vec<&Path> = dir.ancestors().collect();
        ancestors.reverse();
        for ancestor in ancestors {
            let meta = std::fs::metadata(ancestor)
                .map_err(Error::io(format!("inspecting {}", ancestor.display())))?;
            if !self.may_enter(&meta) {
                let name = &self.name;
                return Err(cluster_error(
                    format!(
                        "the data directory {} is out of reach of the OS user `{name}`",
                        dir.display()
                    ),
                    format!(
                        "Ember runs as root, so PostgreSQL runs as `{name}`, but {} (mode {:04o}, \
                         owner uid {}) does not let `{name}` enter; pass a --data-dir that \
                         `{name}` can reach (for example /var/lib/ember), or let it through with \
                         `chmod o+x {}`",
                        ancestor.display(),
                        meta.mode() & 0o7777,
                        meta.uid(),
                        ancestor.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn may_enter(&self, meta: &std::fs::Metadata) -> bool {
        let mode = meta.mode();
        if meta.uid() == self.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == self.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    }
}
