//! The page of a search sorted by one parameter (`Observation?_sort=-date`), read in sort
//! order from that parameter's index instead of computing every match's sort key and
//! sorting them all.
//! Spec: https://hl7.org/fhir/R4/search.html#sort
//! Measurements: docs/benchmarks.md, "A sort walked from its index".
//!
//! A resource sorts by the lowest of its values ascending and by the highest descending
//! (`sort::order_keys`), so each resource has one index row that carries its sort key: its
//! *representative*, the row no other row of the same resource and parameter beats (ties
//! between equal values broken by `entry_hash`). The walk reads the parameter's index in
//! key order and keeps representatives only, until it has a page. The index is ordered by
//! the key but not by id within equal keys, so the rows with the same key as the last one
//! kept (the *boundary*) are read again in id order: every resource that belongs on the
//! page has either a key before the boundary, and was walked, or the boundary's key, and is
//! among those. Resources with no value come after all others (`NULLS LAST`); they are read
//! in id order only once the walk has run out.
//!
//! With criteria, the walk tests each resource it passes and gives up after
//! `CRITERIA_BUDGET` of them: it only answers when it found a page, and PostgreSQL's plan for
//! the values (every match sorted) answers otherwise. It is tried only once a bounded draw
//! found the criteria too common to sort (`filter.rs`): the draw of a single token or
//! `Type/id` value (`Draw::Intersection`, with other such values or with ranges beside it:
//! `Observation?category=laboratory&date=ge2020-01-01&_sort=-date`), or of a string or date
//! range (`Draw::Range`: `Observation?date=ge2020-01-01&_sort=-date`), so a selective search
//! never pays for it. A range walked the way it opens (`date=ge…&_sort=date`) usually passes
//! the budget before its first match, and is then sorted as before, unless its parameter
//! holds one date per resource (see `page_with_criteria`).
//!
//! Before, a million-resource `Observation?_sort=-date` computed the latest date of each of
//! 333,000 Observations and sorted them all for 50 (4.5 s).

use engine::search::{Modifier, SearchQuery};

use super::filter::{self, Draw};
use super::sort::{
    decode_cursor, indexed_column, order_by, order_keys, page_columns, Direction, IndexedColumn,
    OrderKey, PagePosition,
};
use super::sorted_by_several;
use super::sql::{table_for, SqlBuilder};
use super::values;
use super::wide_dates;
use super::{full_page_or_none, with_bodies};
use crate::{Error, TenantKey};

/// Resources a walk with criteria tests before giving up: a page of 50 is found within it
/// as long as about one resource in 40 meets the criteria.
pub(super) const CRITERIA_BUDGET: i64 = 2_000;

/// The page of a search with no criterion: its type, id and keys (`k0`, `k1`, `k2`), in
/// page order, for `with_bodies`; exact whatever it finds. `None` when `query` is not a sort
/// of one type by one parameter with an ordered index. `keys` are the search's order keys
/// (`sort::order_keys`: the parameter's key, then type and id), `cursor` the values of the
/// cursor the page starts from, if any.
///
/// Its plan is the same for any values, and is kept with its generic plan forced
/// (`plans.rs`): planned for the values it cost 2.4 ms in `bind`, against 1.8 ms running, and
/// at 16 clients `Observation?_sort=-date` at a million resources ran at 657 searches/s
/// against 1,353 kept. The page size is written into the text rather than bound: not
/// knowing it, the generic plan sorted every index row instead of walking (62 searches/s).
pub(crate) fn statement(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    page_size: usize,
) -> Option<String> {
    let query = position.query;
    if !query.criteria.is_empty() {
        return None;
    }
    let limit = (page_size + 1).to_string();
    walk(sql, position, &limit, None)
}

