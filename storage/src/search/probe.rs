//! The first page of a search whose criteria most resources meet, found by walking the
//! resources in page order and testing each, instead of computing every match and sorting.
//! Measurements: docs/benchmarks.md, "Search at a million resources".
//!
//! PostgreSQL plans a criterion as a semi-join and estimates how many resources meet it from
//! statistics that say little about chains and `_has`. Estimating a handful, it
//! computes every match and sorts them for the page: at a million resources a chain matching
//! 58,000 Observations took a second for 50 of them, `_has` four.
//! Walking the primary key in page order and testing each resource finds a page of 50 after
//! a few hundred resources when the criteria are that common, and never ends early when they
//! are rare. So the search first tries the walk over a bounded number of candidates, and
//! falls back to PostgreSQL's own plan when the walk finds less than a page: a rare match
//! costs one bounded probe more (a few milliseconds), a common one saves almost all the work.

use engine::search::{Criterion, SearchQuery};
use engine::ResourceType;

use super::filter::is_one_value;
use super::plans::Plan;
use super::sort::{order_by, Direction, OrderKey};
use super::sql::{self, SqlBuilder};

/// Resources the walk tests before giving up: a page of 50 is found within it as long as
/// about one resource in 40 meets the criteria.
const CANDIDATES: i64 = 2_000;

/// Resources the walk of a lone `_has` of one value tests before giving up, per row of the
/// page: a page is found within it as long as about one resource in four meets the
/// criterion. Each candidate costs an index lookup per resource referring to it (a Patient
/// has a dozen Observations), so the walk is kept short: over 2,000 candidates a code that
/// only 10 Observations have cost 70 ms before the fallback found them, at a million
/// resources.
const HAS_CANDIDATES_PER_ROW: i64 = 4;

/// Fewer index rows of the inner value than this and a lone `_has` of one value is not
/// walked at all: its referring resources are too few to fill a page of common matches,
/// and PostgreSQL's plan for the value starts from them. Counting them reads at most this
/// many rows of one index range.
const HAS_COMMON_VALUE_ROWS: i64 = 64;

/// The candidate resources of the walk, as a subquery to search in place of `resource` (with
/// the bodies, which a walk that tests each candidate returns as it found them), or
/// `None` when the search is not worth probing: it has a sort of its own (the walk follows
/// the primary key), it spans several types, or it has no chain or `_has`. `limit` is the
/// number of rows the page asks for.
pub(crate) fn candidates(
    sql: &mut SqlBuilder,
    query: &SearchQuery,
    keys: &[OrderKey],
    direction: Direction,
    cursor_condition: Option<&str>,
    limit: i64,
) -> Option<String> {
    if !query.sort.is_empty() || !query.criteria.iter().any(often_common) {
        return None;
    }
    let [resource_type] = query.scope.types()[..] else {
        return None;
    };
    let resource_type = sql.bind(resource_type.as_str().to_owned());
    let budget = match lone_has_of_one_value(query) {
        Some(_) => limit.saturating_mul(HAS_CANDIDATES_PER_ROW),
        None => CANDIDATES,
    };
    let budget = sql.bind(budget);
    let beyond = cursor_condition.map_or_else(String::new, |condition| format!(" AND {condition}"));
    Some(format!(
        "(SELECT r.tenant_key, r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.body
          FROM resource r WHERE r.tenant_key = $1 AND r.resource_type = {resource_type}{beyond}
          ORDER BY {} LIMIT {budget})",
        order_by(keys, direction)
    ))
}

/// For a lone `_has` of one value, the condition that its value is common enough to walk
/// for (`HAS_COMMON_VALUE_ROWS`), which PostgreSQL tests once before the walk starts; for
/// any other search, none.
pub(crate) fn common_enough(sql: &mut SqlBuilder, query: &SearchQuery) -> Option<String> {
    let (source_type, inner) = lone_has_of_one_value(query)?;
    let rows = sql::index_rows(sql, inner)?;
    let source_name = sql.bind(source_type.as_str().to_owned());
    let common = sql.bind(HAS_COMMON_VALUE_ROWS);
    Some(format!("NOT {}", rows.fewer_than(&source_name, &common)))
}

/// Criteria that often match a large share of a type, and that PostgreSQL's statistics
/// estimate poorly: chains and `_has`. Date ranges were probed too at first, and dropped: a
/// year of birth dates (about 1% of patients) is too rare for the walk to find a page, so
/// the probe only added its own cost (32 ms before a 225 ms fallback, at a million resources).
fn often_common(criterion: &Criterion) -> bool {
    matches!(criterion, Criterion::Chain { .. } | Criterion::Has { .. })
}

/// Whether the probe of `query` must test its criteria per candidate (`Draw::PerRow`): when
/// it has a chain of two levels or more, or a `_has`.
///
/// Planned as semi-joins, such a chain's inner matches were computed in full, or, estimated
/// as one row, recomputed for each candidate (`encounter.service-provider.name=Lowell` at a
/// million resources: 17,547 Encounters for each of 420 Observations, 22 s).
///
/// A `_has` was planned well for its values, but planning it cost as much as running it
/// (`Patient?_has:Observation:subject:code=…` at 10,000 resources: 0.8 ms parsing, 1.0 ms
/// planning, 1.8 ms running), and its generic plan materialised every referring resource
/// that met the inner criterion and compared each candidate with all of them. Tested per
/// candidate, its plan is the walk's whatever the values (see `plan`).
pub(crate) fn tests_per_row(query: &SearchQuery) -> bool {
    query
        .criteria
        .iter()
        .any(|criterion| is_nested_chain(criterion) || matches!(criterion, Criterion::Has { .. }))
}

/// How the probe of `query` is planned: its generic plan forced for a lone `_has` of one
/// value. Tested per row, every step of that walk is an index lookup by the key the step
/// before found, the same plan for any values; other probes are planned for their values,
/// whose inner criteria can be ranges or chains.
pub(crate) fn plan(query: &SearchQuery) -> Plan {
    match lone_has_of_one_value(query) {
        Some(_) => Plan::Generic,
        None => Plan::ForTheValues,
    }
}

/// The referring type and the inner criterion of `query` when its one criterion is a `_has`
/// of one token or `Type/id` value (`filter::is_one_value`), such as
/// `Patient?_has:Observation:subject:code=…`.
fn lone_has_of_one_value(query: &SearchQuery) -> Option<(ResourceType, &Criterion)> {
    match &query.criteria[..] {
        [Criterion::Has {
            source_type, inner, ..
        }] if is_one_value(inner) => Some((*source_type, inner)),
        _ => None,
    }
}

/// A chain whose inner criterion is a chain again.
fn is_nested_chain(criterion: &Criterion) -> bool {
    match criterion {
        Criterion::Chain { targets, .. } => targets
            .iter()
            .any(|(_, inner)| matches!(inner, Criterion::Chain { .. })),
        _ => false,
    }
}
