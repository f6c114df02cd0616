//! Search index rows of a write batch, in the column-array form the batch statement unnests.
//!
//! Each row carries a hash of its parameter and value, so an update can keep the rows that
//! did not change (see `migrations/0002_search_index.sql`).

use engine::index::{Amount, IndexEntry, IndexValue};

use crate::token_signature::{self, Signature};

/// Columns every index table has after the resource key.
#[derive(Default)]
pub(crate) struct Common {
    pub(crate) ids: Vec<String>,
    pub(crate) params: Vec<String>,
    pub(crate) components: Vec<Option<i16>>,
    pub(crate) elements: Vec<Option<i16>>,
    pub(crate) hashes: Vec<i64>,
}

impl Common {
    fn push(&mut self, id: &str, param: String, entry: &IndexEntry, hash: i64) {
        self.ids.push(id.to_owned());
        self.params.push(param);
        let part = entry.composite;
        self.components
            .push(part.map(|part| i16::try_from(part.component).unwrap_or(i16::MAX)));
        self.elements
            .push(part.map(|part| i16::try_from(part.element).unwrap_or(i16::MAX)));
        self.hashes.push(hash);
    }
}

#[derive(Default)]
pub(crate) struct StringRows {
    pub(crate) common: Common,
    pub(crate) folded: Vec<String>,
    pub(crate) exact: Vec<String>,
}

#[derive(Default)]
pub(crate) struct TokenRows {
    pub(crate) common: Common,
    pub(crate) systems: Vec<Option<String>>,
    pub(crate) codes: Vec<Option<String>>,
    pub(crate) displays: Vec<Option<String>>,
}

#[derive(Default)]
pub(crate) struct DateRows {
    pub(crate) common: Common,
    pub(crate) lows: Vec<i64>,
    pub(crate) highs: Vec<i64>,
}

/// Number and quantity amounts: the decimal text and its exponent, or explicit Range bounds.
#[derive(Default)]
pub(crate) struct AmountColumns {
    pub(crate) values: Vec<Option<String>>,
    pub(crate) exponents: Vec<Option<i32>>,
    pub(crate) range_lows: Vec<Option<String>>,
    pub(crate) range_highs: Vec<Option<String>>,
}

