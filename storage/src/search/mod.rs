//! Running a parsed search: the page of matches in keyset order, the total when asked, and
//! the included resources, in a bounded number of queries per page.
//! Spec: https://hl7.org/fhir/R4/search.html
// PERF: hot path (every search); see docs/benchmarks.md.

mod canonical;
mod filter;
mod grouped;
mod has;
mod include;
mod keys;
mod large_ranges;
mod last_updated;
mod plans;
mod probe;
mod running;
mod runs;
mod sort;
mod sorted_by_several;
mod sorted_walk;
mod sql;
mod total;
mod values;
mod wide_dates;

use bytes::Bytes;
use engine::search::{SearchQuery, Summary, Total};
use tokio_postgres::Row;

use crate::pool::Client;
use crate::{Error, TenantKey};
use filter::Draw;
pub use include::{MAX_INCLUDED, MAX_INCLUDE_ITERATIONS};
pub(crate) use large_ranges::LargeRanges;
use plans::Plan;
pub(crate) use running::{search, search_within};
use sort::Direction;
use sql::SqlBuilder;
pub(crate) use values::timestamp;

/// A resource a search returns, with the stored bytes to write into the Bundle unchanged.
#[derive(Debug, Clone)]
pub struct FoundResource {
    pub resource_type: String,
    pub id: String,
    pub body: Bytes,
}

/// One page of a search.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub matches: Vec<FoundResource>,
    /// `_include` and `_revinclude` results, each resource once, none that is also a match.
    pub included: Vec<FoundResource>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// The cursor of the previous page; `None` on the first page.
    pub previous_cursor: Option<String>,
    /// The number of matches across all pages, when asked for or known without counting.
    pub total: Option<i64>,
    /// Whether `included` was cut short: at most 1,000 included resources per page, and
    /// `:iterate` four rounds deep.
    pub included_truncated: bool,
}

/// A search on a connection, with no time limit of its own (`search` and `search_within`
/// set it).
async fn search_on(
    client: &Client,
    large_ranges: Option<&LargeRanges>,
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
) -> Result<SearchPage, Error> {
    // `_count=0` "shall be treated the same as `_summary=count`" (search.html#count).
    let only_count = query.summary == Summary::Count || page_size == 0;
    let total = match (query.total, only_count) {
        (_, true) | (Total::Accurate, _) => Some(total::count(client, tenant, query, false).await?),
        (Total::Estimate, false) => Some(total::count(client, tenant, query, true).await?),
        (Total::None, false) => None,
    };
    if only_count {
        return Ok(SearchPage {
            total,
            ..SearchPage::default()
        });
    }

    let page = page_statements(tenant, query, page_size)?;
    let (keys, direction) = (&page.keys, page.direction);
    // At most one of the probe and the bounded draw is tried before the statement.
    let mut rows = Vec::new();
    let mut answered = false;
    if let Some((probe, plan)) = &page.probe {
        rows = plans::query(client, probe, &page.sql.typed_params(), *plan).await?;
        // A page among the probe's candidates is the page. Less than one: the criteria are
        // selective, and the plan PostgreSQL picks for the whole search is the right one.
        answered = rows.len() > page_size;
    }
    // A lone string criterion's range, read whole if it is small, unless known to be large.
    let mut found_large = None;
    if let (false, Some(SmallRange { key, statement })) = (answered, &page.small_range) {
        if !large_ranges.is_some_and(|ranges| ranges.is_large(key)) {
            rows = plans::query(client, statement, &page.sql.typed_params(), Plan::Kept).await?;
            answered = !rows.is_empty();
            if answered {
                rows.retain(|row| row.get::<_, Option<&str>>(0).is_some());
            } else {
                found_large = Some(key);
            }
        }
    }
    for (bounded, plan) in &page.bounded {
        if answered {
            break;
        }
        rows = plans::query(client, bounded, &page.sql.typed_params(), *plan).await?;
        // Rows mean the criterion was under the budget and the page is exact. None may mean
        // it was over (or that nothing matched, which the statement finds cheaply), except
        // for a statement that answers an empty page with a row of nulls (`exact_or_none`).
        answered = !rows.is_empty();
        if answered {
            rows.retain(|row| row.get::<_, Option<&str>>(0).is_some());
            break;
        }
    }
    // No rows from the small-range statement and some from the runs: the range is large.
    if let (Some(ranges), Some(key)) = (large_ranges, found_large) {
        if answered {
            ranges.remember(key);
        }
    }
    // Sorted, with values too common to draw: the page may lie within the first resources
    // in sort order. Built only now, so that other searches do not send its values, and
    // only once a draw found the criteria common: otherwise they are few, and sorted fast.
    if !answered && !page.bounded.is_empty() {
        if let Some((walk_sql, walk)) = sorted_walk::page_with_criteria(tenant, query, page_size)? {
            rows =
                plans::query(client, &walk, &walk_sql.typed_params(), Plan::ForTheValues).await?;
            answered = !rows.is_empty();
        }
    }
    if !answered {
        rows = plans::query(client, &page.statement, &page.sql.typed_params(), page.plan).await?;
    }
    // One row more than the page shows whether the page has a neighbour on the far side.
    let more = rows.len() > page_size;
    rows.truncate(page_size);
    if direction == Direction::Before {
        rows.reverse();
    }
    let cursor_at = |row: Option<&Row>, towards: Direction| {
        row.map(|row| {
            let values: Vec<Option<String>> =
                (0..keys.len()).map(|index| row.get(3 + index)).collect();
            sort::encode_cursor(towards, &values)
        })
    };
    // Read forwards, a page has a previous one when it was reached by a cursor; read
    // backwards from a `previous` link, it always has a next one.
    let (has_next, has_previous) = match direction {
        Direction::After => (more, query.cursor.is_some()),
        Direction::Before => (true, more),
    };
    let next_cursor = if has_next {
        cursor_at(rows.last(), Direction::After)
    } else {
        None
    };
    let previous_cursor = if has_previous {
        cursor_at(rows.first(), Direction::Before)
    } else {
        None
    };
    let matches: Vec<FoundResource> = rows.iter().map(found).collect();
    let on_this_page = i64::try_from(matches.len()).unwrap_or(i64::MAX);
    let total = match (total, query.cursor.is_none()) {
        // A first page that is also the last holds every match: the total is known.
        (_, true) if !more => Some(on_this_page),
        // The planner's estimate can be stale; never report fewer than a first page shows.
        (Some(estimate), true) if query.total == Total::Estimate => {
            Some(estimate.max(on_this_page + 1))
        }
        (total, _) => total,
    };
    let included = include::included(client, tenant, query, &matches).await?;
    Ok(SearchPage {
        matches,
        included: included.resources,
        next_cursor,
        previous_cursor,
        total,
        included_truncated: included.truncated,
    })
}

