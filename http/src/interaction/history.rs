//! FHIR history interaction at instance, type and system level: newest first, `_since`,
//! `_count`, and next links that keep working while new versions are written.
//! Spec: https://hl7.org/fhir/R4/http.html#history

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use engine::index::DateRange;
use engine::search::Prefix;
use engine::Instant;
use storage::model::{CurrentDuring, HistoryCursor, HistoryQuery, HistoryScope};
use storage::TenantKey;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{id_from_path, resource_type_from_path};
use crate::bundle::BundleWriter;
use crate::error::ApiError;
use crate::negotiation::response_format;
use crate::query::QueryParams;
use crate::respond::{base_url, json_response};
use crate::state::AppState;

/// The name of Ember's own paging parameter: an opaque keyset position.
const CURSOR_PARAMETER: &str = "_cursor";

pub(crate) async fn instance(
    state: State<AppState>,
    Path((type_name, id)): Path<(String, String)>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    let id = id_from_path(&id)?;
    history(
        state,
        HistoryScope::Instance(resource_type, id),
        uri,
        headers,
        query,
    )
    .await
}

pub(crate) async fn type_level(
    state: State<AppState>,
    Path(type_name): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let resource_type = resource_type_from_path(&type_name)?;
    history(
        state,
        HistoryScope::Type(resource_type),
        uri,
        headers,
        query,
    )
    .await
}

pub(crate) async fn system(
    state: State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    history(state, HistoryScope::System, uri, headers, query).await
}

async fn history(
    State(state): State<AppState>,
    scope: HistoryScope,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let format = response_format(&headers, &query)?;
    let settings = state.settings();
    let count = match query.first("_count") {
        None => settings.default_page_size,
        Some(text) => text
            .parse::<u32>()
            .map_err(|_| {
                ApiError::invalid(format!(
                    "_count must be a non-negative integer, not '{text}'"
                ))
            })?
            .min(settings.max_page_size),
    };
    let since = query
        .single("_since", "history starts at one instant")?
        .map(parse_instant)
        .transpose()?;
    let at = query
        .single("_at", "it names one period")?
        .map(parse_at)
        .transpose()?;
    let lists = query.first("_list").map(parse_lists).transpose()?;
    let after = query
        .first(CURSOR_PARAMETER)
        .map(parse_cursor)
        .transpose()?;
    let store = state.ember().routing().for_reads().clone();
    let history_query = HistoryQuery {
        scope: scope.clone(),
        since,
        at,
        lists,
        after,
        count,
    };
    let page = store.history(TenantKey::DEFAULT, &history_query).await?;

    if let HistoryScope::Instance(resource_type, id) = &scope {
        if page.entries.is_empty()
            && after.is_none()
            && store
                .read(TenantKey::DEFAULT, *resource_type, id)
                .await?
                .is_none()
        {
            return Err(ApiError::not_found(format!(
                "{resource_type}/{id} is not known"
            )));
        }
    }

    let base = base_url(settings.base_url.as_deref(), &headers);
    let self_url = format!(
        "{base}{}",
        uri.path().strip_prefix("/fhir").unwrap_or(uri.path())
    ) + &uri
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let next_url = page.next.map(|cursor| next_link(&self_url, &query, cursor));
    let mut links = vec![("self", self_url.as_str())];
    if let Some(next_url) = &next_url {
        links.push(("next", next_url.as_str()));
    }
    let capacity = page
        .entries
        .iter()
        .map(|entry| entry.body.as_ref().map_or(0, |body| body.len()) + 256)
        .sum();
    let mut bundle = BundleWriter::new("history", &links, capacity);
    for entry in &page.entries {
        bundle.push_history(&base, entry);
    }
    json_response(StatusCode::OK, format, bundle.finish())
}

/// The same request with the cursor moved past the page just returned.
fn next_link(self_url: &str, query: &QueryParams, cursor: HistoryCursor) -> String {
    let path = self_url.split('?').next().unwrap_or(self_url);
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in query.iter().filter(|(name, _)| *name != CURSOR_PARAMETER) {
        serializer.append_pair(name, value);
    }
    let position = format!(
        "{}.{}",
        cursor.last_updated.datetime().unix_timestamp_nanos() / 1_000,
        cursor.seq
    );
    serializer.append_pair(CURSOR_PARAMETER, &position);
    format!("{path}?{}", serializer.finish())
}

fn parse_cursor(text: &str) -> Result<HistoryCursor, ApiError> {
    let invalid = || {
        ApiError::invalid(format!(
            "{CURSOR_PARAMETER} '{text}' is not a position this server handed out"
        ))
    };
    let (micros, seq) = text.split_once('.').ok_or_else(invalid)?;
    let micros: i128 = micros.parse().map_err(|_| invalid())?;
    let seq: i64 = seq.parse().map_err(|_| invalid())?;
    let datetime =
        OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).map_err(|_| invalid())?;
    Ok(HistoryCursor {
        last_updated: Instant::from_datetime(datetime),
        seq,
    })
}

