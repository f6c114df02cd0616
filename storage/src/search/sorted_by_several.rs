//! The page of a search of one type sorted by several parameters (`Observation?_sort=-date,code`),
//! found from the first parameter's index instead of computing every match's keys and
//! sorting them all.
//! Spec: https://hl7.org/fhir/R4/search.html#sort
//! Measurements: docs/benchmarks.md, "Sorts by several keys from the first key's index".
//!
//! The first key is walked as `sorted_walk.rs` walks a lone sort: its index in key order,
//! one *representative* row per resource, until a page is found; the last key kept is the
//! *boundary*. Every resource on the page then has a first key before the boundary, and was
//! walked, or equal to it. So the candidates are the walked resources and every resource
//! whose first key equals the boundary (the *tied* ones), and, read from a cursor, every
//! resource whose first key equals the cursor's; only the candidates' other keys are
//! computed, and they are sorted by all keys for the page. Resources without a first key come
//! last; they are candidates only when the walk ran out before a page.
//!
//! With criteria (`Patient?gender=female&_sort=family,given`), the walk tests each resource
//! as `sorted_walk::page_with_criteria` does and stops after `CRITERIA_BUDGET` of them, the
//! runs are tested too, and the statement answers only when the walk found a whole page:
//! otherwise (and for the resources without a first key) PostgreSQL's plan sorts every match.
//!
//! A run of equal first keys can be most of a type (`Patient?_sort=gender,family`). A run of
//! more than `RUN_BUDGET` resources is not read whole: sorted by two keys with no criterion,
//! its *head*, the first page of the run in the second key's order (past the cursor, for the
//! cursor's run), is the lone walk of the second key testing each resource's first key
//! (`run_head`), and the statement answers only when that head is a whole page; so is the run
//! of resources without a first key, read forwards (`Patient?_sort=-death-date,family` when
//! few have died). Otherwise the statement answers no row and the plan that sorts every
//! resource answers (so does the page where a long run ends, and a page read backwards into
//! one from beyond it).
//!
//! Before, a million-resource `Observation?_sort=-date,code` computed both keys of each of
//! 333,000 Observations and sorted them all for 50 (3.4 s; now 1.8 ms).

use engine::search::SearchQuery;

use super::sort::{
    beyond, indexed_column, order_by, with_last_updated, Direction, IndexedColumn, PagePosition,
};
use super::sorted_walk::{
    representative, walk, walk_direction, without_value, Tests, CRITERIA_BUDGET,
};
use super::sql::{table_for, SqlBuilder};

/// Resources of one run of equal first keys (and resources without a first key) whose other
/// keys the statement computes at most: a few milliseconds of index lookups.
const RUN_BUDGET: usize = 2_500;

