//! The query string of a request, decoded once into name/value pairs in order.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// Decoded query parameters, repeated names kept (FHIR gives repetition a meaning: AND).
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Decodes `query` strictly: see [`decode_form`].
    pub(crate) fn parse(query: &str) -> Result<QueryParams, ApiError> {
        decode_form(query.as_bytes()).map(QueryParams)
    }

    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> QueryParams {
        QueryParams(pairs)
    }

    pub(crate) fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    /// The first value of `name`, if present.
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `name`, a parameter that may be given once; a 400 saying `why` when it is
    /// repeated.
    pub(crate) fn single(&self, name: &str, why: &str) -> Result<Option<&str>, ApiError> {
        if self.iter().filter(|(key, _)| *key == name).count() > 1 {
            return Err(ApiError::invalid(format!(
                "{name} may be given once: {why}"
            )));
        }
        Ok(self.first(name))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<QueryParams, Self::Rejection> {
        QueryParams::parse(parts.uri.query().unwrap_or(""))
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs (a query string or a POST `_search`
/// body), refusing what a lenient decoder would silently change: a `%` not followed by two
/// hex digits (searched literally, `name=%zz` would look for the three characters) and bytes
/// that are not UTF-8 (replaced by U+FFFD, the search would look for a character the client
/// never sent). `+` is a space, as the form encoding defines.
pub(crate) fn decode_form(input: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    input
        .split(|byte| *byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
                Some(equals) => (&pair[..equals], &pair[equals + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

fn decode_component(encoded: &[u8]) -> Result<String, ApiError> {
    let mut decoded = Vec::with_capacity(encoded.len());
    let mut position = 0;
    while position < encoded.len() {
        match encoded[position] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let digits = encoded.get(position + 1..position + 3);
                let byte = digits
                    .and_then(|digits| std::str::from_utf8(digits).ok())
                    .filter(|digits| digits.bytes().all(|digit| digit.is_ascii_hexdigit()))
                    .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "the query holds '%' not followed by two hex digits in '{}'; a literal '%' is written %25",
                            String::from_utf8_lossy(encoded)
                        ))
                    })?;
                decoded.push(byte);
                position += 2;
            }
            byte => decoded.push(byte),
        }
        position += 1;
    }
    String::from_utf8(decoded).map_err(|_| {
        ApiError::invalid(format!(
            "the query holds percent-encoded bytes that are not UTF-8 in '{}'",
            String::from_utf8_lossy(encoded)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::decode_form;

    fn pairs(input: &str) -> Vec<(String, String)> {
        decode_form(input.as_bytes()).expect("decodes")
    }

    #[test]
    fn form_decoding_keeps_order_repetition_and_empty_values() {
        assert_eq!(
            pairs("name=a&name=b&_summary&x="),
            [("name", "a"), ("name", "b"), ("_summary", ""), ("x", "")]
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
        );
    }

    #[test]
    fn form_decoding_reads_plus_as_space_and_percent_escapes_as_utf8() {
        assert_eq!(
            pairs("given=Jos%C3%A9+Luis&date=ge2024-01-01T00%3A00%3A00%2B02%3A00"),
            [
                ("given", "José Luis"),
                ("date", "ge2024-01-01T00:00:00+02:00")
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
        );
    }

    #[test]
    fn form_decoding_refuses_a_percent_without_two_hex_digits() {
        for input in ["name=%zz", "name=abc%", "name=%4", "na%g1me=x"] {
            assert!(decode_form(input.as_bytes()).is_err(), "{input}");
        }
    }

    #[test]
    fn form_decoding_refuses_escapes_that_are_not_utf8() {
        assert!(decode_form(b"name=%FF%FE").is_err());
        assert!(decode_form(b"name=%C3").is_err());
    }
}
