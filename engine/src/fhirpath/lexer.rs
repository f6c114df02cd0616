//! Splits a FHIRPath expression into tokens.
//!
//! Spec: http://hl7.org/fhirpath/N1/#lexical-elements

use super::Unsupported;

/// One lexical element of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    /// A name: an element, function, type or keyword (`and`, `is`, `true`); backtick-quoted
    /// names arrive without their backticks.
    Identifier(String),
    /// A string literal, with its escapes decoded.
    String(String),
    /// An integer literal (decimals are not in the subset).
    Integer(i64),
    /// `%name`: an environment variable such as `%resource`.
    Variable(String),
    /// `$this`, `$index` or `$total`.
    Special(String),
    /// Punctuation and operators: `.`, `(`, `)`, `[`, `]`, `,`, `|`, `=`, `!=`, `<`, ….
    Symbol(&'static str),
}

/// The operators and punctuation, longest first so that `!=` is not read as `!`.
const SYMBOLS: [&str; 19] = [
    "!=", "!~", "<=", ">=", ".", "(", ")", "[", "]", ",", "|", "=", "~", "<", ">", "+", "-", "*",
    "/",
];

/// The tokens of `text`, or why it cannot be read.
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, Unsupported> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        if first.is_whitespace() {
            rest = &rest[first.len_utf8()..];
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            let end = after
                .find("*/")
                .ok_or_else(|| Unsupported::new("unterminated comment"))?;
            rest = &after[end + 2..];
        } else if first == '\'' || first == '`' {
            let (decoded, after) = quoted(&rest[1..], first)?;
            tokens.push(if first == '\'' {
                Token::String(decoded)
            } else {
                Token::Identifier(decoded)
            });
            rest = after;
        } else if first == '%' || first == '$' {
            let after = &rest[1..];
            let (name, after) = if let Some(quoted_name) = after.strip_prefix('`') {
                quoted(quoted_name, '`')?
            } else {
                let (name, after) = word(after);
                (name.to_owned(), after)
            };
            if name.is_empty() {
                return Err(Unsupported::new(format!("'{first}' without a name")));
            }
            tokens.push(if first == '%' {
                Token::Variable(name)
            } else {
                Token::Special(name)
            });
            rest = after;
        } else if first.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if rest[end..].starts_with('.')
                && rest[end + 1..].starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(Unsupported::new("decimal literals are not supported"));
            }
            let integer = rest[..end]
                .parse()
                .map_err(|_| Unsupported::new(format!("integer {} is too large", &rest[..end])))?;
            tokens.push(Token::Integer(integer));
            rest = &rest[end..];
        } else if first.is_alphabetic() || first == '_' {
            let (name, after) = word(rest);
            tokens.push(Token::Identifier(name.to_owned()));
            rest = after;
        } else if let Some(symbol) = SYMBOLS.iter().find(|symbol| rest.starts_with(**symbol)) {
            tokens.push(Token::Symbol(symbol));
            rest = &rest[symbol.len()..];
        } else {
            return Err(Unsupported::new(format!("unexpected character '{first}'")));
        }
    }
    Ok(tokens)
}

/// Splits off a leading identifier (letters, digits, `_`).
fn word(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    text.split_at(end)
}

/// Decodes a quoted string or identifier up to its closing `quote`; returns it and the rest.
fn quoted(text: &str, quote: char) -> Result<(String, &str), Unsupported> {
    let mut decoded = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        if c == quote {
            return Ok((decoded, &text[index + 1..]));
        }
        if c != '\\' {
            decoded.push(c);
            continue;
        }
        let escaped = chars.next().map(|(_, c)| c);
        decoded.push(match escaped {
            Some('t') => '\t',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('f') => '\u{c}',
            Some(c @ ('\'' | '"' | '`' | '\\' | '/')) => c,
            Some('u') => {
                let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| Unsupported::new(format!("bad escape \\u{hex}")))?
            }
            Some(other) => return Err(Unsupported::new(format!("unknown escape \\{other}"))),
            None => break,
        });
    }
    Err(Unsupported::new(format!(
        "unterminated {quote}-quoted text"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identifier(name: &str) -> Token {
        Token::Identifier(name.to_owned())
    }

    #[test]
    fn paths_functions_and_strings_are_split_into_tokens() {
        assert_eq!(
            tokenize("Patient.telecom.where(system='phone')").unwrap(),
            [
                identifier("Patient"),
                Token::Symbol("."),
                identifier("telecom"),
                Token::Symbol("."),
                identifier("where"),
                Token::Symbol("("),
                identifier("system"),
                Token::Symbol("="),
                Token::String("phone".to_owned()),
                Token::Symbol(")"),
            ]
        );
    }

    #[test]
    fn string_escapes_are_decoded() {
        assert_eq!(
            tokenize(r"'it\'s a \\ \u00e9 \t'").unwrap(),
            [Token::String("it's a \\ é \t".to_owned())]
        );
    }

    #[test]
    fn variables_specials_indexes_and_two_character_operators() {
        assert_eq!(
            tokenize("%resource $this [0] != `div`").unwrap(),
            [
                Token::Variable("resource".to_owned()),
                Token::Special("this".to_owned()),
                Token::Symbol("["),
                Token::Integer(0),
                Token::Symbol("]"),
                Token::Symbol("!="),
                identifier("div"),
            ]
        );
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            tokenize("a // note\n/* more */ .b").unwrap(),
            [identifier("a"), Token::Symbol("."), identifier("b")]
        );
    }

    #[test]
    fn malformed_text_is_rejected_with_a_reason() {
        assert!(tokenize("'open")
            .unwrap_err()
            .reason()
            .contains("unterminated"));
        assert!(tokenize("a # b").unwrap_err().reason().contains("'#'"));
        assert!(tokenize("1.5").unwrap_err().reason().contains("decimal"));
        assert!(tokenize(r"'\q'").unwrap_err().reason().contains("escape"));
        assert!(tokenize("%").is_err());
    }
}