/// The page query (type, id and keys `k0`, `k1`, … in page order, for `with_bodies`) of a
/// search of one type sorted by two or more keys, the first of them a parameter with an
/// ordered index, with no criterion or with criteria the walk `tests`; no row when a run over
/// the budget has no head or a head short of a page, or when a walk with tests found no whole
/// page. `None` for other searches, and for a cursor among the resources without a first key
/// read backwards or with criteria.
///
/// With no criterion its plan is the same for any values: the page size and the budget are
/// written into its text so that the generic plan walks (as `sorted_walk::statement`'s).
pub(crate) fn statement(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    page_size: usize,
    tests: Option<Tests>,
) -> Option<String> {
    let PagePosition {
        query,
        keys,
        cursor,
        direction,
    } = *position;
    let resource_type = position.single_type()?;
    let [first, rest @ ..] = &query.sort[..] else {
        return None;
    };
    // The common parameters have no index to walk: a first key among them keeps the plan
    // that sorts every resource.
    if rest.is_empty()
        || (tests.is_none() && !query.criteria.is_empty())
        || keys.len() != query.sort.len() + 2
        || first.param.code().starts_with('_')
    {
        return None;
    }
    let kind = first.param.kind();
    let IndexedColumn {
        name: column,
        sql_type,
    } = indexed_column(kind, first.descending)?;
    let limit = (page_size + 1).to_string();
    let cursor_key = match cursor {
        None => None,
        Some(values) => match values.first().cloned().flatten() {
            Some(key) => Some(key),
            None => return page_without_first_key(sql, position, sql_type, &limit, tests),
        },
    };

    let table = table_for(kind);
    let resource_type = sql.bind(resource_type.as_str().to_owned());
    let param = sql.bind(first.param.code().to_owned());
    let over_budget = (RUN_BUDGET + 1).to_string();
    let order = walk_direction(first.descending, direction);
    let representative = representative(table, column, first.descending, tests.is_some());
    let on_walked_row = tests.map_or_else(String::new, |tests| tests.on_walked_row(column));
    let rows = |condition: &str, limited: &str| {
        format!(
            "SELECT d.tenant_key, d.resource_type, d.id, d.{column} AS sort_key
             FROM {table} d WHERE d.tenant_key = $1 AND d.resource_type = {resource_type}
               AND d.param = {param} AND d.{column} IS NOT NULL{condition}{on_walked_row}
               AND {representative}
             {limited}"
        )
    };

    let cursor_key = cursor_key.map(|key| format!("{}::{sql_type}", sql.bind(key)));
    let past_cursor = cursor_key.as_ref().map_or_else(String::new, |key| {
        format!(" AND d.{column} {} {key}", order.key_beyond)
    });
    let boundary = format!(
        "(SELECT sort_key FROM first_walked ORDER BY sort_key {} OFFSET {limit} - 1 LIMIT 1)",
        order.key_order
    );
    // Read backwards, the end of the boundary's run holds its resources without a second
    // key, which a walk of the second key does not reach: that run has no head then.
    let boundary_head = (direction == Direction::After && tests.is_none())
        .then(|| run_head(sql, position, RunKey::Equal(&boundary), None, &limit))
        .flatten();
    // A run's index rows are counted up to the budget first, without the representative
    // check, and its representatives read only when the count is within it: checking 2,501
    // rows to learn a run is long cost 12 ms.
    let run = |name: &'static str, key: &str, head| {
        let size = format!(
            "SELECT count(*) AS n FROM (SELECT 1 FROM {table} d
                WHERE d.tenant_key = $1 AND d.resource_type = {resource_type} AND d.param = {param}
                  AND d.{column} = {key}{on_walked_row} LIMIT {over_budget}) counted"
        );
        let long = format!("(SELECT n FROM {name}_size) > {RUN_BUDGET}");
        Run {
            name,
            size: Some(size),
            rows: rows(&format!(" AND d.{column} = {key} AND NOT {long}"), ""),
            long,
            head,
        }
    };
    let mut runs = vec![run("first_tied", &boundary, boundary_head)];
    if let (Some(key), Some(values)) = (&cursor_key, cursor) {
        let head = tests
            .is_none()
            .then(|| {
                run_head(
                    sql,
                    position,
                    RunKey::Equal(key),
                    Some(&values[1..]),
                    &limit,
                )
            })
            .flatten();
        runs.push(run("first_at_cursor", key, head));
    }
    // Forwards, the resources without a first key are all still ahead, after every valued
    // one; backwards from a valued cursor, none is. With criteria they are left to the plan
    // that sorts every match, and the page is answered only when the walk found one.
    if direction == Direction::After && tests.is_none() {
        runs.push(Run {
            name: "first_missing",
            size: None,
            long: format!("(SELECT count(*) FROM first_missing) > {RUN_BUDGET}"),
            rows: format!(
                "SELECT r.tenant_key, r.resource_type, r.id, NULL::{sql_type} AS sort_key
                 FROM resource r WHERE r.tenant_key = $1 AND r.resource_type = {resource_type}
                   AND NOT r.deleted AND {}
                   AND (SELECT count(*) FROM first_walked) < {limit}
                 LIMIT {over_budget}",
                without_value(table, &param, column)
            ),
            head: run_head(sql, position, RunKey::Missing(sql_type), None, &limit),
        });
    }

    let walk_order = format!("ORDER BY d.{column} {}", order.key_order);
    let (walked, per_resource) = match tests {
        None => (
            rows(&past_cursor, &format!("{walk_order} LIMIT {limit}")),
            "true",
        ),
        // The first resources walked that meet the tests, among at most `CRITERIA_BUDGET`.
        Some(tests) => (
            format!(
                "SELECT * FROM ({}) r WHERE {} ORDER BY r.sort_key {} LIMIT {limit}",
                rows(
                    &past_cursor,
                    &format!("{walk_order} LIMIT {}", sql.bind(CRITERIA_BUDGET))
                ),
                tests.per_resource,
                order.key_order
            ),
            tests.per_resource,
        ),
    };
    let mut expressions = vec![format!("first_walked AS MATERIALIZED ({walked})")];
    let mut candidates = vec!["SELECT * FROM first_walked".to_owned()];
    let mut conditions = Vec::new();
    if tests.is_some() {
        // A walk that stopped at its budget knows no boundary, and ties at its last key may
        // be missing: only a whole page walked is an answer.
        conditions.push(format!("(SELECT count(*) FROM first_walked) = {limit}"));
    }
    for Run {
        name,
        size,
        rows,
        long,
        head,
    } in &runs
    {
        if let Some(size) = size {
            expressions.push(format!("{name}_size AS MATERIALIZED ({size})"));
        }
        expressions.push(format!("{name} AS MATERIALIZED ({rows})"));
        // A long run's rows are not all read: its head stands for it, or nothing does.
        candidates.push(format!("SELECT * FROM {name} WHERE NOT {long}"));
        match head {
            None => conditions.push(format!("NOT {long}")),
            Some(head) => {
                expressions.push(head.rows(&format!("{name}_head"), long));
                candidates.push(format!("SELECT * FROM {name}_head"));
                conditions.push(format!(
                    "(NOT {long} OR (SELECT count(*) FROM {name}_head) = {limit})"
                ));
            }
        }
    }
    // The runs are read whole, up to the budget, and tested with the other candidates.
    conditions.push(per_resource.to_owned());

    Some(page(
        sql,
        position,
        &limit,
        &expressions,
        &candidates,
        conditions,
    ))
}