/// The page of a search whose criteria are all single token or `Type/id` values
/// (`filter::is_one_value`), or string and date ranges and other criteria met by an index row
/// (`filter::met_by_own_index_row`) with no equality among them (`Draw::Range`) or with a
/// single value among them (`filter::sorted_with_one_value`), each tested on the resources
/// walked, as a statement with its own values; its rows are those of
/// `with_bodies`, and it has none unless it found a whole page. Sorted by several keys, the
/// first one is walked (`sorted_by_several.rs`). `None` for other searches, and for a cursor
/// among the resources without a value, which the walk does not reach.
/// Planned for its values: forced, the generic plan ran
/// `Observation?category=vital-signs&_sort=-date` at 52 searches/s against 337.
pub(crate) fn page_with_criteria(
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
) -> Result<Option<(SqlBuilder, String)>, Error> {
    // Checked before any SQL is built: most searches that reach here (a lone token value's
    // page, say) are not sorted at all.
    if query.sort.is_empty() || query.criteria.is_empty() {
        return Ok(None);
    }
    let single_values = query.criteria.iter().all(filter::is_one_value);
    let ranges = || {
        filter::draws_from_index(query, Draw::Range)
            && query.criteria.iter().all(filter::met_by_own_index_row)
    };
    if !single_values && !ranges() && !filter::sorted_with_one_value(query) {
        return Ok(None);
    }
    let mut sql = SqlBuilder::new(tenant.get());
    let keys = order_keys(&mut sql, "r", &query.sort);
    let (direction, cursor) = match &query.cursor {
        Some(cursor) => {
            let (direction, values) =
                decode_cursor(cursor, keys.len()).ok_or(Error::InvalidCursor)?;
            (direction, Some(values))
        }
        None => (Direction::After, None),
    };
    if cursor
        .as_ref()
        .is_some_and(|values| values.first().is_none_or(Option::is_none))
    {
        return Ok(None);
    }
    let limit = sql.bind(i64::try_from(page_size + 1).unwrap_or(i64::MAX));
    let [resource_type] = query.scope.types()[..] else {
        return Ok(None);
    };
    // A one-date parameter (a birth date, an Encounter's period) has one row per resource,
    // the walked row itself: its own criteria are tested on that row as the index is read,
    // from the bound they set (`values::point_date_bound`), and use none of the budget.
    // Tested per resource, a range walked the way it opens
    // (`Patient?birthdate=ge1990-01-01&_sort=birthdate`) passed the budget before its first
    // match. The bound skips rows wider than a point, so for a parameter that may hold them
    // (a Period) it only splits the walked rows in two (`Tests::parts`), which only the walk
    // of a lone sort does.
    let sort_param = query.sort[0].param;
    let wide_rows_possible = !sort_param.is_single_point_date(resource_type);
    let mut on_walked_row = Vec::new();
    let mut per_resource = Vec::new();
    for criterion in &query.criteria {
        match filter::single_date_value(criterion, resource_type) {
            Some((param, value))
                if param.code() == sort_param.code()
                    && (query.sort.len() == 1 || !wide_rows_possible) =>
            {
                on_walked_row.push(value);
            }
            _ => per_resource.push(criterion.clone()),
        }
    }
    let mut walked_row = Vec::new();
    let mut bounds = Vec::new();
    for value in &on_walked_row {
        walked_row.push(values::condition(&mut sql, "walked", Modifier::None, value));
        bounds.extend(values::point_date_bound(&mut sql, "walked", value));
    }
    // Tested on the walked index rows aliased `r`: these criteria need only a resource's
    // key, and their index rows prove it live (`keys::requires_index_row`).
    let condition = if per_resource.is_empty() {
        "true".to_owned()
    } else {
        let rest = SearchQuery {
            criteria: per_resource,
            ..query.clone()
        };
        filter::filter(&mut sql, &rest, Draw::PerRow).condition
    };
    let position = PagePosition {
        query,
        keys: &keys,
        cursor: cursor.as_deref(),
        direction,
    };
    let tests = Tests {
        walked_row: &walked_row,
        bounds: &bounds,
        wide_rows_possible,
        per_resource: &condition,
    };
    let page = if query.sort.len() > 1 {
        // Exact or empty by itself: it answers only when its walk found a whole page.
        sorted_by_several::statement(&mut sql, &position, page_size, Some(tests))
    } else {
        walk(&mut sql, &position, &limit, Some(tests))
    };
    let Some(page) = page else {
        return Ok(None);
    };
    let page = with_bodies(&page, &page_columns(&keys, "page."), direction);
    Ok(Some((sql, full_page_or_none(&page, &limit))))
}

/// What a walk with criteria tests.
#[derive(Clone, Copy)]
pub(super) struct Tests<'a> {
    /// Conditions on the walked date row itself, written for the alias `walked` (`walk`
    /// puts them on the row it reads).
    walked_row: &'a [String],
    /// The bounds that the conditions of `walked_row` set on a row no wider than a point
    /// (`values::point_date_bound`), in the same form: where the walk starts and stops.
    bounds: &'a [String],
    /// Whether the walked parameter may hold rows wider than a point (a Period): the bounds
    /// then split the walked rows in two instead of narrowing them (`parts`).
    wide_rows_possible: bool,
    /// The condition each representative walked must meet, on its key aliased `r`.
    pub(super) per_resource: &'a str,
}

