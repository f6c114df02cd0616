//! The guardian: a tiny shell process that stops PostgreSQL when Ember dies, however it dies.
//!
//! Its stdin is a pipe whose only write end Ember holds (std opens pipes close-on-exec, so no
//! other child inherits it). When Ember exits, crashes or is SIGKILLed, the kernel closes
//! the pipe, `cat` sees end of file, and the script asks the postmaster for a fast shutdown.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use super::cluster_error;
use super::os_user::OsUser;
use crate::Error;

/// `$1` postmaster pid, `$2` cluster directory, `$3` directory to delete afterwards (may be
/// empty).
///
/// It signals only if `postmaster.pid` still names `$1`: after a normal stop the file is
/// gone, and the pid may by then belong to an unrelated process. The deletion waits (at most
/// 30 s) for the postmaster to remove its pid file, which it does as its very last act.
const SCRIPT: &str = r#"cat >/dev/null
pid=
{ read -r pid < "$2/postmaster.pid"; } 2>/dev/null
[ "$pid" = "$1" ] && kill -INT "$1" 2>/dev/null
if [ -n "$3" ]; then
  i=0
  while [ -e "$2/postmaster.pid" ] && [ "$i" -lt 300 ]; do
    sleep 0.1 2>/dev/null || sleep 1
    i=$((i + 1))
  done
  rm -rf "$3"
fi
"#;

/// The guardian process and the write end of its pipe; dropping the pipe fires it.
#[derive(Debug)]
pub(crate) struct Guardian {
    pub(crate) process: Child,
    pub(crate) pipe: ChildStdin,
}

/// Runs as the same user as the postmaster, which is what allows it to signal it.
pub(crate) fn spawn(
    postmaster: u32,
    cluster_dir: &Path,
    remove_afterwards: Option<&Path>,
    user: Option<&OsUser>,
) -> Result<Guardian, Error> {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg("ember-guardian")
        .arg(postmaster.to_string())
        .arg(cluster_dir)
        .arg(remove_afterwards.map_or_else(Default::default, Path::as_os_str))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of Ember's process group, so Ctrl-C or a group kill aimed at Ember spares it.
        .process_group(0)
        .current_dir("/");
    if let Some(user) = user {
        user.run_as(&mut command);
    }
    let mut process = command
        .spawn()
        .map_err(Error::io("starting the guardian process (/bin/sh)"))?;
    match process.stdin.take() {
        Some(pipe) => Ok(Guardian { process, pipe }),
        None => {
            let _ = process.kill();
            let _ = process.wait();
            Err(cluster_error(
                "starting the guardian process",
                "no pipe to its stdin",
            ))
        }
    }
}
