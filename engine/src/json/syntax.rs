//! The lexical forms of FHIR primitives (datatypes.html): which strings are dates, instants,
//! times and base64, and which characters no FHIR string may hold. The structure check asks
//! these of every primitive; search and history ask some of their parameters.

/// The first control character `text` holds that no FHIR string may (datatypes.html#string:
/// none "below 32, except for u0009 (horizontal tab), u0010 (carriage return) and u0013
/// (line feed)"); search refuses them in values too.
pub(crate) fn forbidden_control_character(text: &str) -> Option<u8> {
    text.bytes()
        .find(|&byte| byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r'))
}

/// A FHIR date or dateTime at any of its precisions, on a day the calendar has, in a year
/// from 0001 on.
pub(super) fn valid_date_time(text: &str) -> bool {
    crate::index::DateRange::parse(text).is_some()
}

/// Whether `text` is a FHIR `instant` that names a moment (datatypes.html#instant): a date,
/// a time of day and a zone, on a day the calendar has. Stored instants are checked so, and
/// so is `_since` in history.
pub fn is_valid_instant(text: &str) -> bool {
    text.len() > 10 && valid_date_time(text) && zoned_when_timed(text)
}

/// Whether a `dateTime` or `instant` with a time of day has its seconds and its zone
/// (datatypes.html#dateTime: "If hours and minutes are specified, a time zone SHALL be
/// populated"): `Z`, or an offset from -14:00 to +14:00, after an upper-case `T`.
pub(super) fn zoned_when_timed(text: &str) -> bool {
    let Some((_, time)) = text.split_once('T') else {
        return text.len() <= 10;
    };
    // The regex of dateTime and instant requires the seconds: `10:00Z` is not a time.
    if time.len() < 9 || time.as_bytes()[5] != b':' {
        return false;
    }
    if time.ends_with('Z') {
        return true;
    }
    let Some(offset) = time.get(time.len().saturating_sub(6)..) else {
        return false;
    };
    let bytes = offset.as_bytes();
    let number = |at: usize| {
        bytes[at..at + 2]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| u32::from(bytes[at] - b'0') * 10 + u32::from(bytes[at + 1] - b'0'))
    };
    matches!(bytes.first(), Some(b'+' | b'-'))
        && bytes.len() == 6
        && bytes[3] == b':'
        && matches!((number(1), number(4)), (Some(hours), Some(minutes)) if minutes < 60 && hours * 60 + minutes <= 14 * 60)
}

/// Base64 as RFC 4648 writes it (whitespace between groups allowed, as XML's base64Binary
/// does): groups of four from `A-Z a-z 0-9 + /`, padded with at most two `=` at the end.
pub(super) fn valid_base64(text: &str) -> bool {
    // One pass, no copy: an attachment's data can be megabytes.
    let (mut symbols, mut padding) = (0usize, 0usize);
    for byte in text.bytes().filter(|byte| !byte.is_ascii_whitespace()) {
        match byte {
            b'=' => padding += 1,
            // A symbol after padding: the `=` was not at the end.
            _ if padding > 0 => return false,
            _ if byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/' => {}
            _ => return false,
        }
        symbols += 1;
    }
    symbols.is_multiple_of(4) && padding <= 2
}

/// A FHIR `time`: `hh:mm:ss` with an optional fraction, hours below 24.
pub(super) fn valid_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let two = |at: usize, below: u8| {
        bytes.get(at..at + 2).is_some_and(|pair| {
            pair.iter().all(u8::is_ascii_digit) && (pair[0] - b'0') * 10 + (pair[1] - b'0') < below
        })
    };
    let fraction = match bytes.get(8..) {
        Some([]) => true,
        Some([b'.', digits @ ..]) => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    bytes.len() >= 8
        && two(0, 24)
        && bytes[2] == b':'
        && two(3, 60)
        && bytes[5] == b':'
        && two(6, 61)
        && fraction
}
