//! The result parameters: `_sort`, `_count`, `_total`, `_summary`, `_elements`, `_include`,
//! `_revinclude`, and Ember's paging cursor.
//! Spec: https://hl7.org/fhir/R4/search.html#return

use super::criteria::ParamRef;
use super::SearchQuery;
use crate::definitions::{search_parameter, SearchParamType};
use crate::ResourceType;

/// One `_sort` key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SortKey {
    pub param: ParamRef,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    None,
    Estimate,
    Accurate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    False,
    True,
    Text,
    Data,
    Count,
}

/// One `_include` or `_revinclude`: resources of `source_type` refer through `param` to the
/// included ones; `target_type` narrows the referred type. `param` is `None` for `*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    pub source_type: ResourceType,
    pub param: Option<ParamRef>,
    pub target_type: Option<ResourceType>,
    /// `:iterate` (R4; `:recurse` in older versions): apply to included resources too.
    pub iterate: bool,
}

impl Include {
    /// Every resource a `source_type` resource refers to, through any reference parameter
    /// (`_include=Type:*`, and what `_include=*` means for each type searched).
    pub fn every_reference_of(source_type: ResourceType, iterate: bool) -> Include {
        Include {
            source_type,
            param: None,
            target_type: None,
            iterate,
        }
    }
}

pub(super) fn is_result_parameter(name: &str) -> bool {
    let base = name.split(':').next().unwrap_or(name);
    matches!(
        base,
        "_sort"
            | "_count"
            | "_total"
            | "_summary"
            | "_elements"
            | "_include"
            | "_revinclude"
            | "_cursor"
    )
}

pub(super) fn parse_types(value: &str) -> Result<Vec<ResourceType>, String> {
    value
        .split(',')
        .map(|name| {
            ResourceType::parse(name).ok_or_else(|| format!("'{name}' is not an R4 resource type"))
        })
        .collect()
}

pub(super) fn apply(
    query: &mut SearchQuery,
    name: &str,
    value: &str,
    types: &[ResourceType],
) -> Result<(), String> {
    match name {
        "_sort" => {
            for key in value.split(',') {
                let (code, descending) = match key.strip_prefix('-') {
                    Some(code) => (code, true),
                    None => (key, false),
                };
                let param = sortable(types, code)?;
                query.sort.push(SortKey { param, descending });
            }
        }
        "_count" => {
            query.count = Some(match value.parse() {
                Ok(count) => count,
                // More than any page size: cut to the maximum, as any _count over it is.
                Err(_) if value.bytes().all(|byte| byte.is_ascii_digit()) => usize::MAX,
                Err(_) => return Err(format!("_count must be a whole number, not '{value}'")),
            });
        }
        "_total" => {
            query.total = match value {
                "none" => Total::None,
                "estimate" => Total::Estimate,
                "accurate" => Total::Accurate,
                _ => {
                    return Err(format!(
                        "_total is none, estimate or accurate, not '{value}'"
                    ))
                }
            };
        }
        "_summary" => {
            query.summary = match value {
                "true" => Summary::True,
                "text" => Summary::Text,
                "data" => Summary::Data,
                "count" => Summary::Count,
                "false" => Summary::False,
                _ => {
                    return Err(format!(
                        "_summary is true, text, data, count or false, not '{value}'"
                    ))
                }
            };
        }
        "_elements" => {
            query.elements.extend(
                value
                    .split(',')
                    .filter(|element| !element.is_empty())
                    .map(str::to_owned),
            );
        }
        "_cursor" => query.cursor = Some(value.to_owned()),
        _ => {
            let (base, modifier) = name.split_once(':').unwrap_or((name, ""));
            let iterate = match modifier {
                "" => false,
                "iterate" | "recurse" => true,
                other => return Err(format!("Unknown modifier ':{other}' on {base}")),
            };
            if base == "_include" && value == "*" {
                // Every reference of the matches, whatever their type (search.html#include:
                // "the special value '*' ... include all referenced resources"); iterated,
                // every reference of the included resources too, whatever theirs.
                let sources: Vec<ResourceType> = if iterate {
                    ResourceType::all().collect()
                } else {
                    types.to_vec()
                };
                query.includes.extend(
                    sources
                        .into_iter()
                        .map(|source_type| Include::every_reference_of(source_type, iterate)),
                );
                return Ok(());
            }
            let include = parse_include(value, iterate)?;
            if base == "_include" {
                query.includes.push(include);
            } else {
                query.revincludes.push(include);
            }
        }
    }
    Ok(())
}

fn sortable(types: &[ResourceType], code: &str) -> Result<ParamRef, String> {
    let kind = types.first().map_or("Resource", |kind| kind.as_str());
    let definition = search_parameter(kind, code).ok_or_else(|| {
        format!("'{code}' is not a search parameter of {kind}, so it cannot sort")
    })?;
    match definition.kind {
        SearchParamType::Composite | SearchParamType::Special => Err(format!(
            "'{code}' is a {:?} parameter, which Ember cannot sort by",
            definition.kind
        )),
        _ => Ok(ParamRef { definition }),
    }
}

