//! The token signature of a resource: a Bloom filter of its token index rows in two 64-bit
//! words, kept on each of its reference rows so that `_has` can pass over the referring
//! resources that cannot meet a token criterion without looking up their token rows.
//! Measurements: docs/benchmarks.md, "Token signatures on reference rows" and "A second word
//! for the token signature".
//!
//! `Patient?_has:Observation:subject:code=…` tests, for each candidate Patient, the
//! Observations that refer to it; without the signature each test is an index lookup of the
//! Observation's token row with that code, and most find none (a Patient has a dozen
//! Observations, one code in sixteen). The signature answers "certainly not" for almost all
//! of them from the reference row itself; only the rest are looked up.
//!
//! Each (parameter, code) pair of a token row sets three bits in each word, taken from the
//! first six bytes of the MD5 digest of `param`, U+001F and `code`: bytes 0 to 2 for the
//! first word (`token_signature`, migration 8), 3 to 5 for the second
//! (`token_signature_high`, migration 9). The first word alone let about one Observation in
//! ten through for a code it lacked, because the rows every Observation has set most of its
//! bits; a code must now find its bits in both. MD5 because PostgreSQL computes it too: the
//! migrations sign the reference rows written before them in SQL with the same formula
//! (`storage/tests/index_maintenance.rs` checks that both agree). Nothing here is security:
//! a collision only costs one lookup more.

use std::ops::BitOr;

use md5::{Digest, Md5};

/// A set of token rows, or the bits one row sets: a resource whose signature lacks any bit
/// of a row's has not that row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Signature {
    /// The `token_signature` column.
    pub(crate) low: i64,
    /// The `token_signature_high` column.
    pub(crate) high: i64,
}

impl Signature {
    /// Whether every bit of `bits` is set here.
    #[cfg(test)]
    pub(crate) fn holds(self, bits: Signature) -> bool {
        self.low & bits.low == bits.low && self.high & bits.high == bits.high
    }
}

impl BitOr for Signature {
    type Output = Signature;

    fn bitor(self, other: Signature) -> Signature {
        Signature {
            low: self.low | other.low,
            high: self.high | other.high,
        }
    }
}

/// The bits that the token row (`param`, `code`) sets in a signature.
pub(crate) fn bits(param: &str, code: &str) -> Signature {
    let digest = Md5::new()
        .chain_update(param)
        .chain_update("\u{1f}")
        .chain_update(code)
        .finalize();
    let word = |bytes: &[u8]| {
        let bits = bytes
            .iter()
            .fold(0_u64, |bits, byte| bits | 1 << (byte % 64));
        i64::from_ne_bytes(bits.to_ne_bytes())
    };
    Signature {
        low: word(&digest[..3]),
        high: word(&digest[3..6]),
    }
}

/// The signature of a resource whose token rows have these parameters and codes; rows
/// without a code (`system|` only) add nothing, as no criterion with a code can match them.
pub(crate) fn of_rows<'a>(rows: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Signature {
    rows.filter_map(|(param, code)| code.map(|code| bits(param, code)))
        .fold(Signature::default(), BitOr::bitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_the_bits_of_each_of_its_rows() {
        let signature = of_rows([("code", Some("8302-2")), ("status", Some("final"))].into_iter());
        for (param, code) in [("code", "8302-2"), ("status", "final")] {
            assert!(signature.holds(bits(param, code)));
        }
        assert!(!signature.holds(bits("code", "29463-7")));
    }

    #[test]
    fn each_row_sets_at_most_three_bits_in_each_word() {
        for code in ["8302-2", "29463-7", "final", ""] {
            let Signature { low, high } = bits("code", code);
            for word in [low, high] {
                assert!((1..=3).contains(&word.count_ones()), "{code}: {word:b}");
            }
        }
    }

    #[test]
    fn the_first_word_is_the_one_word_signature_of_schema_8() {
        // An Ember of schema 8 tests and writes `token_signature` alone; its rows and its
        // searches must keep agreeing with this one's.
        let digest = Md5::digest("code\u{1f}8302-2");
        let expected = digest[..3]
            .iter()
            .fold(0_u64, |bits, byte| bits | 1 << (byte % 64));
        assert_eq!(bits("code", "8302-2").low, expected as i64);
    }

    #[test]
    fn the_parameter_is_part_of_the_bits() {
        // The same code under another parameter is another row (`category=final` is not
        // `status=final`); these two differ, which is what keeps such rows apart.
        assert_ne!(bits("status", "final"), bits("category", "final"));
    }

    #[test]
    fn rows_without_a_code_sign_nothing() {
        assert_eq!(of_rows([("code", None)].into_iter()), Signature::default());
    }
}