/// Forwards from a cursor among the resources without a first key, the page is the head of
/// their run (`Patient?_sort=-death-date,family` where few have died: every page after the
/// first sorted every Patient by family, 0.5 s at a million resources).
fn page_without_first_key(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    sql_type: &'static str,
    limit: &str,
    tests: Option<Tests>,
) -> Option<String> {
    let values = position.cursor?;
    if position.direction != Direction::After || tests.is_some() {
        return None;
    }
    let head = run_head(
        sql,
        position,
        RunKey::Missing(sql_type),
        Some(&values[1..]),
        limit,
    )?;
    let expressions = [head.rows("first_missing_head", "true")];
    let candidates = ["SELECT * FROM first_missing_head".to_owned()];
    let whole_page = vec![format!(
        "(SELECT count(*) FROM first_missing_head) = {limit}"
    )];
    Some(page(
        sql,
        position,
        limit,
        &expressions,
        &candidates,
        whole_page,
    ))
}

/// The page query of the `candidates` (rows of tenant, type, id and first key, from the common
/// table `expressions`) that meet `conditions` and lie past the cursor: their other keys
/// computed, sorted, at most `limit`.
fn page(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    limit: &str,
    expressions: &[String],
    candidates: &[String],
    mut conditions: Vec<String>,
) -> String {
    let PagePosition {
        keys,
        cursor,
        direction,
        ..
    } = *position;
    // The first key is the candidate's walked one; the others are computed for it.
    let mut candidate_keys = keys.to_vec();
    candidate_keys[0].expression = "r.sort_key".to_owned();
    if let Some(values) = cursor {
        conditions.push(beyond(sql, &candidate_keys, values, direction));
    }
    let key_columns: String = candidate_keys
        .iter()
        .enumerate()
        .map(|(index, key)| format!(", {} AS k{index}", key.expression))
        .collect();
    // A later key of `_lastUpdated` is read from each candidate's resource row (the first
    // key is the walked one).
    let candidates = with_last_updated(
        format!("({})", candidates.join(" UNION ")),
        &position.query.sort[1..],
    );
    format!(
        "WITH {} SELECT r.resource_type, r.id{key_columns}
         FROM {candidates} r WHERE {}
         ORDER BY {} LIMIT {limit}",
        expressions.join(", "),
        conditions.join(" AND "),
        order_by(&candidate_keys, direction)
    )
}

