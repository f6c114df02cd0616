//! Creating the cluster with initdb and starting the postmaster as a child process, both
//! writing to `<data_dir>/postgres.log`.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::unistd::Pid;

use super::binaries::Binaries;
use super::layout::{Layout, PORT};
use super::os_user::OsUser;
use super::postmaster::{read_pid_file, wait_until};
use super::{cluster_error, Purpose, SUPERUSER};
use crate::Error;

/// How long a started postmaster may take to accept connections (crash recovery after an
/// unclean stop is the slow case).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the server log an error message quotes.
const LOG_TAIL_LINES: usize = 20;
const LOG_TAIL_BYTES: u64 = 8 * 1024;

/// Runs initdb into the scratch directory and renames it into place.
pub(crate) fn initdb(
    binaries: &Binaries,
    layout: &Layout,
    user: Option<&OsUser>,
    purpose: Purpose,
) -> Result<(), Error> {
    let scratch = &layout.initdb_dir;
    match std::fs::remove_dir_all(scratch) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => {
            return Err(Error::io(format!(
                "removing the unfinished {}",
                scratch.display()
            ))(error))
        }
    }
    DirBuilder::new()
        .mode(0o700)
        .create(scratch)
        .map_err(Error::io(format!("creating {}", scratch.display())))?;
    if let Some(user) = user {
        user.give(scratch)?;
    }

    let log_start = log_len(layout);
    let mut command = Command::new(binaries.initdb());
    command
        .arg("--pgdata")
        .arg(scratch)
        .arg(format!("--username={SUPERUSER}"))
        // Only Ember can reach the socket (a 0700 directory), so the socket is the password.
        .arg("--auth=trust")
        .arg("--encoding=UTF8")
        // The C locale sorts by code point, the same on every machine, and never breaks
        // indexes when the OS's collation library changes.
        .arg("--locale=C");
    if purpose == Purpose::Test {
        // Skipping the fsyncs saves a second per test process; a test cluster cannot outlive a crash anyway.
        command.arg("--no-sync");
    }
    prepare(&mut command, layout, user)?;
    let status = command.status().map_err(Error::io(format!(
        "running {}",
        binaries.initdb().display()
    )))?;
    if !status.success() {
        return Err(cluster_error(
            format!("initdb failed ({status})"),
            log_tail(layout, log_start),
        ));
    }
    std::fs::rename(scratch, &layout.cluster_dir).map_err(Error::io(format!(
        "moving the new cluster to {}",
        layout.cluster_dir.display()
    )))
}

/// Starts `postgres` listening only on the private Unix socket. Returns at once; see
/// [`wait_until_ready`].
pub(crate) fn spawn_postmaster(
    binaries: &Binaries,
    layout: &Layout,
    user: Option<&OsUser>,
    purpose: Purpose,
) -> Result<Child, Error> {
    // Search index tables start empty and grow fast; until their first ANALYZE the planner
    // has no statistics for them (see storage/src/write_statement.rs). The default minute
    // between autovacuum rounds is a minute of bad plans.
    let mut settings: Vec<(&str, String)> = vec![
        ("listen_addresses", String::new()),
        ("autovacuum_naptime", "10s".to_owned()),
    ];
    if purpose == Purpose::Test {
        // Durability buys nothing in a cluster deleted when the tests end; parallel tests
        // each hold a pool of connections.
        settings.extend([
            ("fsync", "off".to_owned()),
            ("synchronous_commit", "off".to_owned()),
            ("full_page_writes", "off".to_owned()),
            ("max_connections", "300".to_owned()),
        ]);
    } else {
        settings.extend(super::tuning::serving_settings(
            super::tuning::available_memory(),
        ));
    }
    let names: Vec<&str> = settings.iter().map(|(name, _)| *name).collect();
    super::config_file::leave_to_command_line(&layout.cluster_dir, &names, user)?;

    let mut command = Command::new(binaries.postgres());
    command
        .arg("-D")
        .arg(&layout.cluster_dir)
        .arg("-k")
        .arg(&layout.socket_dir)
        .arg("-p")
        .arg(PORT.to_string());
    for (name, value) in settings {
        command.arg("-c").arg(format!("{name}={value}"));
    }
    prepare(&mut command, layout, user)?;
    command.spawn().map_err(Error::io(format!(
        "starting {}",
        binaries.postgres().display()
    )))
}

/// Waits until `postmaster.pid` of this very child says `ready`, which is what `pg_ctl`
/// waits for too. Polls at [`super::postmaster::POLL_INTERVAL`] so that a restart on an
/// existing cluster, which takes a few tens of milliseconds, is not padded out.
pub(crate) fn wait_until_ready(
    child: &mut Child,
    layout: &Layout,
    log_start: u64,
) -> Result<(), Error> {
    let own_pid = i32::try_from(child.id()).ok().map(Pid::from_raw);
    let mut exited = None;
    let ready = wait_until(READY_TIMEOUT, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        // A postmaster that was killed leaves its pid file behind, still saying `ready`.
        read_pid_file(&layout.cluster_dir).is_some_and(|file| {
            file.pid.is_some() && file.pid == own_pid && file.status.as_deref() == Some("ready")
        })
    });
    if let Some(status) = exited {
        return Err(cluster_error(
            format!("PostgreSQL exited during startup ({status})"),
            log_tail(layout, log_start),
        ));
    }
    if !ready {
        return Err(cluster_error(
            format!(
                "PostgreSQL did not accept connections within {} s",
                READY_TIMEOUT.as_secs()
            ),
            log_tail(layout, log_start),
        ));
    }
    Ok(())
}

/// Where this run's output begins in the (appended-to) server log.
pub(crate) fn log_len(layout: &Layout) -> u64 {
    std::fs::metadata(&layout.log_file).map_or(0, |meta| meta.len())
}

/// The last lines written to the server log since `from`, for error messages.
pub(crate) fn log_tail(layout: &Layout, from: u64) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(&layout.log_file)?;
        let len = file.metadata()?.len();
        let start = from.max(len.saturating_sub(LOG_TAIL_BYTES));
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .collect();
            if lines.is_empty() {
                return format!("nothing in {}", layout.log_file.display());
            }
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            format!(
                "last lines of {}:\n{}",
                layout.log_file.display(),
                tail.join("\n")
            )
        }
        Err(error) => format!("could not read {}: {error}", layout.log_file.display()),
    }
}

/// What initdb and postgres have in common: the log as stdout and stderr, their own process
/// group, no PG* variables from Ember's environment, and the unprivileged user.
fn prepare(command: &mut Command, layout: &Layout, user: Option<&OsUser>) -> Result<(), Error> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&layout.log_file)
        .map_err(Error::io(format!("opening {}", layout.log_file.display())))?;
    let log_too = log
        .try_clone()
        .map_err(Error::io(format!("opening {}", layout.log_file.display())))?;
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_too)
        // Otherwise Ctrl-C in Ember's terminal reaches PostgreSQL directly and shuts it down
        // while Ember is still draining requests.
        .process_group(0)
        // Not Ember's working directory: the unprivileged user may not be allowed in there.
        .current_dir(&layout.data_dir);
    // PGDATA, PGPORT, PGOPTIONS… would override or add to what is passed explicitly.
    for (name, _) in std::env::vars_os() {
        if name.as_encoded_bytes().starts_with(b"PG") {
            command.env_remove(name);
        }
    }
    if let Some(user) = user {
        user.run_as(command);
    }
    Ok(())
}
