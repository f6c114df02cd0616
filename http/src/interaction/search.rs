//! FHIR search: GET and POST `_search` at type level, across all types, and in compartments.
//! Spec: https://hl7.org/fhir/R4/http.html#search and https://hl7.org/fhir/R4/search.html

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use engine::search::{
    compartment_criterion, parse_search, Criterion, Include, Scope, SearchQuery, SearchValue,
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
    /// `[base]/Patient/123/$everything`: the Patient's compartment, with `_since` searched
    /// as `_lastUpdated=ge…` but written back as `_since` in its links.
    Everything {
        patient_id: String,
    },
}

pub(crate) async fn type_get(
    state: State<AppState>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let target = Target::Type(resource_type_from_path(&type_name)?);
    search(state, target, headers, query).await
}

pub(crate) async fn type_post(
    state: State<AppState>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = Target::Type(resource_type_from_path(&type_name)?);
    let params = with_form_body(query, &headers, &body)?;
    search(state, target, headers, params).await
}

pub(crate) async fn system_get(
    state: State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    search(state, Target::System, headers, query).await
}

pub(crate) async fn system_post(
    state: State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = with_form_body(query, &headers, &body)?;
    search(state, Target::System, headers, params).await
}

/// `POST [base]/[compartment]/[id]/_search`, `POST [base]/[compartment]/[id]/[type]/_search`
/// (form bodies, http.html#search) and `POST [base]/Patient/[id]/$everything` (a form or a
/// Parameters resource, operations.html#executing).
pub(crate) async fn compartment_post(
    state: State<AppState>,
    Path(segments): Path<Vec<(String, String)>>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
    body: Bytes,
) -> Result<Response, ApiError> {
    let value = |key: &str| {
        segments
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let (owner, id, searched) = (value("compartment"), value("id"), value("resource_type"));
    let searched = match (searched.as_str(), uri.path().ends_with("/_search")) {
        // `[compartment]/[id]/_search`: every type in the compartment.
        ("_search", true) => "*".to_owned(),
        (_, true) => searched,
        ("$everything", false) => searched,
        // Another operation: answered as its GET is (Ember has none but $everything).
        (operation, false) if operation.starts_with('$') => {
            return compartment_get(state, Path((owner, id, searched)), headers, query).await
        }
        _ => {
            return Err(ApiError::http(
                StatusCode::METHOD_NOT_ALLOWED,
                "not-supported",
                "A compartment is searched by GET, or by POST to its _search",
            ))
        }
    };
    let params = if searched == "$everything" && is_json(&headers) {
        with_parameters_body(query, &body)?
    } else {
        with_form_body(query, &headers, &body)?
    };
    compartment_get(state, Path((owner, id, searched)), headers, params).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"))
}

/// The URL's parameters followed by those of a Parameters resource posted to an operation.
fn with_parameters_body(query: QueryParams, body: &[u8]) -> Result<QueryParams, ApiError> {
    let mut params = query.into_pairs();
    params.extend(engine::operation_parameters(body)?);
    Ok(QueryParams::from_pairs(params))
}

/// `GET [base]/[compartment]/[id]/[type]` and `GET [base]/[compartment]/[id]/*`.
pub(crate) async fn compartment_get(
    state: State<AppState>,
    Path((owner, id, searched)): Path<(String, String, String)>,
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
        return everything(state, owner, id, headers, query).await;
    }
    if searched.starts_with('$') {
        return Err(ApiError::not_found(format!(
            "Ember does not implement the operation {searched}; the CapabilityStatement lists those it does"
        )));
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
            "_since" => params.push(since_as_last_updated(&value)?),
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
        Target::Everything { patient_id: id },
        headers,
        QueryParams::from_pairs(params),
    )
    .await
}

/// `$everything`'s `_since` (an instant: resources changed since then) as the `_lastUpdated`
/// criterion that searches for it; a value that is not a date is a 400 naming `_since`.
fn since_as_last_updated(value: &str) -> Result<(String, String), ApiError> {
    match engine::index::DateRange::parse(value) {
        Some(_) => Ok(("_lastUpdated".to_owned(), format!("ge{value}"))),
        None => Err(ApiError::from(engine::Error::InvalidSearch(vec![
            Issue::error(
                "invalid",
                format!("_since takes an instant such as 2020-01-01T00:00:00Z, not '{value}'"),
            )
            .at("_since"),
        ]))),
    }
}