/// `_at` is a date, dateTime or instant standing for the period its precision leaves open
/// (search.html#date: `2024` is all of 2024), with an optional prefix: `ge`/`gt` from its start
/// or after its end on, `le`/`lt` up to its end or before its start, `eq` as none.
fn parse_at(text: &str) -> Result<CurrentDuring, ApiError> {
    let invalid = || {
        ApiError::invalid(format!(
            "_at takes a FHIR date, dateTime or instant, optionally after eq, ge, gt, le or lt; got '{text}'"
        ))
    };
    // '+' in an unencoded query string arrives as a space.
    let text = text.trim().replace(' ', "+");
    let (prefix, date) = Prefix::split(&text);
    let range = DateRange::parse(date).ok_or_else(invalid)?;
    match prefix {
        Prefix::Ge => Ok(CurrentDuring {
            from: Some(range.low),
            to: None,
        }),
        Prefix::Gt => Ok(CurrentDuring {
            from: Some(range.high.saturating_add(1)),
            to: None,
        }),
        Prefix::Le => Ok(CurrentDuring {
            from: None,
            to: Some(range.high),
        }),
        Prefix::Lt => Ok(CurrentDuring {
            from: None,
            to: Some(range.low.saturating_sub(1)),
        }),
        Prefix::Eq => Ok(CurrentDuring {
            from: Some(range.low),
            to: Some(range.high),
        }),
        Prefix::Ne | Prefix::StartsAfter | Prefix::EndsBefore | Prefix::Approximately => {
            Err(invalid())
        }
    }
}

/// `_list`: List ids as search reads them ([`engine::search::list_ids`]: a functional list,
/// `$current-problems`, is not kept, so asking for one is a 400 rather than an empty history),
/// each a valid id.
fn parse_lists(text: &str) -> Result<Vec<String>, ApiError> {
    let ids = engine::search::list_ids(text).map_err(|reason| {
        ApiError::http(
            StatusCode::BAD_REQUEST,
            "not-supported",
            format!("_list: {reason}"),
        )
    })?;
    for id in &ids {
        super::id_from_path(id)?;
    }
    Ok(ids)
}

/// `_since` is an instant: a full date and time with a time zone.
fn parse_instant(text: &str) -> Result<Instant, ApiError> {
    // '+' in an unencoded query string arrives as a space.
    let text = text.trim().replace(' ', "+");
    // RFC 3339 also allows a lower-case `t`, year 0000 and offsets past 14:00; FHIR does not.
    let parsed = OffsetDateTime::parse(&text, &Rfc3339)
        .ok()
        .filter(|_| engine::is_valid_instant(&text));
    parsed.map(Instant::from_datetime).ok_or_else(|| {
        ApiError::invalid(format!(
            "_since must be a FHIR instant with a time zone, such as 2026-01-31T12:00:00Z; got '{text}'"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_offsets_and_an_unencoded_plus() {
        assert!(parse_instant("2026-01-31T12:00:00Z").is_ok());
        assert!(parse_instant("2026-01-31T12:00:00.123 02:00").is_ok());
    }

    #[test]
    fn since_without_time_zone_is_rejected() {
        assert!(parse_instant("2026-01-31").is_err());
        assert!(parse_instant("2026-01-31T12:00:00").is_err());
    }

    #[test]
    fn since_that_is_rfc_3339_but_no_fhir_instant_is_rejected() {
        assert!(parse_instant("2026-12-07t15:52:30Z").is_err());
        assert!(parse_instant("0000-01-01T00:00:00Z").is_err());
        assert!(parse_instant("2026-01-31T12:00:00-14:30").is_err());
        assert!(parse_instant("2026-01-31T12:00:00-14:00").is_ok());
    }

    #[test]
    fn cursor_round_trips_through_the_next_link() {
        let cursor = HistoryCursor {
            last_updated: Instant::from_datetime(
                OffsetDateTime::UNIX_EPOCH + time::Duration::microseconds(1_234_567),
            ),
            seq: 42,
        };
        let link = next_link(
            "http://h/fhir/_history?_count=2",
            &QueryParams::parse("_count=2&_cursor=1.1").expect("decodes"),
            cursor,
        );
        assert_eq!(link, "http://h/fhir/_history?_count=2&_cursor=1234567.42");
        assert_eq!(parse_cursor("1234567.42").unwrap(), cursor);
        assert!(parse_cursor("garbage").is_err());
    }
}
