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

use super::sort::{order_by, Direction, OrderKey};
use super::sql::SqlBuilder;

/// Resources the walk tests before giving up: a page of 50 is found within it as long as
/// about one resource in 40 meets the criteria.
const CANDIDATES: i64 = 2_000;

/// The candidate resources of the walk, as a subquery to search in place of `resource`, or
/// `None` when the search is not worth probing: it has a sort of its own (the walk follows
/// the primary key), it spans several types, or it has no chain or `_has`.
pub(crate) fn candidates(
    sql: &mut SqlBuilder,
    query: &SearchQuery,
    keys: &[OrderKey],
    direction: Direction,
    cursor_condition: Option<&str>,
) -> Option<String> {
    if !query.sort.is_empty() || !query.criteria.iter().any(often_common) {
        return None;
    }
    let [resource_type] = query.scope.types()[..] else {
        return None;
    };
    let resource_type = sql.bind(resource_type.as_str().to_owned());
    let budget = sql.bind(CANDIDATES);
    let beyond = cursor_condition.map_or_else(String::new, |condition| format!(" AND {condition}"));
    Some(format!(
        "(SELECT r.tenant_key, r.resource_type, r.id, r.version_id, r.last_updated, r.deleted
          FROM resource r WHERE r.tenant_key = $1 AND r.resource_type = {resource_type}{beyond}
          ORDER BY {} LIMIT {budget})",
        order_by(keys, direction)
    ))
}

/// Criteria that often match a large share of a type, and that PostgreSQL's statistics
/// estimate poorly: chains and `_has`. Date ranges were probed too at first, and dropped: a
/// year of birth dates (about 1% of patients) is too rare for the walk to find a page, so
/// the probe only added its own cost (32 ms before a 225 ms fallback, at a million resources).
fn often_common(criterion: &Criterion) -> bool {
    matches!(criterion, Criterion::Chain { .. } | Criterion::Has { .. })
}

/// Whether the probe of `query` must test its criteria per candidate (`Draw::PerRow`): when
/// it has a chain of two levels or more. Planned as semi-joins, such a chain's inner
/// matches were computed in full, or, estimated as one row, recomputed for each candidate
/// (`encounter.service-provider.name=Lowell` at a million resources: 17,547 Encounters for
/// each of 420 Observations, 22 s).
pub(crate) fn tests_per_row(query: &SearchQuery) -> bool {
    query.criteria.iter().any(is_nested_chain)
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