/// The SQL of one page of a search, with its bound values: the statement PostgreSQL plans,
/// and the id-order probe to try first when the criteria are worth it (`probe.rs`).
pub(crate) struct PageStatements {
    pub(crate) sql: SqlBuilder,
    pub(crate) statement: String,
    /// How `statement` is planned: kept where its plan cannot depend on the values (`plans.rs`).
    pub(crate) plan: Plan,
    /// The probe, and how it is planned (`probe::plan`).
    pub(crate) probe: Option<(String, Plan)>,
    /// A lone string criterion's page from its whole range when that has fewer than
    /// `runs::SMALL_RANGE` rows, else no rows; tried first, unless the range is known to be
    /// larger (`large_ranges.rs`). Its plan is kept.
    pub(crate) small_range: Option<SmallRange>,
    /// The page drawn from a string or date criterion's index rows, when they are fewer
    /// than the budget (`filter.rs`) or, for a lone string criterion, from the runs of its
    /// values (`runs.rs`), else no rows; tried in order before `statement`. A plan is kept
    /// when the page is drawn from its one criterion alone (`plans.rs`).
    pub(crate) bounded: Vec<(String, Plan)>,
    keys: Vec<sort::OrderKey>,
    direction: Direction,
}

/// The statement that reads a lone string criterion's small range whole, and the key of that
/// range among those known to be large.
pub(crate) struct SmallRange {
    pub(crate) key: String,
    pub(crate) statement: String,
}