/// A run of equal first keys (or the resources without one), a common table expression
/// `name`: the count of its index rows up to one over the budget (`name_size`), when it is
/// counted apart from its rows; its rows, none when it is long; the condition that it is long;
/// and for a run that may be long, its head.
struct Run {
    name: &'static str,
    size: Option<String>,
    rows: String,
    long: String,
    head: Option<RunHead>,
}

/// The first page of a run in the second key's order (`run_head`): the walk's statement and
/// the run's first key as SQL.
struct RunHead {
    statement: String,
    run_key: String,
}

impl RunHead {
    /// The common table expression `name` of the head's resources as candidates (tenant,
    /// type, id and first key), read only when `condition` holds.
    fn rows(&self, name: &str, condition: &str) -> String {
        let RunHead { statement, run_key } = self;
        format!(
            "{name} AS MATERIALIZED (
                SELECT $1 AS tenant_key, h.resource_type, h.id, {run_key} AS sort_key
                FROM ({statement}) h WHERE {condition})"
        )
    }
}

/// Which run of first keys a head is of.
#[derive(Clone, Copy)]
enum RunKey<'a> {
    /// The resources whose first key equals this SQL expression.
    Equal(&'a str),
    /// The resources without a first key, whose key column is of this SQL type.
    Missing(&'static str),
}

/// The first `limit` resources of the run `run` in the order of the second key, past
/// `cursor` (the second key's value, type and id) if any: the lone walk of the second key
/// (`sorted_walk::walk`) testing each resource's first key. Only for two keys, the second
/// one walkable; with the run's first key as SQL, for `Run::head`.
///
/// A run longer than the budget is most often a common code or status
/// (`Observation?_sort=code,-date`), or the resources without a first key when few have one;
/// one resource in fourteen of a million-resource database's Observations shares its first
/// code, so a page of its run is found within the walk's budget.
fn run_head(
    sql: &mut SqlBuilder,
    position: &PagePosition,
    run: RunKey,
    cursor: Option<&[Option<String>]>,
    limit: &str,
) -> Option<RunHead> {
    let PagePosition {
        query,
        keys,
        direction,
        ..
    } = *position;
    let [_, second] = &query.sort[..] else {
        return None;
    };
    // The cursor among the run's resources without a second key is past any walk of it.
    if cursor.is_some_and(|values| values.first().is_none_or(Option::is_none)) {
        return None;
    }
    let sorted_by_second = SearchQuery {
        sort: vec![*second],
        ..query.clone()
    };
    let second_keys = keys[1..].to_vec();
    let first_key = &keys[0].expression;
    let (in_run, run_key) = match run {
        RunKey::Equal(key) => (format!("{first_key} = {key}"), key.to_owned()),
        RunKey::Missing(sql_type) => (format!("{first_key} IS NULL"), format!("NULL::{sql_type}")),
    };
    let head_position = PagePosition {
        query: &sorted_by_second,
        keys: &second_keys,
        cursor,
        direction,
    };
    let statement = walk(
        sql,
        &head_position,
        limit,
        Some(Tests::per_resource(&in_run)),
    )?;
    Some(RunHead { statement, run_key })
}
