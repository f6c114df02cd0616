//! Keeping `postgresql.conf` from contradicting the settings Ember passes on the command line.
//!
//! initdb writes `shared_buffers` (and `max_connections`) into `postgresql.conf`; Ember starts
//! the postmaster with its own values as `-c` options, which win. But on every reload
//! (`SIGHUP`, `pg_reload_conf()`, `ALTER SYSTEM` then reload) PostgreSQL compares the file's
//! value of a setting that needs a restart with the one in force, and when they differ logs
//! "parameter ... cannot be changed without restarting the server" and "configuration file
//! ... contains errors": an alarm about nothing for an operator reading the log. So the
//! file's lines for every setting Ember passes are commented out before each start.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::os_user::OsUser;
use crate::Error;

/// What a commented-out line ends with, so a reader of the file knows where the value went.
const MARK: &str = "# set by Ember on the postmaster's command line";

/// Comments out the lines of `cluster_dir/postgresql.conf` that set one of `names`. The file
/// is replaced whole (written beside it, then renamed) and keeps its owner, so a crash leaves
/// either the old file or the new one. Does nothing when no line changes.
pub(crate) fn leave_to_command_line(
    cluster_dir: &Path,
    names: &[&str],
    user: Option<&OsUser>,
) -> Result<(), Error> {
    let path = cluster_dir.join("postgresql.conf");
    let text =
        std::fs::read_to_string(&path).map_err(Error::io(format!("reading {}", path.display())))?;
    let Some(edited) = commented_out(&text, names) else {
        return Ok(());
    };
    let scratch = cluster_dir.join("postgresql.conf.ember-new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&scratch)
        .map_err(Error::io(format!("creating {}", scratch.display())))?;
    file.write_all(edited.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(Error::io(format!("writing {}", scratch.display())))?;
    if let Some(user) = user {
        user.give(&scratch)?;
    }
    std::fs::rename(&scratch, &path).map_err(Error::io(format!(
        "replacing {} with {}",
        path.display(),
        scratch.display()
    )))
}

/// `text` with every active line that sets one of `names` commented out, or `None` when
/// there is none.
fn commented_out(text: &str, names: &[&str]) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(text.len() + 128);
    for line in text.split_inclusive('\n') {
        if names.iter().any(|name| sets(line, name)) {
            changed = true;
            let (content, newline) = match line.strip_suffix('\n') {
                Some(content) => (content, "\n"),
                None => (line, ""),
            };
            let _ = write!(out, "#{content}\t{MARK}{newline}");
        } else {
            out.push_str(line);
        }
    }
    changed.then_some(out)
}

/// Whether `line` is an active `name = value` (or `name value`) line of postgresql.conf.
fn sets(line: &str, name: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix(name) else {
        return false;
    };
    rest.starts_with(|character: char| character == '=' || character.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INITDB_WROTE: &str = "max_connections = 100\t\t\t# (change requires restart)\n\
        shared_buffers = 128MB\t\t\t# min 128kB\n\
        #wal_buffers = -1\t\t\t# min 32kB, -1 sets based on shared_buffers\n\
        shared_buffers_extra = 1\n\
        dynamic_shared_memory_type = posix\n";

    #[test]
    fn only_active_lines_of_the_named_settings_are_commented_out() {
        let edited = commented_out(INITDB_WROTE, &["shared_buffers", "effective_cache_size"])
            .expect("shared_buffers is set");
        let lines: Vec<&str> = edited.lines().collect();
        assert_eq!(
            lines[0],
            "max_connections = 100\t\t\t# (change requires restart)"
        );
        assert_eq!(
            lines[1],
            format!("#shared_buffers = 128MB\t\t\t# min 128kB\t{MARK}")
        );
        assert_eq!(lines[2..], INITDB_WROTE.lines().collect::<Vec<_>>()[2..]);
    }

    #[test]
    fn a_file_already_edited_is_left_alone() {
        let edited = commented_out(INITDB_WROTE, &["shared_buffers"]).unwrap();
        assert_eq!(commented_out(&edited, &["shared_buffers"]), None);
    }
}