/// The parameters a link to this search carries: those applied, with `$everything`'s
/// `_lastUpdated=ge…` written back as the `_since` the client sent.
fn link_parameters(target: &Target, applied: &[(String, String)]) -> Vec<(String, String)> {
    applied
        .iter()
        .map(|(name, value)| match (target, name.as_str()) {
            (Target::Everything { .. }, "_lastUpdated") => (
                "_since".to_owned(),
                value.strip_prefix("ge").unwrap_or(value).to_owned(),
            ),
            _ => (name.clone(), value.clone()),
        })
        .collect()
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
        // A body in a media type this path does not read (http.html#search: the parameters
        // come "in the body, as application/x-www-form-urlencoded").
        return Err(ApiError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            format!(
                "POST _search takes its parameters as application/x-www-form-urlencoded, not '{content_type}'"
            ),
        ));
    }
    let mut params = query.into_pairs();
    params.extend(crate::query::decode_form(body)?);
    Ok(QueryParams::from_pairs(params))
}

async fn search(
    State(state): State<AppState>,
    target: Target,
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
        Target::System | Target::Compartment { searched: None, .. } | Target::Everything { .. } => {
            Scope::System(Vec::new())
        }
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
    // `$everything?_type=…` returns only those types, supporting resources too: the types
    // asked for, before the compartment narrows them to its own.
    let mut asked_types: Option<Vec<ResourceType>> = None;
    if let Target::Everything { patient_id } = &target {
        if let Scope::System(asked) = &query.scope {
            asked_types = (!asked.is_empty()).then(|| asked.clone());
        }
        let patient = ResourceType::parse("Patient").expect("R4 has Patient");
        restrict_to_compartment(&mut query, patient, patient_id, None)?;
        // "The server also returns whatever resources are needed to support the records -
        // e.g. linked practitioners, medications, locations, organizations etc.": what the
        // page's resources refer to, one include per type in the compartment.
        query.includes = query
            .scope
            .types()
            .into_iter()
            .map(|source_type| Include::every_reference_of(source_type, false))
            .collect();
    }
    let page_size = query
        .count
        .unwrap_or(settings.default_page_size as usize)
        .min(settings.max_page_size as usize);
    // A `_count` over the maximum is cut to it; the links say what was applied.
    if query.count.is_some_and(|asked| asked > page_size) {
        for (name, value) in &mut query.applied {
            if name == "_count" {
                *value = page_size.to_string();
            }
        }
    }

    let store = state.ember().routing().for_reads().clone();
    let page = store
        .search(
            TenantKey::DEFAULT,
            &query,
            page_size,
            settings.search_time_limit(),
        )
        .await?;

    // Links a client can GET, whether it searched by GET or POST.
    let path = match &target {
        Target::Type(kind) => format!("/{kind}"),
        Target::System => String::new(),
        Target::Compartment {
            owner,
            id,
            searched,
        } => format!(
            "/{owner}/{id}/{}",
            searched.map_or("*", |kind| kind.as_str())
        ),
        Target::Everything { patient_id } => format!("/Patient/{patient_id}/$everything"),
    };
    let path = path.as_str();
    let applied = link_parameters(&target, &query.applied);
    let self_url = link(&base, path, &applied, None);
    let next_url = page
        .next_cursor
        .as_deref()
        .map(|cursor| link(&base, path, &applied, Some(cursor)));
    let previous_url = page
        .previous_cursor
        .as_deref()
        .map(|cursor| link(&base, path, &applied, Some(cursor)));
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
        let wanted = asked_types.as_ref().is_none_or(|types| {
            types
                .iter()
                .any(|kind| kind.as_str() == found.resource_type)
        });
        if wanted {
            bundle.push_search(&base, found, &found.body, SearchMode::Include);
        }
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