impl<'a> Tests<'a> {
    /// Tests of each resource walked and none of the walked row.
    pub(super) fn per_resource(per_resource: &'a str) -> Tests<'a> {
        Tests {
            walked_row: &[],
            bounds: &[],
            wide_rows_possible: false,
            per_resource,
        }
    }

    /// The conditions on the walked row, each with its leading ` AND `, for the index row `d`
    /// whose `column` is walked.
    pub(super) fn on_walked_row(&self, column: &str) -> String {
        let bounds: &[String] = if self.wide_rows_possible {
            &[]
        } else {
            self.bounds
        };
        self.walked_row
            .iter()
            .chain(bounds)
            .map(|test| format!(" AND {}", on_walked_index(test, column)))
            .collect()
    }

    /// The parts the rows walked by `column` are read in, each in walk order, and merged:
    /// the whole when the bounds hold for every row (they are then on the walked row), else
    /// the bounded rows and the wide ones beside them (`wide_dates.rs`), which a walk of the
    /// bounded rows alone would miss.
    pub(super) fn parts(&self, column: &str) -> Vec<Part> {
        if !self.wide_rows_possible || self.bounds.is_empty() {
            return vec![Part::whole()];
        }
        let bounds: Vec<String> = self
            .bounds
            .iter()
            .map(|bound| on_walked_index(bound, column))
            .collect();
        vec![
            Part {
                condition: format!(" AND {}", bounds.join(" AND ")),
                walked_in_index_order: true,
            },
            // Read in index order, the few wide rows were found among every other row of
            // the parameter (107,034 Observations passed for one): from their own index and
            // sorted, they cost a few lookups.
            Part {
                condition: format!(" AND {}", wide_dates::wide_beyond("d", &bounds)),
                walked_in_index_order: false,
            },
        ]
    }
}

/// Rows of a walk read apart from the others (`Tests::parts`).
pub(super) struct Part {
    /// Their condition, with its leading ` AND `.
    condition: String,
    /// Whether they are read in the walked column's index order, or found otherwise and
    /// sorted.
    walked_in_index_order: bool,
}

impl Part {
    fn whole() -> Part {
        Part {
            condition: String::new(),
            walked_in_index_order: true,
        }
    }
}

/// `test`, written for the row `walked`, for the index row `d` whose `column` is walked.
fn on_walked_index(test: &str, column: &str) -> String {
    // The sort column's bounds stay open to its index and the other column is compared
    // as an expression: left indexable, `birthdate=lt1990-01-01` had PostgreSQL,
    // estimating one match, scan the `low` index over 18,513 rows and sort them instead
    // of walking the `high` index downwards (87 ms against 2.2).
    let other_column = if column == "low" { "high" } else { "low" };
    test.replace(
        &format!("walked.{other_column}"),
        &format!("(d.{other_column} + 0)"),
    )
    .replace(&format!("walked.{column}"), &format!("d.{column}"))
}

/// The walk; with `tests`, the rows walked must meet them, the walk stops after
/// `CRITERIA_BUDGET` representatives, and the resources without a value are left out.
pub(super) fn walk(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    limit: &str,
    tests: Option<Tests>,
) -> Option<String> {
    let PagePosition {
        keys,
        cursor,
        direction,
        ..
    } = *position;
    let (resource_type, sort) = (position.single_type()?, position.lone_sort()?);
    // The common parameters (`_tag`, `_profile`, …) keep the plan that sorts every match.
    let code = sort.param.code();
    if code.starts_with('_') {
        return None;
    }
    let condition = tests.map(|tests| tests.per_resource);
    let kind = sort.param.kind();
    let IndexedColumn {
        name: column,
        sql_type,
    } = indexed_column(kind, sort.descending)?;
    let on_walked_row = tests.map_or_else(String::new, |tests| tests.on_walked_row(column));
    let table = table_for(kind);
    let resource_type = sql.bind(resource_type.as_str().to_owned());
    let param = sql.bind(code.to_owned());

    let backwards = direction == Direction::Before;
    let order = walk_direction(sort.descending, direction);
    let WalkDirection {
        key_order: walk_order,
        id_order,
        id_beyond,
        ..
    } = order;

    // The cursor's sort key and id: the walk starts at that key, past that id among equal
    // keys; a cursor without a key is among the resources without a value.
    let (valued_beyond, missing_beyond) = match cursor {
        None => (String::new(), String::new()),
        Some(values) => {
            let id = sql.bind(values.last().cloned().flatten().unwrap_or_default());
            match values.first().cloned().flatten() {
                Some(key) => {
                    let key = format!("{}::{sql_type}", sql.bind(key));
                    let valued = format!(
                        " AND {}",
                        order.past(&format!("d.{column}"), &key, "d.id", &id)
                    );
                    // Forwards, every resource without a value is still ahead; backwards,
                    // none is.
                    let missing = if backwards { " AND false" } else { "" };
                    (valued, missing.to_owned())
                }
                None => {
                    let valued = if backwards { "" } else { " AND false" };
                    (valued.to_owned(), format!(" AND r.id {id_beyond} {id}"))
                }
            }
        }
    };

    // With criteria the statement is planned for its values, and PostgreSQL, estimating a
    // few hundred rows of the parameter where there were 26,645 birth dates, hashed them all
    // for the check instead of testing the rows walked (100 ms against 4): `OFFSET 0` keeps
    // it a test per row (`sql::tested_per_row`). The walk without criteria keeps its plan.
    let representative = representative(table, column, sort.descending, condition.is_some());
    let index_rows = |part: &str| {
        format!(
            "FROM {table} d WHERE d.tenant_key = $1 AND d.resource_type = {resource_type}
            AND d.param = {param} AND d.{column} IS NOT NULL{valued_beyond}{on_walked_row}{part}
            AND {representative}"
        )
    };
    let boundary = boundary(walk_order, limit);
    let (walked, tied) = match condition {
        None => (
            format!(
                "SELECT d.id, d.{column} AS sort_key {}
                 ORDER BY d.{column} {walk_order} LIMIT {limit}",
                index_rows("")
            ),
            format!(
                "SELECT d.id, d.{column} AS sort_key {} AND d.{column} = {boundary}
                 ORDER BY d.id {id_order} LIMIT {limit}",
                index_rows("")
            ),
        ),
        Some(condition) => {
            let budget = sql.bind(CRITERIA_BUDGET);
            let parts = tests.map_or_else(|| vec![Part::whole()], |tests| tests.parts(column));
            // The walked rows: `in_walk_order`, the first `budget` of each part in walk order
            // and of all of them merged; else those tied with the boundary's key.
            let walked_rows = |in_walk_order: bool| {
                let mut selects = parts.iter().map(|part| {
                    let tail = match (in_walk_order, part.walked_in_index_order) {
                        (true, true) => {
                            format!(" ORDER BY d.{column} {walk_order} LIMIT {budget}")
                        }
                        (true, false) => {
                            format!(" ORDER BY (d.{column} + 0) {walk_order} LIMIT {budget}")
                        }
                        (false, _) => format!(" AND d.{column} = {boundary}"),
                    };
                    format!(
                        "SELECT d.tenant_key, d.resource_type, d.id, d.{column} AS sort_key
                         {}{tail}",
                        index_rows(&part.condition)
                    )
                });
                let rows = if parts.len() == 1 {
                    selects.next().unwrap_or_default()
                } else {
                    let merged_order = if in_walk_order {
                        format!(" ORDER BY sort_key {walk_order} LIMIT {budget}")
                    } else {
                        String::new()
                    };
                    let union: Vec<String> = selects.map(|select| format!("({select})")).collect();
                    format!(
                        "SELECT * FROM ({}) parts{merged_order}",
                        union.join(" UNION ALL ")
                    )
                };
                format!("({rows}) r WHERE {condition}")
            };
            (
                format!(
                    "SELECT r.id, r.sort_key FROM {}
                     ORDER BY r.sort_key {walk_order} LIMIT {limit}",
                    walked_rows(true)
                ),
                format!(
                    "SELECT r.id, r.sort_key FROM {} ORDER BY r.id {id_order} LIMIT {limit}",
                    walked_rows(false)
                ),
            )
        }
    };
    // Forwards, the resources without a value are read only when the walk ran out before
    // a page; backwards (they come first then), the walk costs a page at most anyway. A walk
    // with criteria leaves them to PostgreSQL's plan.
    let missing = match condition {
        Some(_) => String::new(),
        None => {
            let needed = if backwards {
                String::new()
            } else {
                format!(" AND (SELECT count(*) FROM walked) < {limit}")
            };
            format!(
                " UNION ALL
                SELECT {resource_type}, r.id, NULL::{sql_type}, {resource_type}, r.id
                FROM (SELECT r.id FROM resource r
                      WHERE r.tenant_key = $1 AND r.resource_type = {resource_type}
                        AND NOT r.deleted{missing_beyond}
                        AND {}{needed}
                      ORDER BY r.id {id_order} LIMIT {limit}) r",
                without_value(table, &param, column)
            )
        }
    };
    Some(format!(
        "{} {}",
        with_walked(&walked, &tied),
        page_select(&missing, &resource_type, keys, direction, limit)
    ))
}

/// The condition that the index row `d` of `table` is its resource's representative for a
/// sort by `column`: no other row of the same resource and parameter holds a key that sorts
/// before it (ties broken by `entry_hash`). `fenced` keeps it a test per row.
pub(super) fn representative(table: &str, column: &str, descending: bool, fenced: bool) -> String {
    let beaten = if descending { ">" } else { "<" };
    let fence = if fenced { " OFFSET 0" } else { "" };
    format!(
        "NOT EXISTS (SELECT 1 FROM {table} m
            WHERE m.tenant_key = d.tenant_key AND m.resource_type = d.resource_type
              AND m.id = d.id AND m.param = d.param
              AND (m.{column} {beaten} d.{column}
                   OR (m.{column} = d.{column} AND m.entry_hash < d.entry_hash)){fence})"
    )
}

