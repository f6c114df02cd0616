//! Specification tests of the FHIRPath subset, on small readable resources.

mod compile;
mod definitions;
mod examples;
mod functions;
mod paths;

use sonic_rs::Value;

use super::{Expression, Node};

fn parse(resource: &str) -> Value {
    sonic_rs::from_str(resource).expect("test resources are JSON")
}

/// What `expression` selects from `resource`: each node's FHIR type and compact JSON.
fn select(expression: &str, resource: &str) -> Vec<(&'static str, String)> {
    let compiled = Expression::compile(expression).expect("test expressions compile");
    let resource = parse(resource);
    described(&compiled.evaluate(&resource))
}

fn described(nodes: &[Node<'_>]) -> Vec<(&'static str, String)> {
    nodes
        .iter()
        .map(|node| (node.fhir_type, sonic_rs::to_string(node.value).unwrap()))
        .collect()
}

/// The expected result of [`select`]: `(type, JSON)` pairs.
fn nodes<const N: usize>(expected: [(&'static str, &str); N]) -> Vec<(&'static str, String)> {
    expected
        .into_iter()
        .map(|(fhir_type, json)| (fhir_type, json.to_owned()))
        .collect()
}
