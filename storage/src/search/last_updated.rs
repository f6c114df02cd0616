//! Searches by `_lastUpdated` alone, sorted by it or with `_lastUpdated` criteria only,
//! read from the version history's time index instead of every resource of the type.
//! Spec: https://hl7.org/fhir/R4/search.html#lastUpdated, https://hl7.org/fhir/R4/search.html#sort
//! Measurements: docs/benchmarks.md, "A sort walked from its index".
//!
//! `resource` has no index on `last_updated`, which every write changes, and one would cost
//! every write an index entry. The version history has `(tenant_key, resource_type,
//! last_updated DESC, seq DESC)` for type history, and a resource's current version carries
//! the resource's own `last_updated`: the versions within the criteria's bounds include the
//! current version of every resource that meets them. Both pages read at most `BUDGET`
//! versions, and have no row when that was not enough; PostgreSQL's plan over every
//! resource of the type answers then, as it did for every such search before (0.3 to 0.6 s
//! for a type of 333,000 resources).

use engine::search::{Criterion, Modifier, SearchQuery};

use super::keys::ResourceKey;
use super::sort::{beyond, order_by, page_columns, PagePosition};
use super::sorted_walk::{boundary, page_select, walk_direction, with_walked, WalkDirection};
use super::sql::{self, SqlBuilder};
use super::{exact_or_none, key_text_columns, with_bodies};

/// Versions a page reads before giving up: about 50 ms at a million resources.
const BUDGET: i64 = 10_000;

/// Whether every criterion of `query` is a plain `_lastUpdated` one.
fn only_last_updated(query: &SearchQuery) -> bool {
    query.criteria.iter().all(|criterion| {
        matches!(criterion, Criterion::Values { param, modifier: Modifier::None, .. }
            if param.code() == "_lastUpdated")
    })
}

/// The condition that the version `alias` is its live resource's current version.
fn current(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM resource r
            WHERE r.tenant_key = {alias}.tenant_key AND r.resource_type = {alias}.resource_type
              AND r.id = {alias}.id AND r.version_id = {alias}.version_id AND NOT r.deleted)"
    )
}

/// The condition that the versions `versions` (a `FROM` clause aliased `v`) are fewer than
/// `budget`: a page drawn or walked from them is then exact. Reads at most `budget` of them.
fn fewer_than_budget(versions: &str, budget: &str) -> String {
    format!("(SELECT count(*) FROM (SELECT 1 FROM {versions} LIMIT {budget}) scanned) < {budget}")
}