/// Builds the page statements of `query`; pure, so the planning cost can be measured
/// (`benches/benches/search_planning.rs`).
pub(crate) fn page_statements(
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
) -> Result<PageStatements, Error> {
    let mut sql = SqlBuilder::new(tenant.get());
    let limit = sql.bind(i64::try_from(page_size + 1).unwrap_or(i64::MAX));
    // A search with a chain that can be grouped is paged grouped by the chain's targets
    // (`grouped.rs`): one statement, no probe and no draw; walked when the chain is alone.
    if let Some(chain) = grouped::walk_chain(query) {
        let keys = chain.keys();
        let (direction, cursor) = match &query.cursor {
            Some(cursor) => {
                let (direction, values) =
                    sort::decode_cursor(cursor, keys.len()).ok_or(Error::InvalidCursor)?;
                // Every key of a walked chain is an id.
                let values: Option<Vec<String>> = values.into_iter().collect();
                (direction, Some(values.ok_or(Error::InvalidCursor)?))
            }
            None => (Direction::After, None),
        };
        let statement = chain.page_statement(&mut sql, cursor.as_deref(), direction, &limit);
        // Every level is fenced and joined in a fixed order, so only the innermost criterion's
        // values could change the plan; PostgreSQL planned the two-level chain again on every
        // search at a million resources (`plans.rs`).
        return Ok(PageStatements {
            sql,
            statement,
            plan: Plan::Generic,
            probe: None,
            small_range: None,
            bounded: Vec::new(),
            keys,
            direction,
        });
    }
    let grouped = grouped::grouped(&mut sql, query);
    let is_grouped = grouped.is_some();
    let (walked, keys) = match grouped {
        Some(grouped) => (grouped.filter, grouped.keys),
        None => (
            filter::filter(&mut sql, query, Draw::Walk),
            sort::order_keys(&mut sql, "r", &query.sort),
        ),
    };
    let mut direction = Direction::After;
    let mut cursor_condition = None;
    let mut cursor_values = None;
    if let Some(cursor) = &query.cursor {
        let (cursor_direction, values) =
            sort::decode_cursor(cursor, keys.len()).ok_or(Error::InvalidCursor)?;
        direction = cursor_direction;
        cursor_condition = Some(sort::beyond(&mut sql, &keys, &values, direction));
        cursor_values = Some(values);
    }
    let page_keys: String = keys
        .iter()
        .enumerate()
        .map(|(index, key)| format!(", {} AS k{index}", key.expression))
        .collect();
    let outer_keys = sort::page_columns(&keys, "page.");
    let beyond = cursor_condition
        .as_ref()
        .map_or_else(String::new, |beyond| format!(" AND {beyond}"));
    let page_query = |candidates: &str, condition: &str| {
        with_bodies(
            &format!(
                "SELECT r.resource_type, r.id{page_keys} FROM {candidates} r WHERE {condition}{beyond}
                ORDER BY {} LIMIT {limit}",
                sort::order_by(&keys, direction)
            ),
            &outer_keys,
            direction,
        )
    };
    // A probe that tests each candidate has already read the candidate's row (its `deleted`
    // flag) and so carries the body up with it, rather than find each row of the page again
    // by its primary key (`Patient?_has:…` at a million resources: 51 lookups, 204 of the
    // statement's 1,533 buffers); so does the walk of a page with no criterion. Other pages
    // keep `with_bodies`, which reads only the page.
    let page_of_read_rows = |candidates: &str, condition: &str| {
        let key_columns = key_text_columns(&keys);
        format!(
            "SELECT r.resource_type, r.id, r.body{key_columns} FROM {candidates} r
             WHERE {condition} AND NOT r.deleted{beyond}
             ORDER BY {} LIMIT {limit}",
            sort::order_by(&keys, direction)
        )
    };
    if is_grouped {
        return Ok(PageStatements {
            statement: page_query(&walked.source, &walked.condition),
            plan: Plan::ForTheValues,
            sql,
            probe: None,
            small_range: None,
            bounded: Vec::new(),
            keys,
            direction,
        });
    }
    let probe = probe::candidates(
        &mut sql,
        query,
        &keys,
        direction,
        cursor_condition.as_deref(),
        i64::try_from(page_size + 1).unwrap_or(i64::MAX),
    )
    .map(|candidates| {
        if probe::tests_per_row(query) {
            let per_row = filter::filter(&mut sql, query, Draw::PerRow);
            let condition = match probe::common_enough(&mut sql, query) {
                Some(common) => format!("{} AND {common}", per_row.condition),
                None => per_row.condition,
            };
            (
                page_of_read_rows(&candidates, &condition),
                probe::plan(query),
            )
        } else {
            (
                page_query(&candidates, &walked.condition),
                Plan::ForTheValues,
            )
        }
    });
    // The statement runs when the probe found less than a page: a chain's matches are then
    // rare, and drawn from its reference rows (`filter.rs`).
    // Each filter binds its own values, and every statement is sent with all of them: only
    // the filters a statement uses are built.
    // A lone token or reference value's page is its first index rows in id order, and a page
    // with no criterion and no sort the type's first rows: only the values and the cursor's id
    // change between searches, never the plan (`plans.rs`).
    let unsorted = query.sort.is_empty();
    let position = sort::PagePosition {
        query,
        keys: &keys,
        cursor: cursor_values.as_deref(),
        direction,
    };
    let sorted_walk = sorted_walk::statement(&mut sql, &position, page_size);
    let (statement, plan) = if let Some(walk) = sorted_walk {
        (with_bodies(&walk, &outer_keys, direction), Plan::Generic)
    } else if unsorted && filter::draws_from_index(query, Draw::Chain) {
        let drawn = filter::filter(&mut sql, query, Draw::Chain);
        (
            page_query(&drawn.source, &drawn.condition),
            Plan::ForTheValues,
        )
    } else if unsorted && filter::draws_from_index(query, Draw::OneValue) {
        let drawn = filter::filter(&mut sql, query, Draw::OneValue);
        (page_query(&drawn.source, &drawn.condition), Plan::Kept)
    } else if unsorted && query.criteria.is_empty() && query.scope.types().len() == 1 {
        // The walk reads each resource row of the page in id order already: its body comes
        // with it, rather than from a second lookup of each row by primary key.
        (
            page_of_read_rows(&walked.source, &walked.condition),
            Plan::Generic,
        )
    } else {
        (
            page_query(&walked.source, &walked.condition),
            Plan::ForTheValues,
        )
    };
    // A lone string criterion is drawn as runs of its values (`runs.rs`), else a string or
    // date criterion as one range within its budget; both only as many rows as they need.
    let cursor_values = cursor_values.as_deref();
    let mut bounded = Vec::new();
    let drawable = probe.is_none() && query.sort.is_empty();
    let mut small_range = None;
    let runs = drawable
        .then(|| runs::draw(&mut sql, tenant, query, cursor_values, direction, &limit))
        .flatten();
    if let Some(runs) = runs {
        let (source, condition) = &runs.small_range;
        small_range = Some(SmallRange {
            key: runs.key.clone(),
            statement: page_query(source, condition),
        });
        bounded.push((page_query(&runs.runs, "r.tenant_key = $1"), Plan::Generic));
    } else if probe.is_none() && filter::draws_from_index(query, Draw::Intersection) {
        let drawn = filter::filter(&mut sql, query, Draw::Intersection);
        let page = page_query(&drawn.source, &drawn.condition);
        if let Some(exact_when) = &drawn.exact_when {
            // Fenced into one plan, which PostgreSQL keeps after five runs: forcing it
            // (`Plan::Generic`) only added the SET and RESET around it (docs/benchmarks.md,
            // "Several single values drawn from one of them, kept").
            bounded.push((exact_or_none(&page, exact_when), Plan::Kept));
        }
        if query.sort.is_empty() {
            // One type, so the walk goes in id order alone (the last key) and its cursor
            // bounds the index range read: ordered by the type too, PostgreSQL sorted every
            // drawn row (5,900 for a page of 50).
            let id_key = &keys[keys.len() - 1..];
            let beyond = cursor_values.map_or_else(String::new, |values| {
                let id_value = &values[values.len() - 1..];
                format!(
                    " WHERE {}",
                    sort::beyond(&mut sql, id_key, id_value, direction)
                )
            });
            let walked = format!(
                "(SELECT * FROM {} r{beyond} ORDER BY {} LIMIT {})",
                drawn.source,
                sort::order_by(id_key, direction),
                sql.bind(filter::INTERSECTION_WALK)
            );
            let page = page_query(&walked, &drawn.condition);
            bounded.push((full_page_or_none(&page, &limit), Plan::Generic));
        }
    }
    // A sorted search with a common single value among ranges (`category=laboratory&
    // date=ge2030-01-01&_sort=-date`) draws from its range too: within that budget its page
    // is exact, and an empty one is known at once instead of after the walk's budget (1.6 ms
    // against 15). Otherwise a range is drawn only where no other draw was.
    let range_beside_value =
        filter::sorted_with_one_value(query) && !query.criteria.iter().all(filter::is_one_value);
    let drawn_already = !bounded.is_empty() || small_range.is_some();
    if probe.is_none()
        && (!drawn_already || range_beside_value)
        && filter::draws_from_index(query, Draw::Range)
    {
        let drawn = filter::filter(&mut sql, query, Draw::Range);
        // Alone, the draw's plan is the same for any values, but PostgreSQL estimates its
        // generic plan costlier than those it makes for the values and so planned a
        // birth-date range again on every search (1.3 ms of a 2 ms search at 1M).
        let plan = if filter::range_draw_alone(query) {
            Plan::Generic
        } else {
            Plan::ForTheValues
        };
        let within_budget = drawn.exact_when.as_deref().unwrap_or("true");
        if query.sort.is_empty() {
            // No rows when over the budget, or when nothing matched: the statement that
            // follows finds that as cheaply.
            let condition = format!("{} AND {within_budget}", drawn.condition);
            bounded.push((page_query(&drawn.source, &condition), plan));
        } else {
            // Sorted too: within the budget the matches are few enough to sort. Over it, the
            // search is known to be common and its sort is walked
            // (`sorted_walk::page_with_criteria`), so an empty page must say it is one: that
            // walk would pass its whole budget finding nothing (2 ms became 70).
            let page = page_query(&drawn.source, &drawn.condition);
            bounded.push((exact_or_none(&page, within_budget), plan));
        }
    }
    // Sorted by several keys with no criterion: exact unless a run of equal first keys is
    // too long to sort, and then the statement, which sorts every resource, answers.
    if let Some(page) = sorted_by_several::statement(&mut sql, &position, page_size, None) {
        bounded.push((with_bodies(&page, &outer_keys, direction), Plan::Generic));
    }
    let by_last_updated = last_updated::sorted_page(&mut sql, &position, &limit)
        .or_else(|| last_updated::unsorted_page(&mut sql, &position, &limit));
    if let Some(page) = by_last_updated {
        bounded.push((page, Plan::ForTheValues));
    }
    Ok(PageStatements {
        sql,
        statement,
        plan,
        probe,
        small_range,
        bounded,
        keys,
        direction,
    })
}

