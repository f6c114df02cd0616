//! Parses the FHIRPath subset into an expression tree, resolving type names against the
//! vendored R4 types so that evaluation never looks them up again.
//!
//! Spec: http://hl7.org/fhirpath/N1/#operator-precedence and http://hl7.org/fhirpath/N1/#grammar

use super::lexer::{tokenize, Token};
use super::Unsupported;
use crate::definitions::{type_definition, TypeKind};

/// A compiled expression. Each node's input is the collection its parent hands it; `This` is
/// that input itself (the implicit start of a relative path, or `$this`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// The input collection: `$this`, or the start of a relative path.
    This,
    /// `%resource`: the resource the evaluation started from.
    Resource,
    /// A type name opening a path (`Patient` in `Patient.name`): keeps the input items of
    /// that type, where `Resource` and `DomainResource` stand for any resource.
    TypeRoot(&'static str),
    /// `base.name`: the child elements called `name`; for a choice element (`value`), the
    /// member whichever type it has (`valueQuantity`).
    Member(Box<Expr>, String),
    /// `base.function(…)`.
    Call(Box<Expr>, Function),
    /// `base[n]`.
    Index(Box<Expr>, usize),
    /// `left | right`: both, without repeating an element selected by both.
    Union(Box<Expr>, Box<Expr>),
    /// `base is T` and `base.is(T)`.
    Is(Box<Expr>, &'static str),
    /// `base as T`, `base.as(T)` and `base.ofType(T)`: the items of type `T`.
    As(Box<Expr>, &'static str),
    /// `left = right` (or `!=` when `negated`).
    Equality {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    /// `and`, `or`, `xor`, `implies`, with FHIRPath's three-valued logic.
    Logic(Logic, Box<Expr>, Box<Expr>),
    /// `true` or `false`.
    Boolean(bool),
    /// A string literal: only as a comparison operand (checked by [`parse`]).
    String(String),
    /// An integer literal: only as a comparison operand (checked by [`parse`]).
    Integer(i64),
}

/// A boolean operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Logic {
    And,
    Or,
    Xor,
    Implies,
}

/// The functions of the subset.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Function {
    /// `where(criteria)`: the items for which `criteria` is true.
    Where(Box<Expr>),
    /// `exists()` or `exists(criteria)`.
    Exists(Option<Box<Expr>>),
    /// `empty()`.
    Empty,
    /// `not()`.
    Not,
    /// `first()`.
    First,
    /// `last()`.
    Last,
    /// `hasValue()`: a single primitive with a value.
    HasValue,
    /// `resolve()`: contained resources for `#id` references, and for other references a
    /// target known only by its type (enough for `resolve() is Patient`).
    Resolve,
    /// `extension(url)`: the extensions with that url.
    Extension(String),
}

/// Binding strength of the binary operators, loosest first (FHIRPath §"Operator precedence").
fn precedence(token: &Token) -> Option<u8> {
    Some(match token {
        Token::Identifier(word) => match word.as_str() {
            "implies" => 1,
            "or" | "xor" => 2,
            "and" => 3,
            "in" | "contains" => 4,
            "is" | "as" => 8,
            "div" | "mod" => 10,
            _ => return None,
        },
        Token::Symbol("=" | "!=" | "~" | "!~") => 5,
        Token::Symbol("<" | ">" | "<=" | ">=") => 6,
        Token::Symbol("|") => 7,
        Token::Symbol("+" | "-") => 9,
        Token::Symbol("*" | "/") => 10,
        _ => return None,
    })
}

/// Parses `text` into an expression tree, or says why it is outside the subset.
pub(super) fn parse(text: &str) -> Result<Expr, Unsupported> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
    };
    let expression = parser.expression(0)?;
    if let Some(token) = parser.tokens.get(parser.next) {
        return Err(Unsupported::new(format!("unexpected {token:?}")));
    }
    check_literals(&expression, false)?;
    Ok(expression)
}

