//! The FHIRPath subset that the official R4 SearchParameter expressions use, evaluated over a
//! parsed resource to select the elements search indexes, each with its FHIR type.
//!
//! Spec: https://hl7.org/fhir/R4/fhirpath.html and http://hl7.org/fhirpath/N1/
//!
//! Covered: paths (JSON arrays flatten, choice elements such as `value` select whichever
//! `valueQuantity`, `valueString`, … is present), `|`, `where(…)`, `exists()`, `empty()`,
//! `not()`, `first()`, `last()`, `hasValue()`, indexers, `=`/`!=` with literal strings,
//! integers and booleans, `and`/`or`/`xor`/`implies`, `is`/`as` (operators and functions),
//! `ofType()`, `extension(url)`, `resolve()` (see [`Expression::evaluate`]) and `%resource`.
//! Everything else is refused at compile time with an [`Unsupported`] reason.

mod check;
mod evaluate;
mod lexer;
mod navigate;
mod parse;
mod report;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::LazyLock;

use sonic_rs::Value;

use crate::definitions::{search_parameters, SearchParameterDefinition};

pub use report::{coverage_report, implied_code_system, selected_types, support};

/// Why an expression is outside the supported subset (or not an expression at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unsupported {
    reason: String,
}

impl Unsupported {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Unsupported {
            reason: reason.into(),
        }
    }

    /// A human-readable explanation, e.g. `function children() is not supported`.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// An element selected from a resource, with its FHIR type.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// The element's JSON: an object for a complex type or resource, a string, number or
    /// boolean for a primitive. A resource that passed structural validation can still hold an
    /// unexpected shape here (a string where the type says object), so check before use.
    pub value: &'a Value,
    /// The element's FHIR type as R4 spells it: `HumanName`, `date`, `code`, `Quantity`,
    /// `BackboneElement`, or a resource type (`Patient`) for a resource or a reference target.
    /// From the element's definition, the suffix of a choice member (`valueQuantity` →
    /// `Quantity`), or `resourceType` for resources.
    pub fhir_type: &'static str,
    /// Where the type table lists this node's children: the type name, or for a backbone
    /// element its path (`Observation.component`); empty when it has none.
    children: &'static str,
}

impl Node<'_> {
    /// Where the type table lists this node's children, for [`crate::definitions::child_element`]:
    /// the type name (`HumanName`), or for a backbone element its path (`Patient.contact`);
    /// empty for a primitive.
    pub fn children_owner(&self) -> &'static str {
        self.children
    }

    /// What makes two nodes the same element of the resource (not merely equal JSON).
    fn identity(&self) -> (*const Value, &'static str) {
        (self.value, self.fhir_type)
    }
}

/// A FHIRPath expression compiled once, to be evaluated over many resources.
#[derive(Debug, Clone)]
pub struct Expression {
    text: String,
    tree: parse::Expr,
}

impl Expression {
    /// Compiles `text`, or says why it is outside the supported subset.
    pub fn compile(text: &str) -> Result<Expression, Unsupported> {
        Ok(Expression {
            text: text.to_owned(),
            tree: parse::parse(text)?,
        })
    }

    /// The expression's source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The elements this expression selects from `resource`, in document order per branch.
    ///
    /// A path opens with a type name: `Patient.name` selects nothing from an Observation, so
    /// `Patient.name | Practitioner.name` works on both, and `Resource.meta.tag` on any
    /// resource. Nothing is selected if `resource` has no R4 `resourceType`.
    ///
    /// `resolve()` fetches nothing: a `#id` reference resolves to the contained resource and
    /// any other to a node typed by the reference (`Patient/1`, `…/fhir/Patient/1`, or
    /// `Reference.type`) whose content is unknown, which is what `where(resolve() is Patient)`
    /// needs.
    pub fn evaluate<'a>(&self, resource: &'a Value) -> Vec<Node<'a>> {
        let Some(root) = Node::resource(resource) else {
            return Vec::new();
        };
        let environment = evaluate::Environment {
            resource: Some(root),
        };
        environment.evaluate(&self.tree, &[root])
    }

    /// The elements this relative expression selects from `context`, a node selected from
    /// `resource` (which `%resource` refers to): how a composite parameter's components
    /// (`code`, `value.as(Quantity)`) are read from each node its own expression selects.
    pub fn evaluate_on<'a>(&self, context: &Node<'a>, resource: &'a Value) -> Vec<Node<'a>> {
        let environment = evaluate::Environment {
            resource: Node::resource(resource),
        };
        environment.evaluate(&self.tree, std::slice::from_ref(context))
    }

    fn tree(&self) -> &parse::Expr {
        &self.tree
    }
}

/// An official search parameter's expressions, compiled.
#[derive(Debug, Clone)]
pub struct CompiledSearchParameter {
    /// `SearchParameter.expression`, evaluated on the whole resource.
    pub expression: Expression,
    /// `SearchParameter.component.expression`, in order, each evaluated with
    /// [`Expression::evaluate_on`] on a node `expression` selects. Empty unless composite.
    pub components: Vec<Expression>,
}

/// Every official parameter's compiled expressions (or why not), by canonical url.
static COMPILED: LazyLock<HashMap<&'static str, Result<CompiledSearchParameter, Unsupported>>> =
    LazyLock::new(|| {
        search_parameters()
            .iter()
            .map(|definition| (definition.url.as_str(), compile_definition(definition)))
            .collect()
    });

fn compile_definition(
    definition: &SearchParameterDefinition,
) -> Result<CompiledSearchParameter, Unsupported> {
    let text = definition.expression.as_deref().ok_or_else(|| {
        Unsupported::new("no FHIRPath expression: the server must implement it by other means")
    })?;
    let expression = Expression::compile(text)?;
    let components = definition
        .component
        .iter()
        .map(|component| {
            Expression::compile(&component.expression).map_err(|error| {
                Unsupported::new(format!("component `{}`: {error}", component.expression))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(CompiledSearchParameter {
        expression,
        components,
    })
}

/// The compiled expressions of an official R4 search parameter (one of
/// [`search_parameters`]), compiled once for all on first use; or why they cannot be.
/// A definition that is not one of the official ones (another url, or another expression) is
/// refused: compile it with [`Expression::compile`] and keep the result.
pub fn compiled(
    definition: &SearchParameterDefinition,
) -> Result<&'static CompiledSearchParameter, Unsupported> {
    match COMPILED.get(definition.url.as_str()) {
        Some(Ok(compiled))
            if definition.expression.as_deref() == Some(compiled.expression.text()) =>
        {
            Ok(compiled)
        }
        Some(Err(error)) => Err(error.clone()),
        _ => Err(Unsupported::new(
            "not an official R4 search parameter: compile it with Expression::compile",
        )),
    }
}
