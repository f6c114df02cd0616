//! Evaluates a compiled expression over the nodes of one resource.
//!
//! Spec: http://hl7.org/fhirpath/N1/#functions, http://hl7.org/fhirpath/N1/#operations and
//! http://hl7.org/fhirpath/N1/#boolean-logic (three-valued: an empty collection is unknown).

use std::collections::HashSet;

use sonic_rs::{JsonNumberTrait, JsonValueTrait, Value};

use super::parse::{Expr, Function, Logic};
use super::Node;
use crate::definitions::{type_definition, TypeKind};

/// What an evaluation can refer to besides its input: `%resource`.
pub(super) struct Environment<'a> {
    pub(super) resource: Option<Node<'a>>,
}

impl<'a> Environment<'a> {
    /// The collection `expression` selects from `input`.
    pub(super) fn evaluate(&self, expression: &Expr, input: &[Node<'a>]) -> Vec<Node<'a>> {
        match expression {
            Expr::This => input.to_vec(),
            Expr::Resource => self.resource.into_iter().collect(),
            Expr::TypeRoot(wanted) => input
                .iter()
                .filter(|node| conforms(node.fhir_type, wanted))
                .copied()
                .collect(),
            Expr::Member(base, name) => {
                let mut children = Vec::new();
                for node in &self.evaluate(base, input) {
                    node.push_children(name, &mut children);
                }
                children
            }
            Expr::Call(base, function) => self.call(function, self.evaluate(base, input)),
            Expr::Index(base, index) => self
                .evaluate(base, input)
                .get(*index)
                .copied()
                .into_iter()
                .collect(),
            Expr::Union(left, right) => {
                union(self.evaluate(left, input), self.evaluate(right, input))
            }
            Expr::Is(base, wanted) => match self.evaluate(base, input).as_slice() {
                [single] => vec![Node::boolean(conforms(single.fhir_type, wanted))],
                _ => Vec::new(),
            },
            Expr::As(base, wanted) => {
                let mut nodes = self.evaluate(base, input);
                nodes.retain(|node| conforms(node.fhir_type, wanted));
                nodes
            }
            Expr::Equality {
                left,
                right,
                negated,
            } => self
                .equal(left, right, input)
                .map(|equal| Node::boolean(equal != *negated))
                .into_iter()
                .collect(),
            Expr::Logic(operator, left, right) => {
                let left = truth(&self.evaluate(left, input));
                let right = truth(&self.evaluate(right, input));
                logic(*operator, left, right)
                    .map(Node::boolean)
                    .into_iter()
                    .collect()
            }
            Expr::Boolean(value) => vec![Node::boolean(*value)],
            // `parse` only lets literal strings and integers stand as comparison operands.
            Expr::String(_) | Expr::Integer(_) => Vec::new(),
        }
    }

    fn call(&self, function: &Function, mut nodes: Vec<Node<'a>>) -> Vec<Node<'a>> {
        let boolean = |value| vec![Node::boolean(value)];
        match function {
            Function::Where(criteria) => {
                nodes.retain(|node| self.holds(criteria, node));
                nodes
            }
            Function::Exists(None) => boolean(!nodes.is_empty()),
            Function::Exists(Some(criteria)) => {
                boolean(nodes.iter().any(|node| self.holds(criteria, node)))
            }
            Function::Empty => boolean(nodes.is_empty()),
            Function::Not => truth(&nodes)
                .map(|value| !value)
                .map_or_else(Vec::new, boolean),
            Function::First => nodes.into_iter().take(1).collect(),
            Function::Last => nodes.pop().into_iter().collect(),
            Function::HasValue => boolean(matches!(
                nodes.as_slice(),
                [single] if single.value.is_str()
                    || single.value.is_number()
                    || single.value.is_boolean()
            )),
            Function::Resolve => nodes
                .iter()
                .filter_map(|node| node.resolve(self.resource.as_ref()))
                .collect(),
            Function::Extension(url) => {
                let mut extensions = Vec::new();
                for node in &nodes {
                    node.push_extensions(url, &mut extensions);
                }
                extensions
            }
        }
    }

    /// Whether `criteria`, evaluated with `node` as its input (`$this`), is true.
    fn holds(&self, criteria: &Expr, node: &Node<'a>) -> bool {
        truth(&self.evaluate(criteria, std::slice::from_ref(node))) == Some(true)
    }

    /// FHIRPath `=` on the two operands' collections: unknown when either is empty, else
    /// whether they have the same length and equal items in order.
    fn equal(&self, left: &Expr, right: &Expr, input: &[Node<'a>]) -> Option<bool> {
        let left = self.operand(left, input);
        let right = self.operand(right, input);
        if left.is_empty() || right.is_empty() {
            return None;
        }
        Some(
            left.len() == right.len()
                && left
                    .iter()
                    .zip(&right)
                    .all(|(left, right)| left.equals(right)),
        )
    }

    fn operand<'e>(&self, expression: &'e Expr, input: &[Node<'a>]) -> Vec<Item<'e, 'a>> {
        match expression {
            Expr::String(text) => vec![Item::Text(text)],
            Expr::Integer(value) => vec![Item::Integer(*value)],
            _ => self
                .evaluate(expression, input)
                .into_iter()
                .map(|node| Item::Json(node.value))
                .collect(),
        }
    }
}

/// `left | right`: every element of both, each once. Most unions in the R4 expressions join
/// branches for different resource types, so one side is usually empty.
fn union<'a>(mut left: Vec<Node<'a>>, right: Vec<Node<'a>>) -> Vec<Node<'a>> {
    if left.is_empty() {
        return right;
    }
    let mut seen: HashSet<(*const Value, &str)> = left.iter().map(Node::identity).collect();
    left.extend(
        right
            .into_iter()
            .filter(|node| seen.insert(node.identity())),
    );
    left
}

/// One side of a comparison: an element of the resource or a literal of the expression.
enum Item<'e, 'a> {
    Json(&'a Value),
    Text(&'e str),
    Integer(i64),
}

impl Item<'_, '_> {
    fn equals(&self, other: &Item<'_, '_>) -> bool {
        match (self, other) {
            (Item::Json(left), Item::Json(right)) => left == right,
            (Item::Json(json), Item::Text(text)) | (Item::Text(text), Item::Json(json)) => {
                json.as_str() == Some(text)
            }
            (Item::Json(json), Item::Integer(value)) | (Item::Integer(value), Item::Json(json)) => {
                json_integer(json) == Some(*value)
            }
            (Item::Text(left), Item::Text(right)) => left == right,
            (Item::Integer(left), Item::Integer(right)) => left == right,
            (Item::Text(_), Item::Integer(_)) | (Item::Integer(_), Item::Text(_)) => false,
        }
    }
}

/// A JSON number as an integer; with `arbitrary_precision` numbers keep their text.
fn json_integer(json: &Value) -> Option<i64> {
    json.as_i64()
        .or_else(|| {
            json.as_raw_number()
                .and_then(|raw| raw.as_str().parse().ok())
        })
        .or_else(|| json.as_number().and_then(|number| number.as_i64()))
}

/// A collection as a boolean: unknown when empty; a single boolean is itself, and any other
/// single item is true (FHIRPath "singleton evaluation of collections"). Several items are
/// an error in FHIRPath, taken here as unknown.
fn truth(nodes: &[Node<'_>]) -> Option<bool> {
    match nodes {
        [single] => Some(single.value.as_bool().unwrap_or(true)),
        _ => None,
    }
}

/// FHIRPath's three-valued `and`, `or`, `xor` and `implies`.
fn logic(operator: Logic, left: Option<bool>, right: Option<bool>) -> Option<bool> {
    match operator {
        Logic::And => match (left, right) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Logic::Or => match (left, right) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Logic::Xor => Some(left? != right?),
        Logic::Implies => match (left, right) {
            (Some(false), _) | (_, Some(true)) => Some(true),
            (Some(true), right) => right,
            (None, _) => None,
        },
    }
}

/// Whether a node of type `actual` is a `wanted`: the same type, or any resource for
/// `Resource`, or any resource but `Binary`, `Bundle` and `Parameters` for `DomainResource`.
/// Other specializations do not count (an `Age` is not taken for a `Quantity`): choice
/// elements name their exact type, and the R4 expressions ask for exact types.
pub(super) fn conforms(actual: &str, wanted: &str) -> bool {
    actual == wanted
        || match wanted {
            "Resource" | "DomainResource" => {
                type_definition(actual).is_some_and(|t| t.kind == TypeKind::Resource)
                    && (wanted == "Resource"
                        || !crate::definitions::NOT_DOMAIN_RESOURCES.contains(&actual))
            }
            _ => false,
        }
}
