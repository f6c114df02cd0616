//! The postmaster as a process: reading `postmaster.pid`, telling whether a pid is still a
//! live postmaster of our cluster, and stopping one (fast shutdown, then immediate).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::{info, warn};

use super::cluster_error;
use crate::Error;

/// Fast shutdown (SIGINT) waits for the shutdown checkpoint; a large one takes a while.
const FAST_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Immediate shutdown (SIGQUIT) skips the checkpoint (the next start recovers from WAL).
const IMMEDIATE_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What `postmaster.pid` says. PostgreSQL writes it in stages, so a half-written file has
/// `pid` or `status` missing rather than being an error.
#[derive(Debug)]
pub(crate) struct PidFile {
    pub(crate) pid: Option<Pid>,
    /// Line 8: `starting`, `stopping`, `ready` or `standby` (PostgreSQL 10 and later).
    pub(crate) status: Option<String>,
}

pub(crate) fn pid_file_path(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join("postmaster.pid")
}

/// `None` when there is no `postmaster.pid` (no postmaster running, or it shut down cleanly).
pub(crate) fn read_pid_file(cluster_dir: &Path) -> Option<PidFile> {
    let text = std::fs::read_to_string(pid_file_path(cluster_dir)).ok()?;
    let mut lines = text.lines();
    let pid = lines
        .next()
        .and_then(|line| line.trim().parse::<i32>().ok())
        .filter(|&pid| pid > 0)
        .map(Pid::from_raw);
    let status = lines.nth(6).map(|line| line.trim().to_owned());
    Some(PidFile { pid, status })
}

/// Alive and not a zombie. A zombie counts as gone: it has released everything, and when
/// it is a child of this very process nobody may ever reap it.
pub(crate) fn is_running(pid: Pid) -> bool {
    match kill(pid, None) {
        Ok(()) => !is_zombie(pid),
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

fn is_zombie(pid: Pid) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The command name in parentheses may itself contain ") ", so split at the last one.
    stat.rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'))
}

/// Whether `pid` is a postmaster working on `cluster_dir`, as opposed to an unrelated
/// process that got the pid of a postmaster that died long ago (after a reboot, say).
///
/// A postmaster's working directory is its data directory. Where /proc cannot tell, the
/// pid file is trusted, as `pg_ctl` does.
fn runs_in(pid: Pid, cluster_dir: &Path) -> bool {
    if let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) {
        return std::fs::canonicalize(cluster_dir).is_ok_and(|dir| dir == cwd);
    }
    if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        return comm.trim() == "postgres";
    }
    true
}

/// Stops a postmaster that a killed Ember left running on `cluster_dir` (its guardian failed
/// too, or has not finished stopping it yet), and removes a `postmaster.pid` nobody owns.
pub(crate) fn stop_leftover(cluster_dir: &Path) -> Result<(), Error> {
    let Some(pid_file) = read_pid_file(cluster_dir) else {
        return Ok(());
    };
    match pid_file.pid {
        Some(pid) if is_running(pid) && runs_in(pid, cluster_dir) => {
            warn!(pid = pid.as_raw(), cluster = %cluster_dir.display(),
                "stopping a PostgreSQL left running by an earlier Ember");
            let started = Instant::now();
            shut_down(pid, || !is_running(pid))?;
            info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "left-over PostgreSQL stopped"
            );
            Ok(())
        }
        _ => {
            // PostgreSQL ignores a pid file naming a dead process, but refuses to start when
            // the pid has been reused by an unrelated live process.
            let path = pid_file_path(cluster_dir);
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
                Err(error) => Err(Error::io(format!("removing stale {}", path.display()))(
                    error,
                )),
            }
        }
    }
}

/// SIGINT (fast shutdown), then SIGQUIT (immediate shutdown) if it takes too long, until
/// `gone` says the postmaster has exited.
pub(crate) fn shut_down(pid: Pid, mut gone: impl FnMut() -> bool) -> Result<(), Error> {
    let steps = [
        (Signal::SIGINT, FAST_SHUTDOWN_GRACE),
        (Signal::SIGQUIT, IMMEDIATE_SHUTDOWN_GRACE),
    ];
    for (signal, grace) in steps {
        match kill(pid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(errno) => {
                return Err(cluster_error(
                    format!("stopping PostgreSQL (pid {pid})"),
                    format!("sending {signal}: {errno}; it may run as another user"),
                ))
            }
        }
        if wait_until(grace, &mut gone) {
            return Ok(());
        }
        warn!(pid = pid.as_raw(), %signal, grace_s = grace.as_secs(),
            "PostgreSQL did not stop in time");
    }
    Err(cluster_error(
        format!("stopping PostgreSQL (pid {pid})"),
        "still running after fast and immediate shutdown requests",
    ))
}

/// Polls `done` every [`POLL_INTERVAL`]; `false` if `timeout` passed first.
pub(crate) fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