/// `page` when `exact_when` holds, an empty page then as one row of nulls; no row at all
/// when it does not. A bounded draw whose matches are often none (`Draw::Intersection`: a
/// Patient without an Observation of the code) so tells an empty page apart from a draw
/// over its budget, and PostgreSQL does not plan the search again to find it empty.
pub(crate) fn exact_or_none(page: &str, exact_when: &str) -> String {
    format!(
        "SELECT drawn.* FROM (SELECT 1 WHERE {exact_when}) exact LEFT JOIN ({page}) drawn ON true"
    )
}

/// `page`, a statement of at most `limit` rows, when it has that many, else no row: a
/// page walked over a bounded number of candidates is exact only when it filled up.
pub(crate) fn full_page_or_none(page: &str, limit: &str) -> String {
    format!(
        "WITH walked AS MATERIALIZED ({page}) \
         SELECT * FROM walked WHERE (SELECT count(*) FROM walked) = {limit}"
    )
}

/// The statement of a page: `page` (a query of the page's `resource_type`, `id` and keys
/// `k0`, `k1`, …), each row with its body, in page order (`keys`, the keys as `page.k0`, …):
/// the columns `search_on` reads (type, id, body, then the keys as text).
///
/// Two steps in one statement: the page's keys are found from the index tables and the
/// resource's primary key alone, and only the page's rows are then read for their bodies.
/// Reading a body also checks the row is live: `filter` leaves that check out where an index
/// row already proves it, and a mistake there must not put a deleted row (no body) on a page.
/// Reading the body of every match before sorting cost a heap fetch per match (a chain
/// matching 58,000 Observations: 1.2 s for a page of 50).
pub(crate) fn with_bodies(page: &str, keys: &[sort::OrderKey], direction: Direction) -> String {
    let key_columns = key_text_columns(keys);
    format!(
        "SELECT r.resource_type, r.id, r.body{key_columns} FROM ({page}) page
         JOIN resource r ON r.tenant_key = $1 AND r.resource_type = page.resource_type AND r.id = page.id
             AND NOT r.deleted
         ORDER BY {}",
        sort::order_by(keys, direction)
    )
}

/// The page's keys as the text columns `search_on` reads after type, id and body, each
/// with its leading comma.
pub(crate) fn key_text_columns(keys: &[sort::OrderKey]) -> String {
    keys.iter()
        .map(|key| format!(", ({})::text", key.expression))
        .collect()
}

fn found(row: &Row) -> FoundResource {
    let body: &[u8] = row.get(2);
    FoundResource {
        resource_type: row.get(0),
        id: row.get(1),
        body: Bytes::copy_from_slice(body),
    }
}
