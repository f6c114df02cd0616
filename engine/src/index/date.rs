//! FHIR dates as the ranges search compares: a value stands for every instant its precision
//! leaves open, so `2020` is all of 2020 and `2020-03-04T10:00:00Z` is one second.
//! Spec: https://hl7.org/fhir/R4/search.html#date

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// An inclusive range of instants in microseconds since the Unix epoch (UTC).
///
/// Open ends are `i64::MIN` and `i64::MAX`, so a Period without an end is "from start on"
/// and every comparison stays a plain integer comparison in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub low: i64,
    pub high: i64,
}

impl DateRange {
    pub const UNBOUNDED: DateRange = DateRange {
        low: i64::MIN,
        high: i64::MAX,
    };

    /// `high - low` of the widest range one `date`, `dateTime` or `instant` stands for: a
    /// bare year, at most 366 days. Lets search bound `low` from a bound on `high` and back.
    pub const WIDEST_POINT: i64 = 366 * 24 * 60 * 60 * 1_000_000;

    /// Parses a FHIR `date`, `dateTime` or `instant` (and the `hh:mm` form search values may
    /// use) into the range its precision covers. A time without a zone is taken as UTC: the
    /// spec leaves it to the server, and UTC is the one every replica agrees on. Years run
    /// from 0001 (datatypes.html#date): `0000` is no date.
    ///
    /// ```
    /// use engine::index::DateRange;
    /// let year = DateRange::parse("2020").unwrap();
    /// assert_eq!(year, DateRange::parse("2020-01-01").unwrap().through(DateRange::parse("2020-12-31").unwrap()));
    /// ```
    pub fn parse(text: &str) -> Option<DateRange> {
        let bytes = text.as_bytes();
        let year = digits(bytes, 0, 4).filter(|&year| year >= 1)?;
        if bytes.len() == 4 {
            let start = Date::from_calendar_date(year, Month::January, 1).ok()?;
            let end = Date::from_calendar_date(year + 1, Month::January, 1).ok();
            return Some(between_dates(start, end));
        }
        if bytes.get(4) != Some(&b'-') {
            return None;
        }
        let month = Month::try_from(u8::try_from(digits(bytes, 5, 2)?).ok()?).ok()?;
        if bytes.len() == 7 {
            let start = Date::from_calendar_date(year, month, 1).ok()?;
            let end = if month == Month::December {
                Date::from_calendar_date(year + 1, Month::January, 1).ok()
            } else {
                Date::from_calendar_date(year, month.next(), 1).ok()
            };
            return Some(between_dates(start, end));
        }
        if bytes.get(7) != Some(&b'-') {
            return None;
        }
        let day = u8::try_from(digits(bytes, 8, 2)?).ok()?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        if bytes.len() == 10 {
            return Some(between_dates(date, date.next_day()));
        }
        if bytes.get(10) != Some(&b'T') {
            return None;
        }
        parse_time(&bytes[11..], date)
    }

    /// The smallest range holding both: a Period from `self` to `end`.
    pub fn through(self, end: DateRange) -> DateRange {
        DateRange {
            low: self.low.min(end.low),
            high: self.high.max(end.high),
        }
    }

    /// The range of one exact instant, e.g. a resource's `meta.lastUpdated`.
    pub fn at(datetime: OffsetDateTime) -> DateRange {
        let micros = micros(datetime);
        DateRange {
            low: micros,
            high: micros,
        }
    }
}

/// The part after `T`: `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fff…`, then `Z`, `±hh:mm` or nothing.
fn parse_time(bytes: &[u8], date: Date) -> Option<DateRange> {
    let hour = u8::try_from(digits(bytes, 0, 2)?).ok()?;
    if bytes.get(2) != Some(&b':') {
        return None;
    }
    let minute = u8::try_from(digits(bytes, 3, 2)?).ok()?;
    let mut position = 5;
    let mut second = 0u8;
    let mut fraction_micros = 0u32;
    // How many microseconds the last written digit leaves open.
    let mut width_micros: i64 = 60_000_000;
    if bytes.get(position) == Some(&b':') {
        second = u8::try_from(digits(bytes, position + 1, 2)?).ok()?;
        position += 3;
        width_micros = 1_000_000;
        if bytes.get(position) == Some(&b'.') {
            position += 1;
            let start = position;
            while bytes.get(position).is_some_and(u8::is_ascii_digit) {
                position += 1;
            }
            let fraction = &bytes[start..position];
            if fraction.is_empty() {
                return None;
            }
            // Beyond microseconds PostgreSQL cannot follow; the extra digits only narrow.
            let kept = &fraction[..fraction.len().min(6)];
            let mut value = 0u32;
            for digit in kept {
                value = value * 10 + u32::from(digit - b'0');
            }
            fraction_micros = value * 10u32.pow(6 - u32::try_from(kept.len()).ok()?);
            width_micros = 10i64.pow(6 - u32::try_from(kept.len()).ok()?);
        }
    }
    let offset = match &bytes[position..] {
        [] => UtcOffset::UTC,
        [b'Z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest[2] == b':' => {
            let hours = i8::try_from(digits(rest, 0, 2)?).ok()?;
            let minutes = i8::try_from(digits(rest, 3, 2)?).ok()?;
            let (hours, minutes) = if *sign == b'-' {
                (-hours, -minutes)
            } else {
                (hours, minutes)
            };
            UtcOffset::from_hms(hours, minutes, 0).ok()?
        }
        _ => return None,
    };
    let time = Time::from_hms_micro(hour, minute, second, fraction_micros).ok()?;
    let start = PrimitiveDateTime::new(date, time).assume_offset(offset);
    let low = micros(start);
    Some(DateRange {
        low,
        high: low.checked_add(width_micros - 1)?,
    })
}