/// Literal strings and integers can only be compared: evaluation hands out elements of the
/// resource, and a literal is not one.
fn check_literals(expression: &Expr, operand: bool) -> Result<(), Unsupported> {
    match expression {
        Expr::String(_) | Expr::Integer(_) if !operand => Err(Unsupported::new(
            "a literal string or number can only be compared with =/!=",
        )),
        Expr::Equality { left, right, .. } => {
            check_literals(left, true)?;
            check_literals(right, true)
        }
        Expr::Member(base, _) | Expr::Index(base, _) | Expr::Is(base, _) | Expr::As(base, _) => {
            check_literals(base, false)
        }
        Expr::Call(base, function) => {
            check_literals(base, false)?;
            match function {
                Function::Where(criteria) | Function::Exists(Some(criteria)) => {
                    check_literals(criteria, false)
                }
                _ => Ok(()),
            }
        }
        Expr::Union(left, right) | Expr::Logic(_, left, right) => {
            check_literals(left, false)?;
            check_literals(right, false)
        }
        _ => Ok(()),
    }
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// How many expressions are being parsed inside one another, bounded so that a hostile
    /// expression (`((((…`) cannot exhaust the stack.
    depth: usize,
}

/// Far deeper than any real expression nests (the official ones: 3).
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn advance(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn expect(&mut self, symbol: &str) -> Result<(), Unsupported> {
        match self.advance() {
            Some(Token::Symbol(found)) if found == symbol => Ok(()),
            other => Err(Unsupported::new(format!(
                "expected '{symbol}', found {other:?}"
            ))),
        }
    }

    fn at_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token::Symbol(found)) if *found == symbol)
    }

    /// Precedence climbing over the binary operators binding at least `minimum`.
    fn expression(&mut self, minimum: u8) -> Result<Expr, Unsupported> {
        if self.depth == MAX_DEPTH {
            return Err(Unsupported::new("expression nested too deeply"));
        }
        self.depth += 1;
        let parsed = self.binary_operations(minimum);
        self.depth -= 1;
        parsed
    }

    fn binary_operations(&mut self, minimum: u8) -> Result<Expr, Unsupported> {
        let mut left = self.postfix()?;
        while let Some(token) = self.peek().cloned() {
            let Some(binding) = precedence(&token).filter(|&binding| binding >= minimum) else {
                break;
            };
            self.next += 1;
            left = match token {
                Token::Identifier(word) if word == "is" => Expr::Is(left.into(), self.type_name()?),
                Token::Identifier(word) if word == "as" => Expr::As(left.into(), self.type_name()?),
                operator => {
                    let right = Box::new(self.expression(binding + 1)?);
                    binary(operator, left.into(), right)?
                }
            };
        }
        Ok(left)
    }

    /// A term followed by any number of `.member`, `.function(…)` and `[index]`.
    fn postfix(&mut self) -> Result<Expr, Unsupported> {
        let mut expression = self.term()?;
        loop {
            if self.at_symbol(".") {
                self.next += 1;
                let Some(Token::Identifier(name)) = self.advance() else {
                    return Err(Unsupported::new("expected a name after '.'"));
                };
                expression = self.invocation(expression, name)?;
            } else if self.at_symbol("[") {
                self.next += 1;
                let Some(Token::Integer(index)) = self.advance() else {
                    return Err(Unsupported::new("only integer literals can index"));
                };
                self.expect("]")?;
                let index =
                    usize::try_from(index).map_err(|_| Unsupported::new("negative index"))?;
                expression = Expr::Index(expression.into(), index);
            } else {
                return Ok(expression);
            }
        }
    }

    fn term(&mut self) -> Result<Expr, Unsupported> {
        match self.advance() {
            Some(Token::Identifier(name)) if self.at_symbol("(") => {
                self.invocation(Expr::This, name)
            }
            Some(Token::Identifier(name)) => Ok(match name.as_str() {
                "true" => Expr::Boolean(true),
                "false" => Expr::Boolean(false),
                _ if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                    Expr::TypeRoot(path_root_type(&name)?)
                }
                _ => Expr::Member(Expr::This.into(), name),
            }),
            Some(Token::String(text)) => Ok(Expr::String(text)),
            Some(Token::Integer(value)) => Ok(Expr::Integer(value)),
            Some(Token::Variable(name)) => match name.as_str() {
                "resource" | "rootResource" => Ok(Expr::Resource),
                _ => Err(Unsupported::new(format!(
                    "%{name}: only %resource is supported"
                ))),
            },
            Some(Token::Special(name)) if name == "this" => Ok(Expr::This),
            Some(Token::Special(name)) => {
                Err(Unsupported::new(format!("${name} is not supported")))
            }
            Some(Token::Symbol("(")) => {
                let inner = self.expression(0)?;
                self.expect(")")?;
                Ok(inner)
            }
            other => Err(Unsupported::new(format!(
                "expected a term, found {}",
                other.map_or("the end".to_owned(), |token| format!("{token:?}"))
            ))),
        }
    }

    /// `name` or `name(arguments)` applied to `base`.
    fn invocation(&mut self, base: Expr, name: String) -> Result<Expr, Unsupported> {
        if !self.at_symbol("(") {
            return Ok(Expr::Member(base.into(), name));
        }
        self.next += 1;
        let base = Box::new(base);
        let function = match name.as_str() {
            "as" | "ofType" => return self.type_argument().map(|t| Expr::As(base, t)),
            "is" => return self.type_argument().map(|t| Expr::Is(base, t)),
            "where" => Function::Where(self.argument()?.into()),
            "exists" if self.at_symbol(")") => Function::Exists(None),
            "exists" => Function::Exists(Some(self.argument()?.into())),
            "extension" => match self.advance() {
                Some(Token::String(url)) => Function::Extension(url),
                _ => return Err(Unsupported::new("extension() takes a literal url")),
            },
            "empty" => Function::Empty,
            "not" => Function::Not,
            "first" => Function::First,
            "last" => Function::Last,
            "hasValue" => Function::HasValue,
            "resolve" => Function::Resolve,
            other => {
                return Err(Unsupported::new(format!(
                    "function {other}() is not supported"
                )))
            }
        };
        self.expect(")")?;
        Ok(Expr::Call(base, function))
    }

    fn argument(&mut self) -> Result<Expr, Unsupported> {
        self.expression(0)
    }

    fn type_argument(&mut self) -> Result<&'static str, Unsupported> {
        let name = self.type_name()?;
        self.expect(")")?;
        Ok(name)
    }

    /// A type specifier, `Quantity`, `FHIR.Quantity` or `System.DateTime`, as an R4 type name.
    fn type_name(&mut self) -> Result<&'static str, Unsupported> {
        let Some(Token::Identifier(mut name)) = self.advance() else {
            return Err(Unsupported::new("expected a type name"));
        };
        if (name == "FHIR" || name == "System") && self.at_symbol(".") {
            self.next += 1;
            let Some(Token::Identifier(qualified)) = self.advance() else {
                return Err(Unsupported::new("expected a type name after the namespace"));
            };
            name = qualified;
        }
        fhir_type(&name)
    }
}