/// The page, in id order, of a search of one type with `_lastUpdated` criteria and nothing
/// else (`Observation?_lastUpdated=gt…`), with each row's body and keys: the distinct
/// resources of the versions within the criteria's bounds, each checked against the
/// criteria on its current row. A page, a row of nulls for an empty page, or no row when
/// the bounds hold more than `BUDGET` versions: many resources then meet the criteria, and
/// walking every resource in id order finds a page soon.
pub(crate) fn unsorted_page(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    limit: &str,
) -> Option<String> {
    let PagePosition {
        query,
        keys,
        cursor,
        direction,
    } = *position;
    let resource_type = position.single_type()?;
    if !query.sort.is_empty() || query.criteria.is_empty() || !only_last_updated(query) {
        return None;
    }
    let resource_type = sql.bind(resource_type.as_str().to_owned());
    let budget = sql.bind(BUDGET);
    let criteria_on = |sql: &mut SqlBuilder, alias: &str| {
        let key = ResourceKey::row(alias);
        query
            .criteria
            .iter()
            .map(|criterion| sql::criterion(sql, &key, criterion))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let versions = format!(
        "resource_version v WHERE v.tenant_key = $1 AND v.resource_type = {resource_type}
            AND {}",
        criteria_on(sql, "v")
    );
    let on_current_row = criteria_on(sql, "r");
    let after_cursor = cursor.map_or_else(String::new, |values| {
        format!(" AND {}", beyond(sql, keys, values, direction))
    });
    let key_columns = key_text_columns(keys);
    let page = format!(
        "SELECT r.resource_type, r.id, r.body{key_columns}
         FROM (SELECT DISTINCT v.id FROM (SELECT v.id FROM {versions} LIMIT {budget}) v) drawn
         JOIN resource r ON r.tenant_key = $1 AND r.resource_type = {resource_type}
             AND r.id = drawn.id AND NOT r.deleted
         WHERE {on_current_row}{after_cursor}
         ORDER BY {} LIMIT {limit}",
        order_by(keys, direction)
    );
    Some(exact_or_none(&page, &fewer_than_budget(&versions, &budget)))
}

/// The page of a search of one type sorted by `_lastUpdated` alone, with no criteria but
/// `_lastUpdated` ones (`Observation?_sort=-_lastUpdated`; a client syncing with
/// `?_lastUpdated=gt…&_sort=_lastUpdated`), with each row's body (`with_bodies`): a page, a
/// row of nulls for an empty page, or no row when the walk gave up.
///
/// `resource` has no index on `last_updated`, which every write changes; the version
/// history has `(tenant_key, resource_type, last_updated DESC, seq DESC)` for type history,
/// and a resource's current version carries the resource's own `last_updated`. So the
/// versions are read in time order, within the criteria's bounds, and those that are their
/// live resource's current version are kept, one per resource. A batch commits all its
/// resources at one time, so the versions tied with the last one kept are read again in id
/// order. Reading forwards through often-updated resources passes their older versions; the
/// walk gives up after `BUDGET` versions, and every resource of the type is
/// then read and sorted, as before (0.44 s for `Observation?_sort=-_lastUpdated` at a million
/// resources, 0.32 s for a criterion no Observation met).
pub(crate) fn sorted_page(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    limit: &str,
) -> Option<String> {
    let PagePosition {
        query,
        keys,
        cursor,
        direction,
    } = *position;
    let (resource_type, sort) = (position.single_type()?, position.lone_sort()?);
    if sort.param.code() != "_lastUpdated" || !only_last_updated(query) {
        return None;
    }
    // Every resource has a time: a cursor always carries one.
    let cursor = match cursor {
        Some([Some(time), _, Some(id)]) => Some((time.clone(), id.clone())),
        Some(_) => return None,
        None => None,
    };
    let resource_type = sql.bind(resource_type.as_str().to_owned());
    let budget = sql.bind(BUDGET);
    let order = walk_direction(sort.descending, direction);
    let WalkDirection {
        key_order,
        id_order,
        ..
    } = order;
    // The criteria, written against the version's time: the current version's is the
    // resource's.
    let version = ResourceKey::row("v");
    let mut bounds: Vec<String> = query
        .criteria
        .iter()
        .map(|criterion| sql::criterion(sql, &version, criterion))
        .collect();
    if let Some((time, id)) = cursor {
        let time = format!("{}::timestamptz", sql.bind(time));
        let id = sql.bind(id);
        bounds.push(order.past("v.last_updated", &time, "v.id", &id));
    }
    let versions = format!(
        "resource_version v WHERE v.tenant_key = $1 AND v.resource_type = {resource_type}{}",
        bounds
            .iter()
            .map(|bound| format!(" AND {bound}"))
            .collect::<String>()
    );
    let walked = format!(
        "SELECT s.id, s.last_updated AS sort_key
         FROM (SELECT v.tenant_key, v.resource_type, v.id, v.version_id, v.last_updated
               FROM {versions} ORDER BY v.last_updated {key_order} LIMIT {budget}) s
         WHERE {} ORDER BY s.last_updated {key_order} LIMIT {limit}",
        current("s")
    );
    let tied = format!(
        "SELECT v.id, v.last_updated AS sort_key FROM {versions} AND {}
            AND v.last_updated = {}
         ORDER BY v.id {id_order} LIMIT {limit}",
        current("v"),
        boundary(key_order, limit)
    );
    // Exact when the walk filled a page, or read every version in the bounds.
    let exact = format!(
        "(SELECT count(*) FROM walked) = {limit} OR {}",
        fewer_than_budget(&versions, &budget)
    );
    let page = with_bodies(
        &page_select("", &resource_type, keys, direction, limit),
        &page_columns(keys, "page."),
        direction,
    );
    Some(format!(
        "{} SELECT drawn.* FROM (SELECT 1 WHERE {exact}) exact LEFT JOIN ({page}) drawn ON true",
        with_walked(&walked, &tied)
    ))
}
