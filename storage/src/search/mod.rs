//! Running a parsed search: the page of matches in keyset order, the total when asked, and
//! the included resources, in a bounded number of queries per page.
//! Spec: https://hl7.org/fhir/R4/search.html
// PERF: hot path (every search); see docs/benchmarks.md.

mod include;
mod probe;
mod sort;
mod sql;
mod values;

use bytes::Bytes;
use deadpool_postgres::{Client, Pool};
use engine::search::{
    Criterion, Modifier, ParamRef, Prefix, SearchQuery, SearchValue, Summary, Total,
};
use engine::ResourceType;
use sonic_rs::JsonValueTrait;
use tokio_postgres::Row;

use crate::{connection, Error, TenantKey};
use sort::Direction;
use sql::SqlBuilder;

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
}

pub(crate) async fn search(
    pool: &Pool,
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
) -> Result<SearchPage, Error> {
    let client = connection(pool).await?;
    search_on(&client, tenant, query, page_size).await
}

/// A search on a connection the caller holds: a transaction Bundle's conditions are
/// searched inside its own database transaction.
pub(crate) async fn search_on(
    client: &Client,
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
) -> Result<SearchPage, Error> {
    let total = match (query.total, query.summary) {
        (_, Summary::Count) | (Total::Accurate, _) => {
            Some(count(client, tenant, query, false).await?)
        }
        (Total::Estimate, _) => Some(count(client, tenant, query, true).await?),
        (Total::None, _) => None,
    };
    if query.summary == Summary::Count || page_size == 0 {
        return Ok(SearchPage {
            total,
            ..SearchPage::default()
        });
    }

    let page = page_statements(tenant, query, page_size)?;
    let (keys, direction) = (&page.keys, page.direction);
    let mut rows = Vec::new();
    if let Some(probe) = &page.probe {
        rows = client.query_typed(probe, &page.sql.typed_params()).await?;
    }
    // The probe found less than a page among its candidates: the criteria are selective,
    // and the plan PostgreSQL picks for the whole search is the right one.
    if rows.len() <= page_size {
        rows = client
            .query_typed(&page.statement, &page.sql.typed_params())
            .await?;
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
    let total = total.or_else(|| {
        (!more && query.cursor.is_none()).then(|| i64::try_from(matches.len()).unwrap_or(i64::MAX))
    });
    let included = include::included(client, tenant, query, &matches).await?;
    Ok(SearchPage {
        matches,
        included,
        next_cursor,
        previous_cursor,
        total,
    })
}

/// The SQL of one page of a search, with its bound values: the statement PostgreSQL plans,
/// and the id-order probe to try first when the criteria are worth it (`probe.rs`).
pub(crate) struct PageStatements {
    pub(crate) sql: SqlBuilder,
    pub(crate) statement: String,
    pub(crate) probe: Option<String>,
    keys: Vec<sort::OrderKey>,
    direction: Direction,
}

/// Builds the page statements of `query`; pure, so the planning cost can be measured
/// (`benches/benches/search_planning.rs`).
pub(crate) fn page_statements(
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
) -> Result<PageStatements, Error> {
    let mut sql = SqlBuilder::new(tenant.get());
    let mut condition = filter(&mut sql, query);
    let keys = sort::order_keys(&mut sql, "r", &query.sort);
    let mut direction = Direction::After;
    let mut cursor_condition = None;
    if let Some(cursor) = &query.cursor {
        let (cursor_direction, values) =
            sort::decode_cursor(cursor, keys.len()).ok_or(Error::InvalidCursor)?;
        direction = cursor_direction;
        let beyond = sort::beyond(&mut sql, &keys, &values, direction);
        condition = format!("{condition} AND {beyond}");
        cursor_condition = Some(beyond);
    }
    // Two steps in one statement: the page's keys are found from the index tables and the
    // resource's primary key alone, and only the page's rows are then read for their bodies.
    // Reading a body also checks the row is live: `filter` leaves that check out where an
    // index row already proves it, and a mistake there must not put a deleted row (no body)
    // on a page.
    // Reading the body of every match before sorting cost a heap fetch per match (a chain
    // matching 58,000 Observations: 1.2 s for a page of 50).
    let page_keys: String = keys
        .iter()
        .enumerate()
        .map(|(index, key)| format!(", {} AS k{index}", key.expression))
        .collect();
    let limit = sql.bind(i64::try_from(page_size + 1).unwrap_or(i64::MAX));
    let outer_keys: Vec<sort::OrderKey> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| sort::OrderKey {
            expression: format!("page.k{index}"),
            sql_type: key.sql_type,
            descending: key.descending,
        })
        .collect();
    let key_columns: String = outer_keys
        .iter()
        .map(|key| format!(", ({})::text", key.expression))
        .collect();
    let page_query = |candidates: &str| {
        format!(
            "SELECT r.resource_type, r.id, r.body{key_columns} FROM (
                SELECT r.resource_type, r.id{page_keys} FROM {candidates} r WHERE {condition}
                ORDER BY {} LIMIT {limit}) page
             JOIN resource r ON r.tenant_key = $1 AND r.resource_type = page.resource_type AND r.id = page.id
                 AND NOT r.deleted
             ORDER BY {}",
            sort::order_by(&keys, direction),
            sort::order_by(&outer_keys, direction)
        )
    };
    let probe = probe::candidates(
        &mut sql,
        query,
        &keys,
        direction,
        cursor_condition.as_deref(),
    )
    .map(|candidates| page_query(&candidates));
    let statement = page_query("resource");
    Ok(PageStatements {
        sql,
        statement,
        probe,
        keys,
        direction,
    })
}