/// `Type:param`, `Type:param:TargetType` or `Type:*` (every reference parameter of Type).
fn parse_include(value: &str, iterate: bool) -> Result<Include, String> {
    if value == "*" {
        // Only `_include=*` is handled (by `apply`): the resources that could refer to a
        // page are of any type, and the reference index is ordered by the referring type.
        return Err(
            "_revinclude=* is not supported; name the referring type, as in Observation:*".into(),
        );
    }
    let mut parts = value.split(':');
    let source = parts.next().unwrap_or_default();
    let source_type = ResourceType::parse(source).ok_or_else(|| {
        format!("'{value}' must begin with a resource type, as in Observation:subject")
    })?;
    let param = match parts.next() {
        None | Some("*") => None,
        Some(code) => Some(
            search_parameter(source, code)
                .filter(|definition| definition.kind == SearchParamType::Reference)
                .map(|definition| ParamRef { definition })
                .ok_or_else(|| format!("'{code}' is not a reference parameter of {source}"))?,
        ),
    };
    let target_type = match parts.next() {
        None => None,
        Some(name) => Some(
            ResourceType::parse(name)
                .ok_or_else(|| format!("'{name}' is not an R4 resource type"))?,
        ),
    };
    if parts.next().is_some() {
        return Err(format!(
            "'{value}' has too many parts; use Type:param[:TargetType]"
        ));
    }
    // A target the parameter can never point to would include nothing, silently.
    if let (Some(param), Some(target)) = (&param, target_type) {
        let targets = &param.definition.target;
        if !targets.is_empty() && !targets.iter().any(|name| name == target.as_str()) {
            return Err(format!(
                "{source}:{} never refers to a {target} (it refers to {})",
                param.code(),
                targets.join(", ")
            ));
        }
    }
    Ok(Include {
        source_type,
        param,
        target_type,
        iterate,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{parse_search, Scope};
    use super::*;

    fn parse(params: &[(&str, &str)]) -> Result<SearchQuery, crate::Error> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect();
        parse_search(
            Scope::Type(ResourceType::parse("Observation").unwrap()),
            &params,
            false,
        )
    }

    #[test]
    fn sort_keys_keep_their_order_and_direction() {
        let query = parse(&[("_sort", "-date,code")]).unwrap();
        assert_eq!(query.sort.len(), 2);
        assert!(query.sort[0].descending && !query.sort[1].descending);
    }

    #[test]
    fn include_star_follows_every_reference_of_the_searched_type() {
        let query = parse(&[("_include", "*")]).unwrap();
        assert_eq!(query.includes.len(), 1);
        assert_eq!(query.includes[0].source_type.as_str(), "Observation");
        assert_eq!(query.includes[0].param, None);
        assert!(parse(&[("_revinclude", "*")]).is_err());
    }

    #[test]
    fn include_with_a_target_its_parameter_never_refers_to_is_an_error() {
        assert!(parse(&[("_include", "Observation:subject:Patient")]).is_ok());
        assert!(parse(&[("_include", "Observation:subject:Medication")]).is_err());
    }

    #[test]
    fn include_with_target_type_and_iterate() {
        let query = parse(&[("_include:iterate", "Observation:subject:Patient")]).unwrap();
        let include = &query.includes[0];
        assert!(include.iterate);
        assert_eq!(include.target_type, ResourceType::parse("Patient"));
    }

    #[test]
    fn bad_result_values_are_errors_naming_the_parameter() {
        let Err(crate::Error::InvalidSearch(issues)) = parse(&[("_count", "ten")]) else {
            panic!()
        };
        assert_eq!(issues[0].expression.as_deref(), Some("_count"));
        assert!(parse(&[("_include", "Observation:code")]).is_err());
        assert!(parse(&[("_sort", "code-value-quantity")]).is_err());
    }

    #[test]
    fn unknown_parameters_are_ignored_unless_strict() {
        let query = parse(&[("shoe-size", "42"), ("code", "1")]).unwrap();
        assert_eq!(query.ignored, ["shoe-size"]);
        assert_eq!(query.applied, [("code".to_owned(), "1".to_owned())]);
        let strict = parse_search(
            Scope::Type(ResourceType::parse("Observation").unwrap()),
            &[("shoe-size".into(), "42".into())],
            true,
        );
        assert!(strict.is_err());
    }

    #[test]
    fn a_named_query_is_not_supported_so_it_is_ignored_not_matched_against() {
        let query = parse(&[("_query", "everything-recent"), ("code", "1")]).unwrap();
        assert_eq!(query.ignored, ["_query"]);
        assert_eq!(query.criteria.len(), 1);
    }
}