impl AmountColumns {
    fn push(&mut self, amount: &Amount) {
        match amount {
            Amount::Decimal(decimal) => {
                self.values.push(Some(decimal.text.clone()));
                self.exponents.push(Some(decimal.exponent));
                self.range_lows.push(None);
                self.range_highs.push(None);
            }
            Amount::Range { low, high } => {
                self.values.push(None);
                self.exponents.push(None);
                self.range_lows
                    .push(low.as_ref().map(|low| low.text.clone()));
                self.range_highs
                    .push(high.as_ref().map(|high| high.text.clone()));
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct NumberRows {
    pub(crate) common: Common,
    pub(crate) amounts: AmountColumns,
}

#[derive(Default)]
pub(crate) struct QuantityRows {
    pub(crate) common: Common,
    pub(crate) amounts: AmountColumns,
    pub(crate) systems: Vec<Option<String>>,
    pub(crate) codes: Vec<Option<String>>,
    pub(crate) units: Vec<Option<String>>,
}

#[derive(Default)]
pub(crate) struct ReferenceRows {
    pub(crate) common: Common,
    pub(crate) target_types: Vec<Option<String>>,
    pub(crate) target_ids: Vec<Option<String>>,
    pub(crate) urls: Vec<Option<String>>,
    pub(crate) versions: Vec<Option<String>>,
    /// The two words of the referring resource's token signature (`token_signature.rs`), the
    /// same on each of its reference rows.
    pub(crate) token_signatures_low: Vec<i64>,
    pub(crate) token_signatures_high: Vec<i64>,
}

#[derive(Default)]
pub(crate) struct UriRows {
    pub(crate) common: Common,
    pub(crate) values: Vec<String>,
}

#[derive(Default)]
pub(crate) struct TextRows {
    pub(crate) common: Common,
    pub(crate) texts: Vec<String>,
}

/// The index rows of a batch, one set of column arrays per table.
#[derive(Default)]
pub(crate) struct IndexRows {
    /// Resources whose existing rows are compared with the new ones (updates and deletes).
    pub(crate) replaced_ids: Vec<String>,
    pub(crate) strings: StringRows,
    pub(crate) tokens: TokenRows,
    pub(crate) dates: DateRows,
    pub(crate) numbers: NumberRows,
    pub(crate) quantities: QuantityRows,
    pub(crate) references: ReferenceRows,
    pub(crate) uris: UriRows,
    pub(crate) texts: TextRows,
}

impl IndexRows {
    /// Adds the rows of resource `id`, skipping duplicates (the same value selected twice).
    ///
    /// The reference rows come last: they carry the signature of the token rows pushed
    /// before them, and their hash covers it, so an update that changes only the resource's
    /// tokens still replaces its reference rows rather than keeping stale signatures.
    pub(crate) fn push_resource(&mut self, id: &str, entries: &[IndexEntry]) {
        let is_reference =
            |entry: &&IndexEntry| matches!(entry.value, IndexValue::Reference { .. });
        let mut seen = Vec::with_capacity(entries.len());
        let first_token = self.tokens.codes.len();
        for entry in entries.iter().filter(|entry| !is_reference(entry)) {
            self.push_once(id, entry, entry_hash(id, entry, None), &mut seen);
        }
        if !entries.iter().any(|entry| is_reference(&entry)) {
            // Only reference rows carry the signature: no need to hash the tokens.
            return;
        }
        let tokens = &self.tokens;
        let signature = token_signature::of_rows(
            tokens.common.params[first_token..]
                .iter()
                .zip(&tokens.codes[first_token..])
                .map(|(param, code)| (param.as_str(), code.as_deref())),
        );
        for entry in entries.iter().filter(is_reference) {
            let hash = entry_hash(id, entry, Some(signature));
            if self.push_once(id, entry, hash, &mut seen) {
                self.references.token_signatures_low.push(signature.low);
                self.references.token_signatures_high.push(signature.high);
            }
        }
    }

    /// Pushes the row unless `seen` holds its hash already; whether it was pushed.
    fn push_once(&mut self, id: &str, entry: &IndexEntry, hash: i64, seen: &mut Vec<i64>) -> bool {
        if seen.contains(&hash) {
            return false;
        }
        seen.push(hash);
        self.push(id, entry, hash);
        true
    }

    fn push(&mut self, id: &str, entry: &IndexEntry, hash: i64) {
        let param = entry.param.to_owned();
        match &entry.value {
            IndexValue::String { folded, exact } => {
                self.strings.common.push(id, param, entry, hash);
                self.strings.folded.push(folded.clone());
                self.strings.exact.push(exact.clone());
            }
            IndexValue::Token { system, code, text } => {
                self.tokens.common.push(id, param, entry, hash);
                self.tokens.systems.push(system.clone());
                self.tokens.codes.push(code.clone());
                self.tokens.displays.push(text.clone());
            }
            // Stored as tokens of a derived parameter, so `:of-type` and `:identifier` are
            // ordinary token lookups on one index.
            IndexValue::IdentifierOfType {
                type_system,
                type_code,
                value,
            } => {
                self.tokens
                    .common
                    .push(id, format!("{param}:of-type"), entry, hash);
                self.tokens.systems.push(type_system.clone());
                self.tokens.codes.push(Some(format!(
                    "{}|{value}",
                    type_code.as_deref().unwrap_or_default()
                )));
                self.tokens.displays.push(None);
            }
            IndexValue::ReferenceIdentifier { system, value } => {
                self.tokens
                    .common
                    .push(id, format!("{param}:identifier"), entry, hash);
                self.tokens.systems.push(system.clone());
                self.tokens.codes.push(Some(value.clone()));
                self.tokens.displays.push(None);
            }
            IndexValue::Date(range) => {
                self.dates.common.push(id, param, entry, hash);
                self.dates.lows.push(range.low);
                self.dates.highs.push(range.high);
            }
            IndexValue::Number(amount) => {
                self.numbers.common.push(id, param, entry, hash);
                self.numbers.amounts.push(amount);
            }
            IndexValue::Quantity {
                amount,
                system,
                code,
                unit,
            } => {
                self.quantities.common.push(id, param, entry, hash);
                self.quantities.amounts.push(amount);
                self.quantities.systems.push(system.clone());
                self.quantities.codes.push(code.clone());
                self.quantities.units.push(unit.clone());
            }
            IndexValue::Reference {
                target_type,
                target_id,
                url,
                version,
            } => {
                self.references.common.push(id, param, entry, hash);
                self.references.target_types.push(target_type.clone());
                self.references.target_ids.push(target_id.clone());
                self.references.urls.push(url.clone());
                self.references.versions.push(version.clone());
            }
            IndexValue::Text(words) => {
                self.texts.common.push(id, param, entry, hash);
                self.texts.texts.push(words.clone());
            }
            IndexValue::Uri(value) => {
                self.uris.common.push(id, param, entry, hash);
                self.uris.values.push(value.clone());
            }
        }
    }
}

/// FNV-1a over the resource id, the entry's debug form and, for a reference row, the token
/// signature it carries: stable across runs and processes (unlike the std hasher's random
/// keys), which is what lets rows written by one process be matched by another. The id is
/// part of it so that a batch's new rows can be told apart by hash alone (see
/// `write_statement.rs`).
fn entry_hash(id: &str, entry: &IndexEntry, token_signature: Option<Signature>) -> i64 {
    use std::fmt::Write as _;
    let mut hasher = Fnv1a(Fnv1a::OFFSET);
    // Formatting straight into the hasher: no string per index row on the write path.
    let _ = write!(hasher, "{id}\u{0}{entry:?}");
    if let Some(Signature { low, high }) = token_signature {
        let _ = write!(hasher, "\u{0}{low}\u{0}{high}");
    }
    i64::from_ne_bytes(hasher.0.to_ne_bytes())
}

/// The FNV-1a hash of everything written into it.
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
}

impl std::fmt::Write for Fnv1a {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        for byte in text.bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Fnv1a::PRIME);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(code: &str) -> IndexEntry {
        IndexEntry {
            param: "code",
            composite: None,
            value: IndexValue::Token {
                system: None,
                code: Some(code.into()),
                text: None,
            },
        }
    }

    #[test]
    fn equal_entries_hash_equal_and_different_ones_differ() {
        assert_eq!(
            entry_hash("o1", &token("a"), None),
            entry_hash("o1", &token("a"), None)
        );
        assert_ne!(
            entry_hash("o1", &token("a"), None),
            entry_hash("o1", &token("b"), None)
        );
        assert_ne!(
            entry_hash("o1", &token("a"), None),
            entry_hash("o2", &token("a"), None)
        );
    }

    fn subject(patient: &str) -> IndexEntry {
        IndexEntry {
            param: "subject",
            composite: None,
            value: IndexValue::Reference {
                target_type: Some("Patient".into()),
                target_id: Some(patient.into()),
                url: None,
                version: None,
            },
        }
    }

    #[test]
    fn a_reference_row_carries_its_resources_token_signature() {
        let mut rows = IndexRows::default();
        rows.push_resource("o1", &[subject("p1"), token("a")]);
        rows.push_resource("o2", &[subject("p1")]);
        let coded_a = token_signature::bits("code", "a");
        assert_eq!(rows.references.token_signatures_low, [coded_a.low, 0]);
        assert_eq!(rows.references.token_signatures_high, [coded_a.high, 0]);
    }

    #[test]
    fn a_change_of_tokens_alone_changes_the_reference_rows_hash() {
        let mut coded_a = IndexRows::default();
        coded_a.push_resource("o1", &[subject("p1"), token("a")]);
        let mut coded_b = IndexRows::default();
        coded_b.push_resource("o1", &[subject("p1"), token("b")]);
        assert_ne!(
            coded_a.references.common.hashes,
            coded_b.references.common.hashes
        );
    }

    #[test]
    fn the_same_value_selected_twice_is_one_row() {
        let mut rows = IndexRows::default();
        rows.push_resource("o1", &[token("a"), token("a"), token("b")]);
        assert_eq!(
            rows.tokens.codes,
            [Some("a".to_owned()), Some("b".to_owned())]
        );
    }
}
