//! `_text` and `_content` queries: words and "quoted phrases" combined with `and`, `or` and
//! parentheses, as the spec's example `(bone OR liver) and metastases` is written.
//! Spec: https://hl7.org/fhir/R4/search.html#text
//!
//! Only the boolean structure is parsed here. Each run of words between operators stays
//! text for PostgreSQL's `websearch_to_tsquery`, which splits it into words as the stored
//! documents were split, and ANDs them (and understands `-word` and "phrases" inside it).

/// The most words, operators and parentheses a query may hold: PostgreSQL refuses a very
/// long `tsquery` (20,000 words was a database error), and no person types more.
const MAX_TOKENS: usize = 256;

/// The deepest parentheses may nest: the parser recurses once per level, and a query of
/// 5,000 nested parentheses overflowed the stack and ended the server.
const MAX_DEPTH: usize = 16;

/// A parsed full-text query.
#[derive(Debug, Clone, PartialEq)]
pub enum TextQuery {
    /// A run of words, phrases and `-word`s, all of which must match.
    Words(String),
    All(Vec<TextQuery>),
    Any(Vec<TextQuery>),
}

/// Parses `text` (already folded: lower case, accents removed).
///
/// # Errors
/// A message for unbalanced parentheses or an operator without an operand.
pub fn parse_text_query(text: &str) -> Result<TextQuery, String> {
    let tokens = tokens(text);
    if tokens.len() > MAX_TOKENS {
        return Err(format!(
            "A full-text query may hold at most {MAX_TOKENS} words, operators and parentheses"
        ));
    }
    let mut parser = Parser {
        tokens: &tokens,
        next: 0,
        depth: 0,
    };
    let query = parser.any()?;
    match parser.tokens.get(parser.next) {
        None => Ok(query),
        Some(_) => Err(format!("'{text}' has a ')' without its '('")),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    /// A word, a "quoted phrase" (quotes kept) or a `-word`.
    Word(String),
}

fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut characters = text.chars().peekable();
    while let Some(&character) = characters.peek() {
        match character {
            '(' | ')' => {
                characters.next();
                tokens.push(if character == '(' {
                    Token::Open
                } else {
                    Token::Close
                });
            }
            _ if character.is_whitespace() => {
                characters.next();
            }
            '"' => {
                let mut phrase = String::from('"');
                characters.next();
                for inner in characters.by_ref() {
                    phrase.push(inner);
                    if inner == '"' {
                        break;
                    }
                }
                tokens.push(Token::Word(phrase));
            }
            _ => {
                let mut word = String::new();
                while let Some(&inner) = characters.peek() {
                    if inner.is_whitespace() || matches!(inner, '(' | ')' | '"') {
                        break;
                    }
                    word.push(inner);
                    characters.next();
                }
                tokens.push(match word.as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    _ => Token::Word(word),
                });
            }
        }
    }
    tokens
}

struct Parser<'a> {
    tokens: &'a [Token],
    next: usize,
    /// How many parentheses are open.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    /// `all (or all)*`
    fn any(&mut self) -> Result<TextQuery, String> {
        let mut alternatives = vec![self.all()?];
        while self.peek() == Some(&Token::Or) {
            self.next += 1;
            alternatives.push(self.all()?);
        }
        Ok(single_or(alternatives, TextQuery::Any))
    }

    /// `operand ((and)? operand)*`: words side by side must all match, as with `and`.
    fn all(&mut self) -> Result<TextQuery, String> {
        let mut parts = vec![self.operand()?];
        loop {
            match self.peek() {
                Some(Token::And) => {
                    self.next += 1;
                    parts.push(self.operand()?);
                }
                Some(Token::Open | Token::Word(_)) => parts.push(self.operand()?),
                _ => break,
            }
        }
        Ok(single_or(parts, TextQuery::All))
    }

    /// `( any )`, or a run of words.
    fn operand(&mut self) -> Result<TextQuery, String> {
        match self.peek() {
            Some(Token::Open) => {
                self.next += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!(
                        "Parentheses may nest at most {MAX_DEPTH} deep in a full-text query"
                    ));
                }
                let inner = self.any()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::Close) {
                    return Err("a '(' is not closed".to_owned());
                }
                self.next += 1;
                Ok(inner)
            }
            Some(Token::Word(_)) => {
                let mut words = Vec::new();
                let tokens = self.tokens;
                while let Some(Token::Word(word)) = tokens.get(self.next) {
                    words.push(word.as_str());
                    self.next += 1;
                }
                Ok(TextQuery::Words(words.join(" ")))
            }
            _ => Err("'and' and 'or' need words on both sides".to_owned()),
        }
    }
}

fn single_or(mut parts: Vec<TextQuery>, combine: fn(Vec<TextQuery>) -> TextQuery) -> TextQuery {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        combine(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> TextQuery {
        TextQuery::Words(text.to_owned())
    }

    #[test]
    fn the_spec_example_groups_or_inside_and() {
        assert_eq!(
            parse_text_query("(bone or liver) and metastases").unwrap(),
            TextQuery::All(vec![
                TextQuery::Any(vec![words("bone"), words("liver")]),
                words("metastases")
            ])
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            parse_text_query("bone or liver metastases").unwrap(),
            TextQuery::Any(vec![words("bone"), words("liver metastases")])
        );
    }

    #[test]
    fn phrases_and_exclusions_stay_words() {
        assert_eq!(
            parse_text_query(r#""heart attack" -family"#).unwrap(),
            words(r#""heart attack" -family"#)
        );
    }

    #[test]
    fn deep_nesting_and_long_queries_are_errors_not_a_stack_overflow() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse_text_query(&deep).is_err());
        let long: Vec<String> = (0..20_000).map(|index| format!("w{index}")).collect();
        assert!(parse_text_query(&long.join(" ")).is_err());
        let nested = format!("{}a{}", "(".repeat(16), ")".repeat(16));
        assert!(parse_text_query(&nested).is_ok());
    }

    #[test]
    fn unbalanced_or_dangling_operators_are_errors() {
        for bad in ["(bone", "bone)", "bone and", "or liver", "()"] {
            assert!(parse_text_query(bad).is_err(), "{bad}");
        }
    }
}