/// `[start, end)` of whole days, in UTC, as an inclusive microsecond range.
/// From the start of `start` to just before `end`; with no `end` (the last days of year
/// 9999, after which `time` has no date) to the end of time.
fn between_dates(start: Date, end: Option<Date>) -> DateRange {
    let low = micros(PrimitiveDateTime::new(start, Time::MIDNIGHT).assume_utc());
    let high = end.map_or(i64::MAX, |end| {
        micros(PrimitiveDateTime::new(end, Time::MIDNIGHT).assume_utc()) - 1
    });
    DateRange { low, high }
}

fn micros(datetime: OffsetDateTime) -> i64 {
    // i128 → i64: any year `time` accepts is well inside i64 microseconds.
    i64::try_from(datetime.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// `count` ASCII digits at `start`, as a number; `None` if any is missing or not a digit.
fn digits(bytes: &[u8], start: usize, count: usize) -> Option<i32> {
    let slice = bytes.get(start..start + count)?;
    let mut value = 0i32;
    for byte in slice {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i32::from(byte - b'0');
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> DateRange {
        DateRange::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn a_year_covers_every_microsecond_of_that_year() {
        let year = range("2020");
        assert_eq!(year.low, range("2020-01-01T00:00:00Z").low);
        assert_eq!(year.high, range("2020-12-31T23:59:59.999999Z").high);
    }

    #[test]
    fn a_month_ends_on_its_last_day_including_leap_days() {
        assert_eq!(
            range("2024-02").high,
            range("2024-02-29T23:59:59.999999Z").high
        );
        assert_eq!(range("2023-12").high, range("2023-12-31").high);
    }

    #[test]
    fn a_datetime_in_seconds_covers_one_second() {
        let second = range("2020-03-04T10:11:12Z");
        assert_eq!(second.high - second.low, 999_999);
    }

    #[test]
    fn fractional_seconds_narrow_the_range_to_their_precision() {
        let tenth = range("2020-03-04T10:11:12.3Z");
        assert_eq!(tenth.high - tenth.low, 99_999);
        assert_eq!(
            range("2020-03-04T10:11:12.3456789Z").low,
            range("2020-03-04T10:11:12.345678Z").low
        );
    }

    #[test]
    fn time_zone_offsets_are_converted_to_utc() {
        assert_eq!(
            range("2020-03-04T12:00:00+02:00"),
            range("2020-03-04T10:00:00Z")
        );
        assert_eq!(
            range("2020-03-04T05:30:00-04:30"),
            range("2020-03-04T10:00:00Z")
        );
    }

    #[test]
    fn minutes_without_seconds_cover_one_minute() {
        let minute = range("2020-03-04T10:11Z");
        assert_eq!(minute.high - minute.low, 59_999_999);
    }

    #[test]
    fn malformed_dates_are_rejected() {
        for text in [
            "",
            "20",
            "2020-13",
            "2020-02-30",
            "2020/01/01",
            "2020-01-01T25:00:00Z",
            "2020-01-01T10:00:00+2",
            "2020-01-01T10:00:00.Z",
            "2020-01-01 10:00",
            "abcd",
        ] {
            assert_eq!(DateRange::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_last_year_time_knows_runs_to_the_end_of_time() {
        for text in ["9999", "9999-12", "9999-12-31"] {
            let range = DateRange::parse(text).unwrap();
            assert_eq!(range.high, i64::MAX, "{text}");
            assert!(range.low < range.high, "{text}");
        }
    }
}
