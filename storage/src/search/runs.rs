//! The page of a lone string criterion (`Patient?name=smith`), drawn as runs: one run of
//! id-ordered index rows per distinct folded value in the criterion's prefix range.
//! Spec: https://hl7.org/fhir/R4/search.html#string
//!
//! The string index lists one folded value's rows in id order (migration 0006), but a prefix
//! range holds several values, so the range as a whole is not in id order. Drawn as one
//! range (`Draw::Range`), a page read every row of the range and sorted them: at a million
//! resources about 700 rows for a family name, for a page of 50. Drawn as runs, each value
//! gives at most a page of rows beyond the cursor and the runs are merged: a page reads
//! about a page of rows whatever the size of the database (docs/benchmarks.md, "A string
//! criterion paged from its runs").
//!
//! Runs pay one index descent per distinct value, so a range with many values (`name=a`)
//! is drawn as one range instead, within its row budget, in the same statement. A small
//! range, which costs less to read whole than to split into its values, is read whole by a
//! statement tried first.

use engine::definitions::SearchParamType;
use engine::search::{Criterion, Modifier, SearchQuery, SearchValue};

use super::filter::RANGE_BUDGET;
use super::sort::Direction;
use super::sql::{self, SqlBuilder};
use crate::TenantKey;

/// Fewer rows than this in the range, and the page is drawn from the whole range
/// (`RunsDraw::small_range`): reading them all costs less than finding the values (at 10,000 resources
/// a family name has about 7 rows).
const SMALL_RANGE: i64 = 200;

/// The most distinct values a range is drawn as runs for: each costs an index descent and
/// up to a page of rows. At a million resources a family name's prefix range holds one to
/// three values.
const MAX_RUNS: i64 = 64;

/// The two statements' sources of a page drawn as runs (see [`draw`]), tried in this order.
pub(crate) struct RunsDraw {
    /// Names the criterion's range (tenant, type, parameter, value) among the ranges known
    /// to be too large for `small_range` (`large_ranges.rs`).
    pub(crate) key: String,
    /// Every row of the range when it has fewer than `SMALL_RANGE` rows, else none: the
    /// resource keys, and the condition they meet. Kept (`plans.rs`): it reads its few rows
    /// without the two extra statements a forced generic plan costs.
    pub(crate) small_range: (String, String),
    /// The first `limit` ids beyond the cursor of each run; past `MAX_RUNS` values, every
    /// row of the range when there are fewer than `RANGE_BUDGET`. No rows when the range has
    /// more values and more rows than that; the page is then walked. Run with its generic
    /// plan forced (`Plan::Generic`).
    pub(crate) runs: String,
}

/// The statements that draw `query`'s page as runs, or `None` if it cannot be: it must have
/// one resource type, no `_sort`, and one criterion, a string parameter with one value and
/// no modifier (`:exact` compares the unfolded value, `:contains` is no prefix range). A
/// cursor must come from a page of that type, as every cursor of such a search does.
pub(crate) fn draw(
    sql: &mut SqlBuilder,
    tenant: TenantKey,
    query: &SearchQuery,
    cursor: Option<&[Option<String>]>,
    direction: Direction,
    limit: &str,
) -> Option<RunsDraw> {
    let [single_type] = query.scope.types()[..] else {
        return None;
    };
    let [criterion @ Criterion::Values {
        param,
        modifier: Modifier::None,
        values,
    }] = &query.criteria[..]
    else {
        return None;
    };
    let lone_prefix = param.kind() == SearchParamType::String
        && matches!(values.as_slice(), [SearchValue::String(_)]);
    // A cursor is (resource_type, id), and the type is the search's: the id alone bounds a
    // run, as a range the index scan starts from.
    let cursor_id = match cursor {
        None => None,
        Some([Some(resource_type), Some(id)]) if resource_type == single_type.as_str() => Some(id),
        Some(_) => return None,
    };
    if !lone_prefix || !query.sort.is_empty() {
        return None;
    }
    let [SearchValue::String(value)] = values.as_slice() else {
        return None;
    };
    let key = format!(
        "{tenant}\u{0}{single_type}\u{0}{}\u{0}{value}",
        param.code()
    );
    let type_name = sql.bind(single_type.as_str().to_owned());
    let rows = sql::index_rows(sql, criterion)?;
    let alias = &rows.alias;
    let in_range = format!(
        "FROM {} {alias} WHERE {alias}.tenant_key = $1 AND {alias}.resource_type = {type_name} AND {}",
        rows.table, rows.condition
    );
    let (comparison, run_order) = match direction {
        Direction::After => (">", "ASC"),
        Direction::Before => ("<", "DESC"),
    };
    let beyond_cursor = cursor_id.map_or_else(String::new, |id| {
        format!(" AND {alias}.id {comparison} {}", sql.bind(id.clone()))
    });
    let small_range = sql.bind(SMALL_RANGE);
    let max_runs = sql.bind(MAX_RUNS);
    let budget = sql.bind(RANGE_BUDGET);
    let within_budget = rows.fewer_than(&type_name, &budget);
    // The values are found by a loose index scan: each step is one descent to the next
    // value, so a range of three values costs three descents however many rows each has.
    let runs = format!(
        "(WITH RECURSIVE run_values(folded) AS (
            (SELECT {alias}.folded {in_range} ORDER BY {alias}.folded LIMIT 1)
            UNION ALL
            SELECT (SELECT {alias}.folded {in_range} AND {alias}.folded > previous.folded
                    ORDER BY {alias}.folded LIMIT 1)
            FROM run_values previous WHERE previous.folded IS NOT NULL
        ),
        runs AS MATERIALIZED (SELECT folded FROM run_values WHERE folded IS NOT NULL LIMIT {max_runs})
        SELECT DISTINCT run.tenant_key, run.resource_type, run.id FROM runs
        CROSS JOIN LATERAL (
            SELECT DISTINCT {alias}.tenant_key, {alias}.resource_type, {alias}.id {in_range}
                AND {alias}.folded = runs.folded{beyond_cursor}
            ORDER BY {alias}.tenant_key, {alias}.resource_type, {alias}.id {run_order} LIMIT {limit}
        ) run
        WHERE (SELECT count(*) FROM runs) < {max_runs}
        UNION ALL
        SELECT DISTINCT {alias}.tenant_key, {alias}.resource_type, {alias}.id {in_range}
            AND (SELECT count(*) FROM runs) >= {max_runs} AND {within_budget})"
    );
    Some(RunsDraw {
        key,
        small_range: (
            rows.owners(&type_name),
            format!(
                "r.tenant_key = $1 AND {}",
                rows.fewer_than(&type_name, &small_range)
            ),
        ),
        runs,
    })
}
