//! Where the embedded cluster keeps its files under the data directory, the private socket
//! directory, and the lock that keeps two Embers off one data directory.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::geteuid;

use super::cluster_error;
use super::os_user::OsUser;
use crate::Error;

/// The port only names the socket file (`.s.PGSQL.5432`): the cluster listens on no TCP port,
/// so the usual 5432 never clashes with another server.
pub(crate) const PORT: u16 = 5432;

/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// The files of one embedded cluster. All paths are absolute (the data directory is
/// canonicalized), because a relative socket directory would not name a Unix socket.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) data_dir: PathBuf,
    /// The PostgreSQL cluster proper (`PGDATA`).
    pub(crate) cluster_dir: PathBuf,
    /// Where initdb builds a new cluster before it is renamed to `cluster_dir`, so a
    /// `cluster_dir` that exists is always a complete one, even if initdb was interrupted.
    pub(crate) initdb_dir: PathBuf,
    pub(crate) socket_dir: PathBuf,
    pub(crate) log_file: PathBuf,
    pub(crate) lock_file: PathBuf,
}

impl Layout {
    pub(crate) fn new(data_dir: PathBuf) -> Layout {
        Layout {
            cluster_dir: data_dir.join("postgres"),
            initdb_dir: data_dir.join("postgres.initdb"),
            socket_dir: socket_dir_for(&data_dir),
            log_file: data_dir.join("postgres.log"),
            lock_file: data_dir.join("ember.lock"),
            data_dir,
        }
    }

    /// Holds an exclusive lock on `ember.lock` for as long as the returned value lives.
    ///
    /// Without it a second Ember on the same data directory would take the first one's
    /// running postmaster for a leftover and stop it. The kernel drops the lock when the
    /// process dies, so a killed Ember never leaves it behind.
    pub(crate) fn lock(&self) -> Result<Flock<File>, Error> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock_file)
            .map_err(Error::io(format!("opening {}", self.lock_file.display())))?;
        Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
            if errno == Errno::EWOULDBLOCK {
                cluster_error(
                    format!("the data directory {} is in use", self.data_dir.display()),
                    format!(
                        "another Ember process holds {}; stop it or choose another --data-dir",
                        self.lock_file.display()
                    ),
                )
            } else {
                cluster_error(
                    format!("locking {}", self.lock_file.display()),
                    errno.to_string(),
                )
            }
        })
    }

    /// Creates the socket directory if needed and makes it private to the user PostgreSQL
    /// runs as: with `--auth=trust`, whoever can reach the socket is a superuser.
    pub(crate) fn prepare_socket_dir(&self, user: Option<&OsUser>) -> Result<(), Error> {
        let dir = &self.socket_dir;
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => return Err(Error::io(format!("creating {}", dir.display()))(error)),
        }
        // symlink_metadata: under /tmp anyone could have planted a symlink to elsewhere.
        let meta = std::fs::symlink_metadata(dir)
            .map_err(Error::io(format!("inspecting {}", dir.display())))?;
        if !meta.is_dir() {
            return Err(cluster_error(
                format!("preparing the socket directory {}", dir.display()),
                "it exists but is not a directory (a symlink?); remove it",
            ));
        }
        let server_uid = user.map_or_else(|| geteuid().as_raw(), |user| user.uid.as_raw());
        if meta.uid() != server_uid {
            match user {
                // Root created it (now or on an earlier run) and hands it over.
                Some(user) if meta.uid() == 0 => user.give(dir)?,
                _ => {
                    return Err(cluster_error(
                        format!("preparing the socket directory {}", dir.display()),
                        format!(
                            "it belongs to uid {}, not to the user PostgreSQL runs as (uid \
                             {server_uid}); remove it",
                            meta.uid()
                        ),
                    ))
                }
            }
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(Error::io(format!("making {} private", dir.display())))
    }
}

/// `<data_dir>/socket`, unless `<that>/.s.PGSQL.5432` would exceed the 107 bytes a Unix socket
/// path may have: then `/tmp/ember-<hash of the data dir>`. /tmp rather than `$TMPDIR`,
/// which may itself be long; the hash keeps the name stable across restarts and distinct
/// for distinct data directories.
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    let preferred = data_dir.join("socket");
    let socket_file_len = format!("/.s.PGSQL.{PORT}").len();
    if preferred.as_os_str().len() + socket_file_len <= MAX_SOCKET_PATH {
        return preferred;
    }
    PathBuf::from(format!(
        "/tmp/ember-{:016x}",
        fnv1a(data_dir.as_os_str().as_encoded_bytes())
    ))
}

/// A hash that, unlike std's `DefaultHasher`, is guaranteed stable across Rust releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_data_dir_keeps_the_socket_inside_it() {
        let layout = Layout::new(PathBuf::from("/var/lib/ember"));
        assert_eq!(layout.socket_dir, Path::new("/var/lib/ember/socket"));
    }

    #[test]
    fn long_data_dir_moves_the_socket_to_a_stable_tmp_dir() {
        let long = PathBuf::from(format!("/srv/{}", "d".repeat(100)));
        let first = Layout::new(long.clone()).socket_dir;
        let second = Layout::new(long).socket_dir;
        let other = Layout::new(PathBuf::from(format!("/srv/{}", "e".repeat(100)))).socket_dir;

        assert!(first.starts_with("/tmp"), "{}", first.display());
        assert_eq!(first, second);
        assert_ne!(first, other);
    }

    #[test]
    fn socket_path_at_the_limit_still_fits() {
        // 107 bytes in all: "/" + 85 × "x" + "/socket" + "/.s.PGSQL.5432".
        let data_dir = PathBuf::from(format!("/{}", "x".repeat(85)));
        let layout = Layout::new(data_dir.clone());
        assert_eq!(layout.socket_dir, data_dir.join("socket"));
        let socket = layout.socket_dir.join(format!(".s.PGSQL.{PORT}"));
        assert_eq!(socket.as_os_str().len(), 107);
    }
}
