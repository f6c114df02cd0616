//! PostgreSQL settings for the embedded cluster that serves, sized from the memory this
//! process may use. PostgreSQL's defaults (128 MB of shared buffers, a checkpoint per GB of
//! WAL) are made for a machine shared with other work; an embedded Ember owns its machine or
//! container, and with the defaults a bulk load spends its time writing buffers out from the
//! backends and in checkpoints (measured in docs/benchmarks.md, "Transaction Bundle ingest").

/// Shared buffers are a quarter of memory, as PostgreSQL's documentation suggests for a
/// dedicated server, within these bounds.
const MIN_SHARED_BUFFERS: u64 = 128 << 20;
const MAX_SHARED_BUFFERS: u64 = 8 << 30;

/// `-c name=value` pairs for a serving cluster with `memory` bytes available.
pub(crate) fn serving_settings(memory: u64) -> Vec<(&'static str, String)> {
    let shared_buffers = (memory / 4).clamp(MIN_SHARED_BUFFERS, MAX_SHARED_BUFFERS);
    vec![
        ("shared_buffers", format!("{}MB", shared_buffers >> 20)),
        // Only the planner reads it: how much of the database the OS page cache likely holds.
        (
            "effective_cache_size",
            format!("{}MB", (memory / 2).max(shared_buffers) >> 20),
        ),
        // Fewer checkpoints under bulk load, so fewer full-page images in the WAL; a crash
        // replays more WAL (up to this much) on the next start.
        ("max_wal_size", "4GB".to_owned()),
        ("checkpoint_timeout", "15min".to_owned()),
    ]
}

/// The memory this process may use: the machine's, or the container's limit when it is
/// lower (cgroup v2, then v1), so a pod with a memory limit is not sized for its node.
pub(crate) fn available_memory() -> u64 {
    let machine = machine_memory().unwrap_or(MIN_SHARED_BUFFERS * 4);
    let limits = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ];
    limits
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| text.trim().parse::<u64>().ok())
        .fold(machine, u64::min)
}

fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(settings: &[(&str, String)], name: &str) -> String {
        settings
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .unwrap()
    }

    #[test]
    fn shared_buffers_are_a_quarter_of_memory_within_bounds() {
        assert_eq!(
            setting(&serving_settings(24 << 30), "shared_buffers"),
            "6144MB"
        );
        assert_eq!(
            setting(&serving_settings(256 << 20), "shared_buffers"),
            "128MB"
        );
        assert_eq!(
            setting(&serving_settings(256 << 30), "shared_buffers"),
            "8192MB"
        );
    }

    #[test]
    fn available_memory_is_positive() {
        assert!(available_memory() > 0);
    }
}