/// The number of matches: counted, or the planner's estimate (no rows read).
async fn count(
    client: &Client,
    tenant: TenantKey,
    query: &SearchQuery,
    estimate: bool,
) -> Result<i64, Error> {
    let mut sql = SqlBuilder::new(tenant.get());
    let condition = filter(&mut sql, query);
    if !estimate {
        let text = format!("SELECT count(*) FROM resource r WHERE {condition}");
        let rows = client.query_typed(&text, &sql.typed_params()).await?;
        return Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0)));
    }
    let text = format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM resource r WHERE {condition}");
    let rows = client.query_typed(&text, &sql.typed_params()).await?;
    let plan: Option<JsonText> = rows.first().and_then(|row| row.try_get(0).ok());
    let estimated = plan.and_then(|JsonText(plan)| {
        let value: sonic_rs::Value = sonic_rs::from_str(&plan).ok()?;
        value.get(0)?.get("Plan")?.get("Plan Rows")?.as_f64()
    });
    // Plan Rows is a float estimate; a count is a whole number.
    #[allow(clippy::cast_possible_truncation)]
    Ok(estimated.map_or(0, |rows| rows.round() as i64))
}

/// A `json` column as text; tokio-postgres reads `json` only through serde_json otherwise.
struct JsonText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for JsonText {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<JsonText, Box<dyn std::error::Error + Sync + Send>> {
        Ok(JsonText(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(kind: &tokio_postgres::types::Type) -> bool {
        *kind == tokio_postgres::types::Type::JSON
    }
}

/// The WHERE condition of the search on the resource row `r`: scope, liveness and criteria.
fn filter(sql: &mut SqlBuilder, query: &SearchQuery) -> String {
    let scope_types = query.scope.types();
    let types: Vec<String> = scope_types
        .iter()
        .map(|kind| kind.as_str().to_owned())
        .collect();
    let mut conditions = vec!["r.tenant_key = $1".to_owned()];
    // Index rows exist only for live resources (a delete removes them), so a criterion that
    // requires one already excludes deleted resources, and the resource's heap row need not be
    // read to check: its primary key alone serves (an index-only scan once vacuumed).
    if !query.criteria.iter().any(requires_index_row) {
        conditions.push("NOT r.deleted".to_owned());
    }
    if let [single] = types.as_slice() {
        conditions.push(format!("r.resource_type = {}", sql.bind(single.clone())));
    } else {
        conditions.push(format!("r.resource_type = ANY({})", sql.bind(types)));
    }
    let single_type = match scope_types[..] {
        [resource_type] => Some(resource_type),
        _ => None,
    };
    // Criteria on a single-point date parameter, by parameter, tested on its one row at once.
    let mut point_dates: Vec<(ParamRef, Vec<&SearchValue>)> = Vec::new();
    for criterion in &query.criteria {
        match single_type.and_then(|resource_type| point_date_value(criterion, resource_type)) {
            Some((param, value)) => match point_dates
                .iter_mut()
                .find(|(seen, _)| seen.code() == param.code())
            {
                Some((_, values)) => values.push(value),
                None => point_dates.push((param, vec![value])),
            },
            None => conditions.push(sql::criterion(sql, "r", criterion)),
        }
    }
    for (param, values) in &point_dates {
        conditions.push(sql::single_point_date(sql, "r", *param, values));
    }
    conditions.join(" AND ")
}

/// The one value of `criterion` if it is a plain date criterion (no modifier, no OR, not
/// `ne`) on a parameter with at most one point value per resource of `resource_type`.
fn point_date_value(
    criterion: &Criterion,
    resource_type: ResourceType,
) -> Option<(ParamRef, &SearchValue)> {
    let Criterion::Values {
        param,
        modifier: Modifier::None,
        values,
    } = criterion
    else {
        return None;
    };
    let [value @ SearchValue::Date { prefix, .. }] = values.as_slice() else {
        return None;
    };
    (*prefix != Prefix::Ne && param.is_single_point_date(resource_type)).then_some((*param, value))
}

/// Whether a resource meeting `criterion` must have a row in an index table.
fn requires_index_row(criterion: &Criterion) -> bool {
    match criterion {
        Criterion::Values {
            param, modifier, ..
        } => *modifier != Modifier::Not && !matches!(param.code(), "_id" | "_lastUpdated"),
        Criterion::Missing { missing, .. } => !missing,
        Criterion::Chain { .. } => true,
        // The row `_has` needs is the referring resource's: it may still refer to this one
        // after this one was deleted.
        Criterion::Has { .. } => false,
        Criterion::AnyOf(criteria) => criteria.iter().all(requires_index_row),
        // A List may name deleted resources; the compartment owner itself has no link row.
        Criterion::List(_) | Criterion::Compartment { .. } => false,
    }
}

fn found(row: &Row) -> FoundResource {
    let body: &[u8] = row.get(2);
    FoundResource {
        resource_type: row.get(0),
        id: row.get(1),
        body: Bytes::copy_from_slice(body),
    }
}