/// The condition that the resource row `r` has no value in `column` of its index rows of
/// `param` (a placeholder) in `table`: the resources a sort puts last.
pub(super) fn without_value(table: &str, param: &str, column: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM {table} m
            WHERE m.tenant_key = r.tenant_key AND m.resource_type = r.resource_type
              AND m.id = r.id AND m.param = {param} AND m.{column} IS NOT NULL)"
    )
}

/// The common table expressions `walked` and `tied` that `page_select` reads.
pub(super) fn with_walked(walked: &str, tied: &str) -> String {
    format!("WITH walked AS MATERIALIZED ({walked}), tied AS MATERIALIZED ({tied})")
}

/// The page's rows from `walked`, those `tied` with the last one (`id`, `sort_key`), and
/// `missing` (rows of the resources without a value, or nothing): type, id and keys, in page
/// order, at most `limit`.
pub(super) fn page_select(
    missing: &str,
    resource_type: &str,
    keys: &[OrderKey],
    direction: Direction,
    limit: &str,
) -> String {
    format!(
        "SELECT resource_type, id, k0, k1, k2 FROM (
            SELECT {resource_type} AS resource_type, id, sort_key AS k0,
                   {resource_type} AS k1, id AS k2
            FROM (SELECT id, sort_key FROM walked UNION SELECT id, sort_key FROM tied) valued
            {missing}) page
         ORDER BY {} LIMIT {limit}",
        order_by(&page_columns(keys, ""), direction)
    )
}

