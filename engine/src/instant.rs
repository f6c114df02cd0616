//! FHIR `instant` values as Ember stores them: UTC, microsecond precision.
//! Spec: https://hl7.org/fhir/R4/datatypes.html#instant

use std::fmt;

use time::{format_description::FormatItem, macros::format_description, OffsetDateTime, UtcOffset};

/// A point in time in UTC, truncated to microseconds because that is what PostgreSQL's
/// `timestamptz` keeps: the `meta.lastUpdated` in the stored JSON and the database column
/// must be equal, or `_since` and `If-Modified-Since` would disagree with what clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(OffsetDateTime);

const FHIR_INSTANT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

impl Instant {
    /// Wraps a clock reading; the caller reads the clock, since engine does no IO.
    pub fn from_datetime(datetime: OffsetDateTime) -> Instant {
        let utc = datetime.to_offset(UtcOffset::UTC);
        let micros = utc.microsecond();
        Instant(utc.replace_nanosecond(micros * 1_000).unwrap_or(utc))
    }

    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }

    /// Seconds since the Unix epoch; HTTP dates (`Last-Modified`) have whole-second precision.
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(FHIR_INSTANT) {
            Ok(text) => formatter.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn instant_is_utc_with_six_fraction_digits() {
        let instant = Instant::from_datetime(datetime!(2026-11-23 15:04:05.123456789 +02:00));
        assert_eq!(instant.to_string(), "2026-11-23T13:04:05.123456Z");
    }
}
