//! Validated identifiers: the FHIR logical id, version ids and resource type names.
//! Spec: https://hl7.org/fhir/R4/datatypes.html#id

use std::fmt;

use crate::{definitions, Error};

/// A FHIR logical id: 1 to 64 characters from `[A-Za-z0-9\-\.]`.
///
/// Built only through [`Id::parse`] or [`Id::generate`], so every `Id` in Ember is valid and
/// needs no escaping in JSON, URLs or SQL text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// Checks `text` against the FHIR id syntax.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `text` is empty, longer than 64 characters, or holds a character
    /// outside `A-Z a-z 0-9 - .`.
    ///
    /// ```
    /// assert!(engine::Id::parse("example-1.2").is_ok());
    /// assert!(engine::Id::parse("has space").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Id, Error> {
        let valid_chars = text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.');
        if text.is_empty() || text.len() > 64 || !valid_chars {
            return Err(Error::Invalid(format!(
                "'{}' is not a valid FHIR id: 1 to 64 characters from A-Z, a-z, 0-9, '-' and '.'",
                truncate_for_message(text)
            )));
        }
        Ok(Id(text.to_owned()))
    }

    /// A new server-assigned id: a version 7 UUID (RFC 9562), 36 characters.
    ///
    /// Version 7 starts with the time in milliseconds, so ids made later sort after earlier
    /// ones (within one process, also inside one millisecond). Every index keyed by id then
    /// grows at its right edge instead of at random pages: creates of a small Patient on a
    /// database already holding 300,000 went from 1,658/s to 2,713/s, with 8 KB of WAL per
    /// create instead of 27 KB (docs/benchmarks.md, "Time-ordered ids"). The id reveals its
    /// creation time to the millisecond, which `meta.lastUpdated` already does; 74 random
    /// bits still make ids unguessable.
    pub fn generate() -> Id {
        Id(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A resource version: 1 for the first version, then one more per update or delete.
///
/// Ember's versions are integers so that `If-Match` comparisons are exact; on the wire they
/// are strings (`meta.versionId`, `W/"3"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionId(i64);

impl VersionId {
    pub const FIRST: VersionId = VersionId(1);

    /// Parses a version id as it appears in a URL (`_history/3`) or in `meta.versionId`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for anything but a positive decimal integer written as this server
    /// writes it: `013` is not version 13, since entity tags match "character-by-character"
    /// (RFC 7232, section 2.3.2), so no sign and no leading zero.
    pub fn parse(text: &str) -> Result<VersionId, Error> {
        let canonical = text.bytes().all(|byte| byte.is_ascii_digit()) && !text.starts_with('0');
        match text.parse::<i64>() {
            Ok(number) if number >= 1 && canonical => Ok(VersionId(number)),
            _ => Err(Error::Invalid(format!(
                "'{}' is not a version id of this server (a positive integer)",
                truncate_for_message(text)
            ))),
        }
    }

    /// Parses an ETag as sent in `If-Match` / `If-None-Match`: `W/"3"`, `"3"` or `3`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the tag does not hold a version id.
    pub fn parse_etag(etag: &str) -> Result<VersionId, Error> {
        let trimmed = etag.trim();
        let unweakened = trimmed.strip_prefix("W/").unwrap_or(trimmed);
        let unquoted = unweakened
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or(unweakened);
        VersionId::parse(unquoted)
    }

    /// Restores a version read back from the database, where it is always positive.
    pub fn from_stored(number: i64) -> VersionId {
        VersionId(number)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn next(self) -> VersionId {
        VersionId(self.0 + 1)
    }

    /// The weak ETag FHIR uses for this version: `W/"3"`.
    pub fn etag(self) -> String {
        format!("W/\"{}\"", self.0)
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// The name of a concrete R4 resource type, such as `Patient`.
///
/// Holds a `&'static str` from the vendored definitions, so it is `Copy` and comparing two is
/// a string compare, and an unknown type cannot be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceType(&'static str);

impl ResourceType {
    /// Looks `name` up among the R4 resource types (case-sensitive, as FHIR is).
    ///
    /// ```
    /// assert!(engine::ResourceType::parse("Patient").is_some());
    /// assert!(engine::ResourceType::parse("patient").is_none());
    /// ```
    pub fn parse(name: &str) -> Option<ResourceType> {
        definitions::resource_types()
            .binary_search(&name)
            .ok()
            .map(|index| ResourceType(definitions::resource_types()[index]))
    }

    /// Every R4 resource type, sorted by name.
    pub fn all() -> impl Iterator<Item = ResourceType> {
        definitions::resource_types()
            .iter()
            .map(|name| ResourceType(name))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}

/// Keeps error messages short when a client sends a huge bogus value.
pub(crate) fn truncate_for_message(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let prefix: String = text.chars().take(MAX_CHARS).collect();
        format!("{prefix}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_accepts_the_full_fhir_alphabet_up_to_64_chars() {
        assert!(Id::parse("Az09-.").is_ok());
        assert!(Id::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn id_rejects_empty_long_and_foreign_characters() {
        for bad in ["", &"a".repeat(65), "a/b", "a_b", "ü", "a b", "a%20"] {
            assert!(Id::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let first = Id::generate();
        assert!(Id::parse(first.as_str()).is_ok());
        assert_ne!(first, Id::generate());
    }

    #[test]
    fn generated_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<Id> = (0..10_000).map(|_| Id::generate()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn etags_parse_weak_strong_and_bare() {
        for tag in ["W/\"3\"", "\"3\"", "3", " W/\"3\" "] {
            assert_eq!(VersionId::parse_etag(tag).unwrap().get(), 3, "{tag}");
        }
        assert!(VersionId::parse_etag("W/\"abc\"").is_err());
        assert!(VersionId::parse_etag("W/\"0\"").is_err());
        assert_eq!(VersionId::FIRST.next().etag(), "W/\"2\"");
    }

    #[test]
    fn resource_type_is_case_sensitive_and_knows_r4_types() {
        assert_eq!(
            ResourceType::parse("Observation").unwrap().as_str(),
            "Observation"
        );
        assert!(ResourceType::parse("observation").is_none());
        assert!(ResourceType::parse("DomainResource").is_none());
        assert!(ResourceType::all().count() > 140);
    }
}
