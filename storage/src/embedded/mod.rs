//! The embedded PostgreSQL cluster: one `ember` command brings its own database server,
//! reachable only by Ember (a private Unix socket) and stopped with it, even when Ember is
//! killed.
//!
//! Layout of the data directory:
//! - `postgres/`: the cluster (created by initdb on first start, reused afterwards)
//! - `socket/`: the Unix socket directory (under /tmp if the path would be too long)
//! - `postgres.log`: initdb's and the server's output, appended across runs
//! - `ember.lock`: held while an Ember uses the directory

mod binaries;
mod cluster;
mod config_file;
mod guardian;
mod layout;
mod os_user;
mod postmaster;
mod tuning;

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use nix::fcntl::Flock;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio_postgres::NoTls;
use tracing::info;

use self::guardian::Guardian;
use self::layout::{Layout, PORT};
use crate::Error;

/// The superuser initdb creates, and the database Ember keeps its data in.
const SUPERUSER: &str = "ember";
const DATABASE: &str = "ember";

/// How long the first connection may take once the postmaster says it is ready.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the embedded cluster lives and where to find PostgreSQL.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Holds the cluster (`postgres/`), its log, socket and lock; created if missing. When
    /// Ember runs as root, the `postgres` (or `nobody`) user must be able to reach it.
    pub data_dir: PathBuf,
    /// Directories searched first for `initdb` (and then `pg_config`), in `PATH` syntax.
    /// `None` means the process's `PATH`.
    pub search_path: Option<OsString>,
    /// Directories holding one `<version>/bin` per installed PostgreSQL (the Debian and
    /// Ubuntu layout), searched last; the highest version wins.
    pub install_roots: Vec<PathBuf>,
}

impl EmbeddedOptions {
    /// Options with the default binary search: `PATH`, `pg_config --bindir`,
    /// `/usr/lib/postgresql/*/bin`.
    pub fn new(data_dir: impl Into<PathBuf>) -> EmbeddedOptions {
        EmbeddedOptions {
            data_dir: data_dir.into(),
            search_path: None,
            install_roots: vec![PathBuf::from("/usr/lib/postgresql")],
        }
    }
}

/// What a cluster is for, which decides how much durability it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Server,
    /// Throwaway: no fsync, and the guardian deletes the data directory when the process ends.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Test,
}