/// The sort key of the last row a full walk kept, which the rows tied with it share; null
/// when the walk ran out before `limit` rows.
pub(super) fn boundary(walk_order: &str, limit: &str) -> String {
    format!(
        "(SELECT sort_key FROM walked ORDER BY sort_key {walk_order} OFFSET {limit} - 1 LIMIT 1)"
    )
}

/// Which way a walk reads its index, and how ids compare among equal keys.
#[derive(Clone, Copy)]
pub(super) struct WalkDirection {
    /// `ASC` or `DESC`, for the sort key.
    pub(super) key_order: &'static str,
    /// The comparison that holds for a key further along the walk.
    pub(super) key_beyond: &'static str,
    /// `ASC` or `DESC`, for ids among equal keys (and resources without a value).
    pub(super) id_order: &'static str,
    /// The comparison that holds for an id further along among equal keys.
    pub(super) id_beyond: &'static str,
}

impl WalkDirection {
    /// The condition that a row of sort key `key_column` and id `id_column` lies past the
    /// cursor's `key` and `id` (placeholders), written so that an index on the key bounds it.
    pub(super) fn past(&self, key_column: &str, key: &str, id_column: &str, id: &str) -> String {
        let WalkDirection {
            key_beyond,
            id_beyond,
            ..
        } = self;
        format!(
            "{key_column} {key_beyond}= {key}
             AND ({key_column} {key_beyond} {key} OR {id_column} {id_beyond} {id})"
        )
    }
}

/// The walk goes the sort's way, turned around when read backwards from a cursor; ties (and
/// resources without a value) go by id, ascending forwards.
pub(super) fn walk_direction(descending: bool, direction: Direction) -> WalkDirection {
    let backwards = direction == Direction::Before;
    let (key_order, key_beyond) = if descending != backwards {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let (id_order, id_beyond) = if backwards {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    WalkDirection {
        key_order,
        key_beyond,
        id_order,
        id_beyond,
    }
}
