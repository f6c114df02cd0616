//! Which official R4 search parameters the FHIRPath subset evaluates, and the Markdown report
//! of it checked in as `docs/search-parameters.md`.
//!
//! Spec: https://hl7.org/fhir/R4/searchparameter.html and https://hl7.org/fhir/R4/search.html#special

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::check::{infer, Scope};
use super::{compiled, Unsupported};
use crate::definitions::{search_parameters, SearchParamType, SearchParameterDefinition};

/// The FHIR types `definition`'s expression can select (for a composite, what its own
/// expression selects, the components being checked too), if the expressions compile and
/// every element they name exists in R4; otherwise why not.
pub fn selected_types(
    definition: &SearchParameterDefinition,
) -> Result<Vec<&'static str>, Unsupported> {
    let compiled = compiled(definition)?;
    let bases = base_scopes(definition);
    let selected = infer(compiled.expression.tree(), &bases, &bases)?;
    for component in &compiled.components {
        infer(component.tree(), &selected, &bases).map_err(|error| {
            Unsupported::new(format!("component `{}`: {error}", component.text()))
        })?;
    }
    let mut types: Vec<&'static str> = Vec::with_capacity(selected.len());
    for scope in &selected {
        if !types.contains(&scope.fhir_type) {
            types.push(scope.fhir_type);
        }
    }
    Ok(types)
}

/// The code system implied for every value `definition` selects, when each is a `code`
/// element bound to the same single system (`gender`: `http://hl7.org/fhir/
/// administrative-gender`; see [`crate::definitions::implicit_code_system`]). Such values are
/// indexed without a system, as sent; a search naming that system means the same code.
pub fn implied_code_system(definition: &SearchParameterDefinition) -> Option<&'static str> {
    static BY_URL: std::sync::LazyLock<HashMap<&'static str, &'static str>> =
        std::sync::LazyLock::new(|| {
            search_parameters()
                .iter()
                .filter(|definition| definition.kind == SearchParamType::Token)
                .filter_map(|definition| {
                    infer_implied_code_system(definition)
                        .map(|system| (definition.url.as_str(), system))
                })
                .collect()
        });
    BY_URL.get(definition.url.as_str()).copied()
}

fn infer_implied_code_system(definition: &SearchParameterDefinition) -> Option<&'static str> {
    let compiled = compiled(definition).ok()?;
    if !compiled.components.is_empty() {
        return None;
    }
    let bases = base_scopes(definition);
    let selected = infer(compiled.expression.tree(), &bases, &bases).ok()?;
    let mut systems = selected.iter().map(|scope| {
        (scope.fhir_type == "code")
            .then(|| crate::definitions::implicit_code_system(scope.element))
            .flatten()
    });
    let first = systems.next()??;
    systems.all(|system| system == Some(first)).then_some(first)
}

/// The scopes a parameter's expression starts from: each of its base resource types.
fn base_scopes(definition: &SearchParameterDefinition) -> Vec<Scope> {
    definition
        .base
        .iter()
        .filter_map(|base| crate::definitions::type_definition(base))
        .map(|base| Scope::of_type(base.name))
        .collect()
}

/// Whether Ember can extract `definition`'s values with this module, or why not: its
/// expressions must compile and name only R4 elements (see [`selected_types`]). The one
/// `special` parameter, `Location.near`, is extracted as the position's latitude and
/// longitude (`index::extract`) and searched by distance in the database.
pub fn support(definition: &SearchParameterDefinition) -> Result<(), Unsupported> {
    selected_types(definition).map(drop)
}

/// The Markdown of `docs/search-parameters.md`: every official R4 search parameter, grouped
/// by base, with whether [`support`] accepts it and why not. `refuse` adds reasons of later
/// stages (e.g. what the database does not index yet); a `Some` marks the parameter
/// unsupported with that reason.
pub fn coverage_report(refuse: impl Fn(&SearchParameterDefinition) -> Option<String>) -> String {
    let verdicts: Vec<(&SearchParameterDefinition, Result<Vec<&str>, String>)> =
        search_parameters()
            .iter()
            .map(|definition| {
                // No FHIRPath: Ember extracts these itself as full-text documents
                // (engine::index::extract) and searches them with PostgreSQL full text.
                if crate::search::is_full_text(&definition.code) {
                    return (
                        definition,
                        Ok(vec!["full text (narrative or whole resource)"]),
                    );
                }
                // What `support` checks, keeping the types for the report.
                let verdict = selected_types(definition)
                    .map_err(|error| error.to_string())
                    .and_then(|types| refuse(definition).map_or(Ok(types), Err));
                (definition, verdict)
            })
            .collect();
    let supported = verdicts.iter().filter(|(_, v)| v.is_ok()).count();
    let mut reasons: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (definition, verdict) in &verdicts {
        if let Err(reason) = verdict {
            let label = format!("`{}` ({})", definition.code, definition.base.join(", "));
            reasons.entry(reason).or_default().push(label);
        }
    }
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, (definition, _)) in verdicts.iter().enumerate() {
        let group = match definition.base.as_slice() {
            [single] if single == "Resource" || single == "DomainResource" => {
                "All resources".to_owned()
            }
            [single] => single.clone(),
            _ => "Several resource types".to_owned(),
        };
        groups.entry(group).or_default().push(index);
    }

    let mut out = String::new();
    let _ = writeln!(out, "# R4 search parameters\n");
    let _ = writeln!(
        out,
        "Generated by `engine::fhirpath::coverage_report`; do not edit. Regenerate with\n\
         `EMBER_UPDATE_DOCS=1 cargo test -p engine search_parameters_md`.\n"
    );
    let _ = writeln!(
        out,
        "**{supported} of {} official R4 search parameters are supported**: their FHIRPath \
         expression compiles, every element it names exists in R4, and its values can be \
         extracted at write time (`_text` and `_content` have no expression: Ember indexes \
         them as PostgreSQL full-text documents). \"Selects\" lists the FHIR types the \
         expression can return.\n",
        verdicts.len()
    );
    if !reasons.is_empty() {
        let _ = writeln!(out, "Not supported:\n");
        for (reason, labels) in &reasons {
            let _ = writeln!(out, "- {}: {}", escape(reason), labels.join(", "));
        }
        out.push('\n');
    }
    for (group, indexes) in &groups {
        let _ = writeln!(out, "## {group}\n");
        let _ = writeln!(out, "| Code | Base | Type | Expression | Selects |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for &index in indexes {
            let (definition, verdict) = &verdicts[index];
            let selects = match verdict {
                Ok(types) => types.join(", "),
                Err(reason) => format!("**unsupported**: {}", escape(reason)),
            };
            let mut expression = match &definition.expression {
                Some(text) => format!("`{}`", escape(text)),
                None => "(none)".to_owned(),
            };
            for component in &definition.component {
                let _ = write!(expression, "<br>→ `{}`", escape(&component.expression));
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                definition.code,
                definition.base.join(", "),
                format!("{:?}", definition.kind).to_lowercase(),
                expression,
                selects
            );
        }
        out.push('\n');
    }
    out
}

/// Keeps text inside one Markdown table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
