//! What conditional create, update, patch and delete share: the criteria that pick the
//! resource, the search that finds it, and the lock that keeps the check and the write
//! together.
//! Spec: https://hl7.org/fhir/R4/http.html#ccreate, http.html#cond-update,
//! http.html#cdelete, http.html#patch
//!
//! Criteria are parsed strictly, whatever `Prefer: handling` says: an unknown parameter is a
//! 400, never silently dropped, because a conditional delete whose only criterion was ignored
//! would delete every resource of the type. For the same reason criteria that select nothing
//! (no search parameter at all, or only result parameters such as `_count`) are refused.

use std::future::Future;
use std::sync::Arc;

use engine::search::{parse_search, Scope, SearchQuery};
use engine::{Category, ResourceType};
use storage::{ConditionLock, FoundResource, Store, TenantKey, Transaction};

use super::search::localise_references;
use crate::error::ApiError;
use crate::state::AppState;

/// Parameters that shape a result but select nothing, so they cannot be part of a condition.
const RESULT_PARAMETERS: &[&str] = &[
    "_count",
    "_sort",
    "_include",
    "_revinclude",
    "_summary",
    "_elements",
    "_total",
    "_cursor",
    "_contained",
    "_containedType",
];

/// Search criteria that pick the resource a conditional interaction acts on.
pub(crate) struct Condition {
    resource_type: ResourceType,
    query: SearchQuery,
    /// The criteria as applied, sorted and re-encoded, so that `a=1&b=2` and `b=2&a=1`
    /// take the same lock.
    normalised: String,
    /// The lock on the criteria, while [`exclusively`] holds it: [`Condition::matches`]
    /// then searches on its connection.
    lock: Option<Arc<ConditionLock>>,
}

impl Condition {
    /// The criteria of a conditional update, patch or delete: the URL's query parameters
    /// (`_format` and `_pretty` are about the response and are left out).
    pub(crate) fn parse(
        resource_type: ResourceType,
        params: Vec<(String, String)>,
        base: &str,
    ) -> Result<Condition, ApiError> {
        let params: Vec<(String, String)> = params
            .into_iter()
            .filter(|(name, _)| !matches!(name.as_str(), "_format" | "_pretty"))
            .collect();
        if let Some((name, _)) = params
            .iter()
            .find(|(name, _)| RESULT_PARAMETERS.contains(&name.split(':').next().unwrap_or(name)))
        {
            return Err(ApiError::invalid(format!(
                "'{name}' shapes search results and selects nothing; it cannot be part of a condition"
            )));
        }
        let mut query = parse_search(Scope::Type(resource_type), &params, true)?;
        if query.criteria.is_empty() {
            return Err(ApiError::invalid(
                "A conditional interaction needs at least one search parameter to select the resource",
            ));
        }
        localise_references(&mut query.criteria, base);
        let mut applied = query.applied.clone();
        applied.sort();
        let normalised = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(applied)
            .finish();
        Ok(Condition {
            resource_type,
            query,
            normalised,
            lock: None,
        })
    }

    /// The criteria of a conditional create, from `If-None-Exist: [search parameters]`.
    pub(crate) fn from_if_none_exist(
        resource_type: ResourceType,
        header: &axum::http::HeaderValue,
        base: &str,
    ) -> Result<Condition, ApiError> {
        let text = header
            .to_str()
            .map_err(|_| ApiError::invalid("If-None-Exist is not a valid header value"))?;
        Condition::from_if_none_exist_text(resource_type, text, base)
    }

    /// The same from the text of `If-None-Exist` or of a Bundle entry's `ifNoneExist`.
    pub(crate) fn from_if_none_exist_text(
        resource_type: ResourceType,
        text: &str,
        base: &str,
    ) -> Result<Condition, ApiError> {
        // Some clients send the whole query part, `?identifier=…`, or a URL ending in it.
        let query = text.rsplit_once('?').map_or(text, |(_, query)| query);
        let params = crate::query::decode_form(query.as_bytes())?;
        Condition::parse(resource_type, params, base)
    }

    /// The resources matching the criteria: up to `limit + 1`, so that a caller can tell
    /// "at most `limit`" from "more". Searched on the primary, so a write that has committed
    /// is always seen: inside [`exclusively`] on the lock's own connection, else on a
    /// connection of the pool.
    pub(crate) async fn matches(
        &self,
        state: &AppState,
        limit: usize,
    ) -> Result<Vec<FoundResource>, ApiError> {
        let time_limit = state.settings().search_time_limit();
        let page = match &self.lock {
            Some(lock) => {
                lock.search(TenantKey::DEFAULT, &self.query, limit + 1, time_limit)
                    .await?
            }
            None => {
                primary(state)
                    .search(TenantKey::DEFAULT, &self.query, limit + 1, time_limit)
                    .await?
            }
        };
        Ok(page.matches)
    }

    /// The same search inside a database transaction: a transaction Bundle's, or a
    /// conditional delete's.
    pub(crate) async fn matches_in(
        &self,
        transaction: &Transaction,
        limit: usize,
    ) -> Result<Vec<FoundResource>, ApiError> {
        Ok(transaction.search(&self.query, limit + 1).await?.matches)
    }

    /// What [`Transaction::lock_conditions`] takes to serialise this condition with every
    /// other conditional write on the same criteria.
    pub(crate) fn lock_key(&self) -> (ResourceType, String) {
        (self.resource_type, self.normalised.clone())
    }

    pub(crate) fn resource_type(&self) -> ResourceType {
        self.resource_type
    }

    /// The criteria as the client can read them back in an error message.
    pub(crate) fn describe(&self) -> String {
        format!("{}?{}", self.resource_type, self.normalised)
    }
}

/// Runs `work` (which searches with the condition and then writes) while holding the lock on
/// the condition's criteria, so that two conditional writes with the same criteria run one
/// after the other and the second sees what the first wrote.
///
/// `work` runs on its own task: a client that disconnects cancels its handler, and if that
/// released the lock while the write it had handed to a writer was still committing, a
/// second request could search too early and write a duplicate.
pub(crate) async fn exclusively<T, W, F>(
    state: &AppState,
    condition: Condition,
    work: W,
) -> Result<T, ApiError>
where
    W: FnOnce(Condition) -> F + Send + 'static,
    F: Future<Output = Result<T, ApiError>> + Send + 'static,
    T: Send + 'static,
{
    let store = primary(state);
    let task = tokio::spawn(async move {
        let lock = Arc::new(
            store
                .lock_condition(
                    TenantKey::DEFAULT,
                    condition.resource_type,
                    &condition.normalised,
                )
                .await?,
        );
        let result = work(Condition {
            lock: Some(Arc::clone(&lock)),
            ..condition
        })
        .await;
        // `work` has dropped its condition with the future; were a copy of the lock kept
        // anywhere, dropping it would close the connection, which frees the lock too.
        if let Ok(lock) = Arc::try_unwrap(lock) {
            lock.release().await?;
        }
        result
    });
    task.await.map_err(|error| {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
        ApiError::new(Category::Fault, "a conditional write was cancelled")
    })?
}

/// The store conditional interactions search and read: the one that takes writes.
pub(crate) fn primary(state: &AppState) -> Store {
    state.ember().routing().for_writes().clone()
}

/// 412 for criteria that match more resources than the interaction may act on.
#[cold]
pub(crate) fn too_many_matches(condition: &Condition, what: &str) -> ApiError {
    ApiError::new(
        Category::PreconditionFailed,
        format!(
            "The criteria {} match more than one resource; {what} needs them to match at most one",
            condition.describe()
        ),
    )
}
