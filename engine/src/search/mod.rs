//! Search requests: the query string parsed against the R4 SearchParameter definitions into
//! criteria and result controls that storage turns into SQL.
//! Spec: https://hl7.org/fhir/R4/search.html
//!
//! Parsing is strict about values (a malformed date is a 400 naming the parameter) and lenient
//! about names: an unknown parameter is ignored and reported, unless the client asked for
//! `Prefer: handling=strict`, as the spec's "Handling Errors" section describes.

mod canonical_url;
mod criteria;
mod escape;
mod full_text;
mod result;
mod subset;
mod summary;
mod value;

pub use criteria::{compartment_criterion, list_ids, Criterion, ParamRef};
pub use escape::{split_unescaped, unescape};
pub use full_text::{parse_text_query, TextQuery};
pub use result::{Include, SortKey, Summary, Total};
pub use subset::subset;
pub use value::{is_full_text, Modifier, Prefix, SearchValue, SystemMatch};

use crate::{Error, Issue, ResourceType};

/// The most steps one parameter may take through chains and `_has` together
/// (`subject:Patient.organization.partof.name` takes three). Parsing and SQL building recurse
/// once per step; without a bound, a long enough name would exhaust the stack.
pub const MAX_CHAIN_DEPTH: usize = 16;

/// The most criteria one search may combine by AND (repeated or different parameters; OR
/// within a value is not limited). Each is a condition PostgreSQL plans and tests; 200
/// repetitions of `name=a` took 22 s of one core to answer on a database of 70 resources.
pub const MAX_CRITERIA: usize = 64;

/// What a search runs over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `GET [base]/[type]?…`
    Type(ResourceType),
    /// `GET [base]?…`, over the types in `_type`, or every type when it is absent.
    System(Vec<ResourceType>),
}

impl Scope {
    pub fn types(&self) -> Vec<ResourceType> {
        match self {
            Scope::Type(kind) => vec![*kind],
            Scope::System(kinds) if kinds.is_empty() => ResourceType::all().collect(),
            Scope::System(kinds) => kinds.clone(),
        }
    }
}

/// A parsed search: criteria (all must hold) and how to shape the result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub scope: Scope,
    pub criteria: Vec<Criterion>,
    pub sort: Vec<SortKey>,
    /// `_count`; `None` means the server's default page size.
    pub count: Option<usize>,
    pub total: Total,
    pub summary: Summary,
    /// `_elements`, the top-level element names to keep.
    pub elements: Vec<String>,
    pub includes: Vec<Include>,
    pub revincludes: Vec<Include>,
    /// The opaque keyset cursor of a next page, from a link Ember wrote.
    pub cursor: Option<String>,
    /// The parameters applied, as sent, for the Bundle's self link.
    pub applied: Vec<(String, String)>,
    /// Parameters Ember does not know and ignored; reported in the Bundle.
    pub ignored: Vec<String>,
    /// This server's FHIR base as the searcher reached it: `_include` follows an absolute
    /// reference under it as a local one (`index::localise_reference`). `None`: none is local.
    pub local_base: Option<String>,
}

/// Parses the query parameters of a search in `scope`.
///
/// `params` are percent-decoded name/value pairs in request order (a repeated name is an
/// AND). With `strict`, an unknown parameter is an error instead of being ignored.
///
/// # Errors
/// [`Error::InvalidSearch`] with an issue per bad parameter, each naming it.
pub fn parse_search(
    scope: Scope,
    params: &[(String, String)],
    strict: bool,
) -> Result<SearchQuery, Error> {
    let mut query = SearchQuery {
        scope,
        criteria: Vec::new(),
        sort: Vec::new(),
        count: None,
        total: Total::None,
        summary: Summary::False,
        elements: Vec::new(),
        includes: Vec::new(),
        revincludes: Vec::new(),
        cursor: None,
        applied: Vec::new(),
        ignored: Vec::new(),
        local_base: None,
    };
    let mut issues = Vec::new();
    // `_type` first: it decides which parameters the others may name.
    for (name, value) in params.iter().filter(|(name, _)| name == "_type") {
        match result::parse_types(value) {
            Ok(types) if matches!(query.scope, Scope::System(_)) => {
                query.scope = Scope::System(types);
                query.applied.push((name.clone(), value.clone()));
            }
            Ok(_) => issues.push(
                Issue::error("invalid", "_type is only for searches across all types").at("_type"),
            ),
            Err(message) => issues.push(Issue::error("invalid", message).at("_type")),
        }
    }
    let types = query.scope.types();
    for (name, value) in params {
        // search.html#errors: "Empty parameters are not an error - they are just ignored".
        if name == "_type" || ignored_by_search(name) || value.is_empty() {
            continue;
        }
        if crate::json::forbidden_control_character(value).is_some() {
            // No FHIR string holds one (datatypes.html#string), so it would match nothing;
            // and PostgreSQL's text cannot hold U+0000 at all.
            issues.push(
                Issue::error("invalid", "A search value may not hold control characters")
                    .at(name.as_str()),
            );
            continue;
        }
        if name.matches('.').count() + name.matches("_has:").count() > MAX_CHAIN_DEPTH {
            issues.push(
                Issue::error(
                    "too-costly",
                    format!(
                        "A parameter may go through at most {MAX_CHAIN_DEPTH} chain or _has steps"
                    ),
                )
                .at(name.as_str()),
            );
            continue;
        }
        let outcome = if name.starts_with('_') && result::is_result_parameter(name) {
            result::apply(&mut query, name, value, &types).map(|()| true)
        } else {
            criteria::parse(&types, name, value).map(|parsed| match parsed {
                Some(criterion) => {
                    query.criteria.push(criterion);
                    true
                }
                None => false,
            })
        };
        match outcome {
            Ok(true) => query.applied.push((name.clone(), value.clone())),
            Ok(false) if strict => issues.push(
                Issue::error(
                    "not-supported",
                    format!("Unknown search parameter '{name}'"),
                )
                .at(name.as_str()),
            ),
            Ok(false) => query.ignored.push(name.clone()),
            Err(message) => issues.push(Issue::error("invalid", message).at(name.as_str())),
        }
    }
    if query.criteria.len() > MAX_CRITERIA {
        issues.push(Issue::error(
            "too-costly",
            format!(
                "A search may combine at most {MAX_CRITERIA} criteria ({} given); combine values of one parameter with commas (OR) instead, or narrow it",
                query.criteria.len()
            ),
        ));
    }
    if issues.is_empty() {
        Ok(query)
    } else {
        Err(Error::InvalidSearch(issues))
    }
}

/// Parameters about the response format, which HTTP handles and search leaves alone.
fn ignored_by_search(name: &str) -> bool {
    matches!(name, "_format" | "_pretty")
}
