//! FHIR search: GET and POST `_search` at type level, across all types, and in compartments.
//! Spec: https://hl7.org/fhir/R4/http.html#search and https://hl7.org/fhir/R4/search.html

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use engine::search::{
    compartment_criterion, parse_search, Criterion, Scope, SearchQuery, SearchValue,
};
use engine::{Issue, ResourceType, Severity};
use storage::TenantKey;

use super::resource_type_from_path;
use crate::bundle::{BundleWriter, SearchMode};
use crate::error::ApiError;
use crate::negotiation::response_format;
use crate::query::QueryParams;
use crate::respond::{base_url, json_response};
use crate::state::AppState;

/// Where a search runs, as the URL says.
enum Target {
    Type(ResourceType),
    System,
    /// `[base]/Patient/123/Observation`, or `[base]/Patient/123/*` with `None`.
    Compartment {
        owner: ResourceType,
        id: String,
        searched: Option<ResourceType>,
    },
}

pub(crate) async fn type_get(
    state: State<AppState>,
    Path(type_name): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let target = Target::Type(resource_type_from_path(&type_name)?);
    search(state, target, uri, headers, query).await
}

pub(crate) async fn type_post(
    state: State<AppState>,
    Path(type_name): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = Target::Type(resource_type_from_path(&type_name)?);
    let params = with_form_body(query, &headers, &body)?;
    search(state, target, uri, headers, params).await
}

pub(crate) async fn system_get(
    state: State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    search(state, Target::System, uri, headers, query).await
}

pub(crate) async fn system_post(
    state: State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = with_form_body(query, &headers, &body)?;
    search(state, Target::System, uri, headers, params).await
}

/// `GET [base]/[compartment]/[id]/[type]` and `GET [base]/[compartment]/[id]/*`.
pub(crate) async fn compartment_get(
    state: State<AppState>,
    Path((owner, id, searched)): Path<(String, String, String)>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let owner = resource_type_from_path(&owner)?;
    if engine::definitions::compartment(owner.as_str()).is_none() {
        return Err(ApiError::not_found(format!(
            "{owner} has no compartment in FHIR R4"
        )));
    }
    super::id_from_path(&id)?;
    if searched == "$everything" {
        return everything(state, owner, id, uri, headers, query).await;
    }
    let searched = match searched.as_str() {
        "*" => None,
        name => Some(resource_type_from_path(name)?),
    };
    search(
        state,
        Target::Compartment {
            owner,
            id,
            searched,
        },
        uri,
        headers,
        query,
    )
    .await
}

/// `GET [base]/Patient/[id]/$everything`: the patient and everything in its compartment,
/// with `_since` (changed since), `_type` (only these types) and `_count`, paged like a search.
/// Spec: https://hl7.org/fhir/R4/patient-operation-everything.html
async fn everything(
    state: State<AppState>,
    owner: ResourceType,
    id: String,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    if owner.as_str() != "Patient" {
        return Err(ApiError::not_found(format!(
            "$everything is defined on Patient, not {owner}"
        )));
    }
    let store = state.ember().routing().for_reads().clone();
    let patient_id = super::id_from_path(&id)?;
    match store.read(TenantKey::DEFAULT, owner, &patient_id).await? {
        Some(current) if current.body.is_some() => {}
        Some(_) => {
            return Err(ApiError::new(
                engine::Category::Gone,
                format!("Patient/{id} was deleted"),
            ))
        }
        None => return Err(ApiError::not_found(format!("Patient/{id} is not known"))),
    }
    let mut params = Vec::new();
    for (name, value) in query.into_pairs() {
        match name.as_str() {
            "_since" => params.push(("_lastUpdated".to_owned(), format!("ge{value}"))),
            "_count" | "_cursor" | "_type" | "_format" | "_pretty" => params.push((name, value)),
            _ => {
                return Err(ApiError::invalid(format!(
                    "$everything does not take the parameter '{name}'"
                )))
            }
        }
    }
    search(
        state,
        Target::Compartment {
            owner,
            id,
            searched: None,
        },
        uri,
        headers,
        QueryParams::from_pairs(params),
    )
    .await
}

/// The URL's parameters followed by those of an `application/x-www-form-urlencoded` body.
fn with_form_body(
    query: QueryParams,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<QueryParams, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !body.is_empty() && !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::new(
            engine::Category::Invalid,
            "POST _search takes its parameters as application/x-www-form-urlencoded",
        ));
    }
    let mut params = query.into_pairs();
    params.extend(form_urlencoded::parse(body).into_owned());
    Ok(QueryParams::from_pairs(params))
}

