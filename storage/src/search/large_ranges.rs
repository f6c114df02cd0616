//! Lone string criteria whose prefix range was found too large to read whole, remembered for
//! a while so that their next pages go straight to the runs of their values (`runs.rs`).
//!
//! A lone string criterion first tries the statement that reads its range whole when it has
//! fewer than `runs::SMALL_RANGE` rows: at 10,000 resources a family name has about 7 and that
//! statement is the cheapest page there is. At a million a common family name has hundreds,
//! so that statement only counts to its limit and answers nothing, and the runs statement
//! after it draws the page: a statement, a round trip and a count spent on every search for
//! nothing (docs/benchmarks.md, "Large string ranges remembered"). Remembering which ranges
//! were large saves them.
//!
//! What is remembered only chooses between two statements that give the same page; a range
//! that has since shrunk is paged from its runs, correctly, until its entry expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a range stays known as large: long enough to matter under load, short enough
/// that a range emptied by deletes soon gets the cheaper statement back.
const REMEMBERED_FOR: Duration = Duration::from_secs(60);

/// At most this many ranges are remembered; past it, the expired ones are dropped, and if
/// none were, all of them (a burst of distinct prefixes then costs the small-range
/// statement again, which is where it started).
const MAX_REMEMBERED: usize = 4096;

/// The ranges of one database known to be too large to read whole, by `runs::RunsDraw::key`.
#[derive(Default)]
pub(crate) struct LargeRanges {
    found_at: Mutex<HashMap<String, Instant>>,
}

impl LargeRanges {
    /// Whether the range `key` was found large less than [`REMEMBERED_FOR`] ago.
    pub(crate) fn is_large(&self, key: &str) -> bool {
        let mut found_at = self
            .found_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match found_at.get(key) {
            Some(when) if when.elapsed() < REMEMBERED_FOR => true,
            Some(_) => {
                found_at.remove(key);
                false
            }
            None => false,
        }
    }

    /// Remembers that the range `key` was too large to read whole.
    pub(crate) fn remember(&self, key: &str) {
        let mut found_at = self
            .found_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if found_at.len() >= MAX_REMEMBERED && !found_at.contains_key(key) {
            found_at.retain(|_, when| when.elapsed() < REMEMBERED_FOR);
            if found_at.len() >= MAX_REMEMBERED {
                found_at.clear();
            }
        }
        found_at.insert(key.to_owned(), Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_large_once_remembered_and_only_that_range() {
        let ranges = LargeRanges::default();
        assert!(!ranges.is_large("smith"));
        ranges.remember("smith");
        assert!(ranges.is_large("smith"));
        assert!(!ranges.is_large("smyth"));
    }

    #[test]
    fn an_expired_range_is_forgotten() {
        let ranges = LargeRanges::default();
        ranges.remember("smith");
        let long_ago = Instant::now()
            .checked_sub(REMEMBERED_FOR + Duration::from_secs(1))
            .expect("the clock is past a minute");
        ranges
            .found_at
            .lock()
            .unwrap()
            .insert("smith".to_owned(), long_ago);
        assert!(!ranges.is_large("smith"));
        assert!(ranges.found_at.lock().unwrap().is_empty());
    }

    #[test]
    fn past_the_limit_the_newest_range_is_still_remembered() {
        let ranges = LargeRanges::default();
        for prefix in 0..MAX_REMEMBERED {
            ranges.remember(&prefix.to_string());
        }
        ranges.remember("smith");
        assert!(ranges.is_large("smith"));
        assert!(ranges.found_at.lock().unwrap().len() <= MAX_REMEMBERED);
    }
}
