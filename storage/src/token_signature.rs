//! The token signature of a resource: a 64-bit Bloom filter of its token index rows, kept on
//! each of its reference rows so that `_has` can pass over the referring resources that
//! cannot meet a token criterion without looking up their token rows.
//! Measurements: docs/benchmarks.md, "Token signatures on reference rows".
//!
//! `Patient?_has:Observation:subject:code=…` tests, for each candidate Patient, the
//! Observations that refer to it; without the signature each test is an index lookup of the
//! Observation's token row with that code, and most find none (a Patient has a dozen
//! Observations, one code in sixteen). The signature answers "certainly not" for almost all
//! of them from the reference row itself; only the rest are looked up.
//!
//! Each (parameter, code) pair of a token row sets three bits, taken from the first three
//! bytes of the MD5 digest of `param`, U+001F and `code`. MD5 because PostgreSQL computes it
//! too: migration 8 signs the reference rows written before it in SQL with the same formula
//! (`storage/tests/index_maintenance.rs` checks that both agree). Nothing here is security:
//! a collision only costs one lookup more.

use md5::{Digest, Md5};

/// The bits that the token row (`param`, `code`) sets in a signature. A signature holding all
/// of them may have the row; one missing any of them has not.
pub(crate) fn bits(param: &str, code: &str) -> i64 {
    let digest = Md5::new()
        .chain_update(param)
        .chain_update("\u{1f}")
        .chain_update(code)
        .finalize();
    let bits = digest[..3]
        .iter()
        .fold(0_u64, |bits, byte| bits | 1 << (byte % 64));
    i64::from_ne_bytes(bits.to_ne_bytes())
}

/// The signature of a resource whose token rows have these parameters and codes; rows
/// without a code (`system|` only) add nothing, as no criterion with a code can match them.
pub(crate) fn of_rows<'a>(rows: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> i64 {
    rows.filter_map(|(param, code)| code.map(|code| bits(param, code)))
        .fold(0, |signature, bits| signature | bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_the_bits_of_each_of_its_rows() {
        let signature = of_rows([("code", Some("8302-2")), ("status", Some("final"))].into_iter());
        for (param, code) in [("code", "8302-2"), ("status", "final")] {
            assert_eq!(signature & bits(param, code), bits(param, code));
        }
    }

    #[test]
    fn each_row_sets_at_most_three_bits() {
        for code in ["8302-2", "29463-7", "final", ""] {
            let set = bits("code", code).count_ones();
            assert!((1..=3).contains(&set), "{code}: {set}");
        }
    }

    #[test]
    fn the_parameter_is_part_of_the_bits() {
        // The same code under another parameter is another row (`category=final` is not
        // `status=final`); these two differ, which is what keeps such rows apart.
        assert_ne!(bits("status", "final"), bits("category", "final"));
    }

    #[test]
    fn rows_without_a_code_sign_nothing() {
        assert_eq!(of_rows([("code", None)].into_iter()), 0);
    }
}