async fn search(
    State(state): State<AppState>,
    target: Target,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let format = response_format(&headers, &query)?;
    let params = query.into_pairs();
    let settings = state.settings();
    let base = base_url(settings.base_url.as_deref(), &headers);
    let strict = prefers_strict_handling(&headers);
    let scope = match &target {
        Target::Type(kind)
        | Target::Compartment {
            searched: Some(kind),
            ..
        } => Scope::Type(*kind),
        Target::System | Target::Compartment { searched: None, .. } => Scope::System(Vec::new()),
    };
    let mut query = parse_search(scope, &params, strict)?;
    localise_references(&mut query.criteria, &base);
    query.local_base = Some(base.clone());
    if let Target::Compartment {
        owner,
        id,
        searched,
    } = &target
    {
        restrict_to_compartment(&mut query, *owner, id, *searched)?;
    }
    let page_size = query
        .count
        .unwrap_or(settings.default_page_size as usize)
        .min(settings.max_page_size as usize);

    let store = state.ember().routing().for_reads().clone();
    let page = store
        .search(
            TenantKey::DEFAULT,
            &query,
            page_size,
            settings.search_time_limit(),
        )
        .await?;

    let path = uri.path().strip_prefix("/fhir").unwrap_or(uri.path());
    // A POST _search is answered with links a client can GET.
    let path = path.strip_suffix("/_search").unwrap_or(path);
    let self_url = link(&base, path, &query.applied, None);
    let next_url = page
        .next_cursor
        .as_deref()
        .map(|cursor| link(&base, path, &query.applied, Some(cursor)));
    let previous_url = page
        .previous_cursor
        .as_deref()
        .map(|cursor| link(&base, path, &query.applied, Some(cursor)));
    let mut links = vec![("self", self_url.as_str())];
    if let Some(next_url) = &next_url {
        links.push(("next", next_url.as_str()));
    }
    if let Some(previous_url) = &previous_url {
        links.push(("previous", previous_url.as_str()));
    }
    let capacity = page
        .matches
        .iter()
        .chain(&page.included)
        .map(|found| found.body.len() + 128)
        .sum();
    let mut bundle = BundleWriter::searchset(page.total, &links, capacity);
    for found in &page.matches {
        let body = engine::search::subset(&found.body, query.summary, &query.elements);
        bundle.push_search(
            &base,
            found,
            body.as_deref().unwrap_or(&found.body),
            SearchMode::Match,
        );
    }
    for found in &page.included {
        bundle.push_search(&base, found, &found.body, SearchMode::Include);
    }
    let mut issues: Vec<Issue> = query
        .ignored
        .iter()
        .map(|name| Issue {
            severity: Severity::Warning,
            code: "not-supported",
            diagnostics: format!("The search parameter '{name}' is not known here and was ignored"),
            expression: Some(name.clone()),
        })
        .collect();
    if page.included_truncated {
        issues.push(Issue {
            severity: Severity::Warning,
            code: "incomplete",
            diagnostics: format!(
                "Not every resource _include or _revinclude asked for is on this page: \
                 at most {} are included per page, and :iterate follows references {} rounds \
                 deep. Search for the rest directly, or ask for a smaller _count.",
                storage::MAX_INCLUDED,
                storage::MAX_INCLUDE_ITERATIONS
            ),
            expression: None,
        });
    }
    if !issues.is_empty() {
        bundle.push_outcome(&engine::operation_outcome(&issues));
    }
    json_response(StatusCode::OK, format, bundle.finish())
}

/// `Prefer: handling=strict` turns unknown parameters into errors.
fn prefers_strict_handling(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split([',', ';']))
        .any(|token| token.trim().replace(' ', "") == "handling=strict")
}

/// A reference searched by an absolute URL on this server is a local reference.
pub(crate) fn localise_references(criteria: &mut [Criterion], base: &str) {
    for criterion in criteria {
        match criterion {
            Criterion::Values { values, .. } => {
                for value in values.iter_mut() {
                    if let SearchValue::Url { url, version: None } = value {
                        if let Some((kind, id)) = engine::index::local_target(url, base) {
                            *value = SearchValue::Reference {
                                target_type: Some(kind),
                                id: id.to_owned(),
                            };
                        }
                    }
                }
            }
            Criterion::Chain { targets, .. } => {
                for (_, inner) in targets.iter_mut() {
                    localise_references(std::slice::from_mut(inner), base);
                }
            }
            Criterion::Has { inner, .. } => {
                localise_references(std::slice::from_mut(inner.as_mut()), base)
            }
            Criterion::AnyOf(inner) => localise_references(inner, base),
            Criterion::Missing { .. } | Criterion::List(_) | Criterion::Compartment { .. } => {}
        }
    }
}

fn restrict_to_compartment(
    query: &mut SearchQuery,
    owner: ResourceType,
    id: &str,
    searched: Option<ResourceType>,
) -> Result<(), ApiError> {
    let candidates: Vec<ResourceType> = match (searched, &query.scope) {
        (Some(kind), _) => vec![kind],
        // `_type` narrowed the search: those of its types that can be in the compartment.
        (None, Scope::System(asked)) if !asked.is_empty() => asked.clone(),
        (None, _) => ResourceType::all().collect(),
    };
    let mut types = Vec::new();
    let mut criteria = Vec::new();
    for kind in candidates {
        match compartment_criterion(owner, id, kind) {
            Some(criterion) => {
                types.push(kind);
                criteria.push(criterion);
            }
            None if searched.is_some() => {
                return Err(ApiError::invalid(format!(
                    "{kind} resources are never in the {owner} compartment"
                )));
            }
            None => {}
        }
    }
    if types.is_empty() {
        return Err(ApiError::invalid(format!(
            "None of the types asked for can be in the {owner} compartment"
        )));
    }
    if searched.is_none() {
        query.scope = Scope::System(types);
    }
    // Per type, the compartment's parameters differ; one type at a time is one criterion.
    match criteria.len() {
        1 => query.criteria.extend(criteria),
        _ => query.criteria.push(Criterion::AnyOf(criteria)),
    }
    Ok(())
}

/// A link to this search with the parameters applied, and a cursor for a next page.
fn link(base: &str, path: &str, applied: &[(String, String)], cursor: Option<&str>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in applied.iter().filter(|(name, _)| name != "_cursor") {
        serializer.append_pair(name, value);
    }
    if let Some(cursor) = cursor {
        serializer.append_pair("_cursor", cursor);
    }
    let query = serializer.finish();
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    }
}
