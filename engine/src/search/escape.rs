//! Splitting search values on `,` `|` `$` while honouring the spec's backslash escapes.
//! Spec: https://hl7.org/fhir/R4/search.html#escaping

/// Splits `text` on every `separator` not preceded by a backslash, leaving escapes in place
/// so a later split on another separator still sees them.
///
/// ```
/// use engine::search::split_unescaped;
/// assert_eq!(split_unescaped(r"a\,b,c", ','), [r"a\,b", "c"]);
/// ```
pub fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == separator {
            parts.push(&text[start..index]);
            start = index + separator.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Whether every backslash in `text` escapes one of `,` `|` `$` `\`: "the parameter value
/// `xx\xx` is illegal" (search.html#escaping), so anything else is an error to report.
pub(crate) fn check_escapes(text: &str) -> Result<(), String> {
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        if character == '\\' && !matches!(characters.next(), Some(',' | '|' | '$' | '\\')) {
            return Err(format!(
                "'{text}' has a backslash that escapes nothing; write \\\\ for a backslash, \\, \\| \\$ for the separators"
            ));
        }
    }
    Ok(())
}

/// Removes the escapes: `\,` `\|` `\$` and `\\` become the character itself.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            match characters.next() {
                Some(next @ (',' | '|' | '$' | '\\')) => out.push(next),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(character);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_separators_do_not_split() {
        assert_eq!(split_unescaped(r"x\|y|z", '|'), [r"x\|y", "z"]);
        assert_eq!(split_unescaped(r"a\$b$c", '$'), [r"a\$b", "c"]);
    }

    #[test]
    fn an_escaped_backslash_before_a_separator_still_splits() {
        assert_eq!(split_unescaped(r"a\\,b", ','), [r"a\\", "b"]);
        assert_eq!(unescape(r"a\\"), r"a\");
    }

    #[test]
    fn unescape_restores_separators() {
        assert_eq!(unescape(r"Smith\, John \| \$5"), "Smith, John | $5");
    }

    #[test]
    fn empty_parts_are_kept() {
        assert_eq!(split_unescaped("|code", '|'), ["", "code"]);
        assert_eq!(split_unescaped("system|", '|'), ["system", ""]);
    }

    #[test]
    fn a_backslash_must_escape_a_separator_or_itself() {
        assert!(check_escapes(r"a\,b\|c\$d\\e").is_ok());
        assert!(check_escapes(r"a\b").is_err());
        assert!(
            check_escapes("a\\").is_err(),
            "a trailing backslash escapes nothing"
        );
    }
}
