//! Decimals with the implicit precision search gives them: `100` means [99.5, 100.5), `1.50`
//! means [1.495, 1.505), and `1e2` means [50, 150).
//! Spec: https://hl7.org/fhir/R4/search.html#number

/// A decimal as written, plus the power of ten of its last significant digit.
///
/// The text goes to PostgreSQL unchanged (its `numeric` reads `1.50` and `1e2` exactly), and
/// the range of implicit precision is computed there from `exponent`, so no decimal
/// arithmetic is done twice or rounded in Rust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    pub text: String,
    /// `-2` for `1.50`, `0` for `100`, `2` for `1e2`.
    pub exponent: i32,
}

impl Decimal {
    /// Parses a JSON/FHIR decimal: optional sign, digits, optional fraction, optional exponent.
    ///
    /// ```
    /// let decimal = engine::index::Decimal::parse("1.50").unwrap();
    /// assert_eq!(decimal.exponent, -2);
    /// ```
    pub fn parse(text: &str) -> Option<Decimal> {
        let bytes = text.as_bytes();
        let mut position = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
        let integer_start = position;
        while bytes.get(position).is_some_and(u8::is_ascii_digit) {
            position += 1;
        }
        if position == integer_start {
            return None;
        }
        let mut fraction_digits = 0i32;
        if bytes.get(position) == Some(&b'.') {
            position += 1;
            let fraction_start = position;
            while bytes.get(position).is_some_and(u8::is_ascii_digit) {
                position += 1;
            }
            fraction_digits = i32::try_from(position - fraction_start).ok()?;
            if fraction_digits == 0 {
                return None;
            }
        }
        let mut written_exponent = 0i32;
        if matches!(bytes.get(position), Some(b'e' | b'E')) {
            let exponent_text = text.get(position + 1..)?;
            written_exponent = exponent_text.parse().ok()?;
            if !(-1000..=1000).contains(&written_exponent) {
                return None;
            }
            position = bytes.len();
        }
        if position != bytes.len() {
            return None;
        }
        Some(Decimal {
            text: text.strip_prefix('+').unwrap_or(text).to_owned(),
            exponent: written_exponent - fraction_digits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exponent(text: &str) -> i32 {
        Decimal::parse(text)
            .unwrap_or_else(|| panic!("{text}"))
            .exponent
    }

    #[test]
    fn trailing_zeros_in_the_fraction_are_significant() {
        assert_eq!(exponent("1.50"), -2);
        assert_eq!(exponent("1.5"), -1);
    }

    #[test]
    fn integers_are_precise_to_the_unit() {
        assert_eq!(exponent("100"), 0);
        assert_eq!(exponent("-7"), 0);
    }

    #[test]
    fn exponent_notation_sets_the_precision() {
        assert_eq!(exponent("1e2"), 2);
        assert_eq!(exponent("1.5e3"), 2);
        assert_eq!(exponent("2.50E-1"), -3);
    }

    #[test]
    fn malformed_decimals_are_rejected() {
        for text in [
            "", "-", "1.", ".5", "1e", "1e+", "abc", "1,5", "1.5.5", "1e99999",
        ] {
            assert_eq!(Decimal::parse(text), None, "{text:?}");
        }
    }
}
