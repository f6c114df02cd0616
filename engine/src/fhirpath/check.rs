//! Checks a compiled expression against the R4 type table without a resource: every element
//! it names must exist on some type the path can reach there, and every `as` must be able to
//! match. This finds the official expressions that name elements R4 does not define, and
//! tells which FHIR types each parameter can select.
//!
//! Spec: http://hl7.org/fhirpath/N1/#types-and-reflection

use super::evaluate::conforms;
use super::parse::{Expr, Function};
use super::Unsupported;
use crate::definitions::{child_element, type_definition, TypeKind};

/// What a step may select, statically: a FHIR type and where its children are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scope {
    pub(super) fhir_type: &'static str,
    children: &'static str,
    /// The R4 element path the value was selected from (`Patient.gender`), when it was
    /// selected as a single-typed member; empty otherwise.
    pub(super) element: &'static str,
}

impl Scope {
    /// The scope of a type name (resources and datatypes list their children by name).
    pub(super) fn of_type(fhir_type: &'static str) -> Scope {
        Scope {
            fhir_type,
            children: fhir_type,
            element: "",
        }
    }

    const BOOLEAN: Scope = Scope {
        fhir_type: "boolean",
        children: "",
        element: "",
    };
}

/// The scopes `expression` may select from `input`, given the scopes `%resource` may be.
pub(super) fn infer(
    expression: &Expr,
    input: &[Scope],
    resource: &[Scope],
) -> Result<Vec<Scope>, Unsupported> {
    let boolean = || Ok(vec![Scope::BOOLEAN]);
    match expression {
        Expr::This => Ok(input.to_vec()),
        Expr::Resource => Ok(resource.to_vec()),
        Expr::TypeRoot(wanted) => {
            let selected: Vec<Scope> = input
                .iter()
                .filter_map(|scope| narrow(scope, wanted))
                .collect();
            if selected.is_empty() {
                let types = names(input);
                return Err(Unsupported::new(format!(
                    "the path opens with {wanted}, which the input ({types}) never is"
                )));
            }
            Ok(dedup(selected))
        }
        Expr::Member(base, name) => {
            let base = infer(base, input, resource)?;
            let mut selected = Vec::new();
            for scope in &base {
                let Some(element) = child_element(scope.children, name) else {
                    continue;
                };
                if element.is_choice() {
                    selected.extend(element.types.iter().map(|t| Scope::of_type(t)));
                } else if element.types[0] == "Resource" {
                    selected.push(Scope::of_type("Resource"));
                } else {
                    selected.push(Scope {
                        fhir_type: element.types[0],
                        children: element.children,
                        element: element.path,
                    });
                }
            }
            if selected.is_empty() && !base.is_empty() {
                return Err(Unsupported::new(format!(
                    "R4 defines no element {name} on {}",
                    names(&base)
                )));
            }
            Ok(dedup(selected))
        }
        Expr::Call(base, function) => {
            let base = infer(base, input, resource)?;
            match function {
                Function::Where(criteria) | Function::Exists(Some(criteria)) => {
                    for scope in &base {
                        infer(criteria, std::slice::from_ref(scope), resource)?;
                    }
                    if matches!(function, Function::Where(_)) {
                        Ok(base)
                    } else {
                        boolean()
                    }
                }
                Function::Exists(None) | Function::Empty | Function::Not | Function::HasValue => {
                    boolean()
                }
                Function::First | Function::Last => Ok(base),
                Function::Resolve => Ok(vec![Scope::of_type("Resource")]),
                Function::Extension(_) => Ok(vec![Scope::of_type("Extension")]),
            }
        }
        Expr::Index(base, _) => infer(base, input, resource),
        Expr::Union(left, right) => {
            let mut selected = infer(left, input, resource)?;
            selected.extend(infer(right, input, resource)?);
            Ok(dedup(selected))
        }
        Expr::Is(base, _) => {
            infer(base, input, resource)?;
            boolean()
        }
        Expr::As(base, wanted) => {
            let base = infer(base, input, resource)?;
            let selected: Vec<Scope> = base
                .iter()
                .filter_map(|scope| narrow(scope, wanted))
                .collect();
            if selected.is_empty() && !base.is_empty() {
                return Err(Unsupported::new(format!(
                    "as {wanted}: the element is never one (it is {})",
                    names(&base)
                )));
            }
            Ok(dedup(selected))
        }
        Expr::Equality { left, right, .. } | Expr::Logic(_, left, right) => {
            infer(left, input, resource)?;
            infer(right, input, resource)?;
            boolean()
        }
        Expr::Boolean(_) => boolean(),
        Expr::String(_) | Expr::Integer(_) => Ok(Vec::new()),
    }
}

/// `scope` seen as a `wanted`, if it can be one: itself if it conforms, or `wanted` when
/// `scope` is an abstract resource (`Resource`) that a concrete `wanted` resource may be.
fn narrow(scope: &Scope, wanted: &'static str) -> Option<Scope> {
    if conforms(scope.fhir_type, wanted) {
        return Some(*scope);
    }
    let abstract_resource = matches!(scope.fhir_type, "Resource" | "DomainResource");
    let wanted_resource = type_definition(wanted).is_some_and(|t| t.kind == TypeKind::Resource);
    (abstract_resource && wanted_resource).then(|| Scope::of_type(wanted))
}

fn dedup(mut scopes: Vec<Scope>) -> Vec<Scope> {
    let mut seen = Vec::with_capacity(scopes.len());
    scopes.retain(|scope| {
        let new = !seen.contains(scope);
        seen.push(*scope);
        new
    });
    scopes
}

fn names(scopes: &[Scope]) -> String {
    let mut names: Vec<&str> = scopes.iter().map(|scope| scope.fhir_type).collect();
    names.dedup();
    names.join(", ")
}