/// Builds a binary operation from its operator token, or rejects an operator outside the subset.
fn binary(operator: Token, left: Box<Expr>, right: Box<Expr>) -> Result<Expr, Unsupported> {
    let logic = match operator {
        Token::Symbol("|") => return Ok(Expr::Union(left, right)),
        Token::Symbol(symbol @ ("=" | "!=")) => {
            let negated = symbol == "!=";
            return Ok(Expr::Equality {
                left,
                right,
                negated,
            });
        }
        Token::Identifier(word) => match word.as_str() {
            "and" => Logic::And,
            "or" => Logic::Or,
            "xor" => Logic::Xor,
            "implies" => Logic::Implies,
            other => {
                return Err(Unsupported::new(format!(
                    "operator '{other}' is not supported"
                )))
            }
        },
        Token::Symbol(symbol) => {
            return Err(Unsupported::new(format!(
                "operator '{symbol}' is not supported"
            )))
        }
        other => return Err(Unsupported::new(format!("unexpected {other:?}"))),
    };
    Ok(Expr::Logic(logic, left, right))
}

/// The R4 type a path may open with: a resource type, `Resource`, `DomainResource` or a
/// complex datatype (for relative expressions evaluated on a datatype).
fn path_root_type(name: &str) -> Result<&'static str, Unsupported> {
    match type_definition(name) {
        Some(definition) if definition.kind != TypeKind::Primitive => Ok(definition.name),
        _ => Err(Unsupported::new(format!(
            "{name} is not an R4 resource or datatype"
        ))),
    }
}

/// The R4 type `name` stands for; FHIRPath's System types map to the FHIR primitive they hold.
fn fhir_type(name: &str) -> Result<&'static str, Unsupported> {
    let fhir_name = match name {
        "Boolean" => "boolean",
        "String" => "string",
        "Integer" => "integer",
        "Decimal" => "decimal",
        "Date" => "date",
        "DateTime" => "dateTime",
        "Time" => "time",
        other => other,
    };
    type_definition(fhir_name)
        .map(|definition| definition.name)
        .ok_or_else(|| Unsupported::new(format!("{name} is not an R4 type")))
}