/// A running embedded PostgreSQL cluster, owned by this process.
///
/// Stop it with [`EmbeddedPostgres::stop`]. Dropping it only asks PostgreSQL to shut down;
/// if the process dies without either, the guardian stops PostgreSQL.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    layout: Layout,
    postmaster: Option<Child>,
    guardian: Option<Guardian>,
    _lock: Flock<File>,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `options.data_dir`, creating it (and the `ember` database) on
    /// first use, and returns once it accepts connections.
    pub async fn start(options: EmbeddedOptions) -> Result<EmbeddedPostgres, Error> {
        tokio::task::spawn_blocking(move || {
            EmbeddedPostgres::start_blocking(options, Purpose::Server)
        })
        .await
        .map_err(|error| cluster_error("starting", error.to_string()))?
    }

    /// The whole start-up, on the calling thread and without needing a Tokio runtime: the
    /// test harness shares one cluster between tests that each have their own runtime.
    pub(crate) fn start_blocking(
        options: EmbeddedOptions,
        purpose: Purpose,
    ) -> Result<EmbeddedPostgres, Error> {
        let started = Instant::now();
        let search_path = options
            .search_path
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let binaries = binaries::find(&search_path, &options.install_roots)?;
        let user = os_user::server_user()?;

        std::fs::create_dir_all(&options.data_dir).map_err(Error::io(format!(
            "creating {}",
            options.data_dir.display()
        )))?;
        let data_dir = std::fs::canonicalize(&options.data_dir).map_err(Error::io(format!(
            "resolving {}",
            options.data_dir.display()
        )))?;
        let layout = Layout::new(data_dir);
        let lock = layout.lock()?;
        if let Some(user) = &user {
            user.check_reachable(&layout.data_dir)?;
            if purpose == Purpose::Test {
                // The guardian, running as this user, deletes the directory at exit.
                user.give(&layout.data_dir)?;
            }
        }

        if layout.cluster_dir.exists() {
            postmaster::stop_leftover(&layout.cluster_dir)?;
        } else {
            let initdb_started = Instant::now();
            cluster::initdb(&binaries, &layout, user.as_ref(), purpose)?;
            info!(
                cluster = %layout.cluster_dir.display(),
                bin_dir = %binaries.bin_dir.display(),
                elapsed_ms = initdb_started.elapsed().as_millis() as u64,
                "created a PostgreSQL cluster"
            );
        }
        layout.prepare_socket_dir(user.as_ref())?;

        let log_start = cluster::log_len(&layout);
        let mut child = cluster::spawn_postmaster(&binaries, &layout, user.as_ref(), purpose)?;
        // The guardian comes before the wait, so a kill during start-up is covered too.
        let remove_afterwards = (purpose == Purpose::Test).then_some(layout.data_dir.as_path());
        let guardian = match guardian::spawn(
            child.id(),
            &layout.cluster_dir,
            remove_afterwards,
            user.as_ref(),
        ) {
            Ok(guardian) => guardian,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
        };
        // From here on, Drop cleans up after any error.
        let mut embedded = EmbeddedPostgres {
            layout,
            postmaster: Some(child),
            guardian: Some(guardian),
            _lock: lock,
        };
        if let Some(child) = embedded.postmaster.as_mut() {
            cluster::wait_until_ready(child, &embedded.layout, log_start)?;
        }
        embedded.ensure_database(DATABASE)?;
        info!(
            data_dir = %embedded.layout.data_dir.display(),
            socket_dir = %embedded.layout.socket_dir.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedded PostgreSQL ready"
        );
        Ok(embedded)
    }

    /// Connects to the `ember` database as the `ember` superuser over the Unix socket.
    pub fn connection_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.layout.socket_dir)
            .port(PORT)
            .user(SUPERUSER)
            .dbname(DATABASE)
            .connect_timeout(CONNECT_TIMEOUT);
        config
    }

    /// The same as [`EmbeddedPostgres::connection_config`], as a URL that `psql` and
    /// libpq understand: `postgresql://ember@/ember?host=%2F…&port=5432`.
    pub fn database_url(&self) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{DATABASE}?host={}&port={PORT}",
            percent_encode(self.layout.socket_dir.as_os_str().as_encoded_bytes())
        )
    }

    /// The data directory, canonicalized.
    pub fn data_dir(&self) -> &Path {
        &self.layout.data_dir
    }

    /// The directory holding the Unix socket (`.s.PGSQL.5432`).
    pub fn socket_dir(&self) -> &Path {
        &self.layout.socket_dir
    }

    /// Fast shutdown: PostgreSQL ends open sessions, writes a checkpoint and exits. Returns
    /// once it has exited; escalates to an immediate shutdown if it takes too long.
    pub async fn stop(mut self) -> Result<(), Error> {
        let started = Instant::now();
        let postmaster = self.postmaster.take();
        let guardian = self.guardian.take();
        tokio::task::spawn_blocking(move || stop_blocking(postmaster, guardian))
            .await
            .map_err(|error| cluster_error("stopping", error.to_string()))??;
        info!(
            data_dir = %self.layout.data_dir.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedded PostgreSQL stopped"
        );
        Ok(())
    }

    /// Creates `name` unless it exists. Runs on a throwaway current-thread runtime so it
    /// works on any thread, whichever runtime (if any) the caller has.
    fn ensure_database(&self, name: &str) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::io(
                "starting a runtime to set up the embedded cluster",
            ))?;
        let mut config = self.connection_config();
        // Always there: initdb creates it for exactly this kind of maintenance connection.
        config.dbname("postgres");
        runtime.block_on(async {
            let (client, connection) = config.connect(NoTls).await?;
            let connection = tokio::spawn(connection);
            let exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await?
                .is_some();
            if !exists {
                client
                    .batch_execute(&format!("CREATE DATABASE {}", quote_identifier(name)))
                    .await?;
                info!(database = name, "created the database");
            }
            drop(client);
            let _ = connection.await;
            Ok(())
        })
    }
}

impl Drop for EmbeddedPostgres {
    /// Best effort without blocking: ask for a fast shutdown and leave the waiting (and
    /// reaping, so no zombie lingers) to a background thread.
    fn drop(&mut self) {
        let postmaster = self.postmaster.take();
        let guardian = self.guardian.take();
        if postmaster.is_none() && guardian.is_none() {
            return;
        }
        if let Some(pid) = postmaster.as_ref().and_then(pid_of) {
            let _ = kill(pid, Signal::SIGINT);
        }
        let _ = std::thread::Builder::new()
            .name("ember-postgres-reaper".to_owned())
            .spawn(move || {
                if let Some(mut child) = postmaster {
                    let _ = child.wait();
                }
                if let Some(Guardian { mut process, pipe }) = guardian {
                    drop(pipe);
                    let _ = process.wait();
                }
            });
    }
}

fn stop_blocking(postmaster: Option<Child>, guardian: Option<Guardian>) -> Result<(), Error> {
    if let Some(mut child) = postmaster {
        if let Some(pid) = pid_of(&child) {
            postmaster::shut_down(pid, || !matches!(child.try_wait(), Ok(None)))?;
        }
        let _ = child.wait();
    }
    // The postmaster has removed its pid file, so the guardian now exits without signalling.
    if let Some(Guardian { mut process, pipe }) = guardian {
        drop(pipe);
        let _ = process.wait();
    }
    Ok(())
}

fn pid_of(child: &Child) -> Option<Pid> {
    i32::try_from(child.id()).ok().map(Pid::from_raw)
}

pub(crate) fn cluster_error(context: impl Into<String>, detail: impl Into<String>) -> Error {
    Error::EmbeddedCluster {
        context: context.into(),
        detail: detail.into(),
    }
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Everything but unreserved characters, so `/` becomes `%2F` as libpq documents for `host`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut encoded = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
