//! Statements whose PostgreSQL plan is kept on the connection and reused across searches,
//! and the rule for which statements may be.
//! Measurements: docs/benchmarks.md, "Search plans kept across searches".
//!
//! Planning costs more than running most selective searches: at a million resources,
//! `Observation?subject=…&code=…` spent 0.49 ms planning and 0.15 ms executing, and a family
//! name's bounded draw 0.46 ms against 0.71 ms. A statement prepared once per connection is
//! planned for its bound values five times, then PostgreSQL keeps a generic plan when it
//! estimates that plan no costlier.
//!
//! That estimate is where a kept plan goes wrong. A generic plan cannot see the values, so it
//! assumes an average one: kept for `Observation?code=…`, it expected two matches and sorted
//! all 24,033 of a common code for every page (58 ms, against 0.45 ms for the plan made for
//! the value, which walks the primary key and stops after a page). So only statements whose
//! plan cannot depend on the values are kept: those that read at most a fixed number of index
//! rows through one index range whatever the values are, and the walk of a lone chain
//! (`grouped.rs`), whose every level is fenced and joined in a fixed order, so the values can
//! only change how its innermost criterion's rows are read. Forced generic against planned
//! for the values, a chain every Patient meets read its targets the same way
//! (`subject:Patient.birthdate=ge1900`, 14.0 against 14.5 ms) or sorted them instead of
//! hashing them (`subject:Patient.name` from `a` to `z`, 62 against 53 ms); kept, the chain
//! shape went from 1,523-1,646 to 2,479-2,640 searches/s at 16 clients. A page with no
//! criterion and no sort is kept too (its generic plan forced, below): it is the type's
//! first rows in id order after the cursor; and so is the page of a lone token or `Type/id` reference value, the first rows
//! of one value's range of the id-ordered token or reference index (`filter.rs`,
//! `Draw::OneValue`; forced generic at 1M, `status=final`, a common code, `gender=female`
//! and an Organization's 5,800 Encounters each read 51 index rows). Every other statement
//! is sent unnamed, and PostgreSQL plans it for its values each time.
//!
//! A kept statement whose generic plan PostgreSQL estimates costlier than the plans it makes
//! for the values is still planned on every search (seen as time in `bind`): those run with
//! the generic plan forced instead (`Plan::Generic`), `plan_cache_mode` set in the same round
//! trip when the connection's last statement needed the default (`pool.rs`). So is the walk of a sort with no criterion
//! (`sorted_walk.rs`), its page size written into its text so that the generic plan walks,
//! and so now is the walk of a lone chain, which PostgreSQL planned on every search at a
//! million resources (`Plan::Generic`).

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::pool::{in_planning_mode, Client, Planning};
use crate::Error;

/// Statements kept per connection before the connection's cache is emptied: the kept
/// statements are few shapes (draws and includes), but their texts vary with the number of
/// values and modifiers, and each holds a plan in its PostgreSQL backend.
const KEPT_PER_CONNECTION: usize = 256;

/// How a statement is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Prepared once per connection, its plan reused as PostgreSQL decides: only for a
    /// statement whose best plan is the same for any values (see the module documentation).
    Kept,
    /// Prepared once per connection and always run with its generic plan: for a statement
    /// whose best plan is the same for any values but whose generic plan PostgreSQL
    /// estimates costlier than the plans it makes for the values, so that `Kept` would plan
    /// it again on every search. A lone string criterion's runs (`runs.rs`) are planned that
    /// way on a small database: at 10,000 resources each search spent 4 to 9 ms in planning
    /// under load (2,300-2,500 searches/s against 7,300-7,900 for the range draw before).
    /// So were, at a million resources, the page with no criterion and no sort (1.8-2.5 ms in
    /// `bind`) and the include statements that look up each id (0.3-0.5 ms). Statements
    /// fenced into one plan by `OFFSET 0` (each criterion tested per row by index lookups)
    /// run this way too when PostgreSQL would not keep their plan: the probe of a lone
    /// `_has` of one value (`probe.rs`). A page of several single values drawn from one of
    /// them (`filter.rs`, `Draw::Intersection`), fenced the same way, is `Kept`: PostgreSQL
    /// keeps its generic plan by itself, and forcing it only added the SET and RESET. The walk
    /// of a lone chain (`grouped.rs`) was `Kept` until the two-level chain at a million
    /// resources was seen planned on every search (0.48 ms in `bind` against 0.43 ms
    /// running); forced, that shape went from 2,259-2,273 to 3,707-3,873 searches/s.
    Generic,
    /// Sent unnamed with its types, and planned for its values each time.
    ForTheValues,
}

/// Runs `sql` with `params`, planned as `plan` says. The connection keeps the planning
/// mode its last statement needed (`pool.rs`), so a run of searches of one kind sets it once.
pub(crate) async fn query(
    client: &Client,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
    plan: Plan,
) -> Result<Vec<Row>, Error> {
    if plan == Plan::ForTheValues {
        // Forced generic plans would apply to an unnamed statement too.
        let rows = client.query_typed(sql, params);
        return Ok(in_planning_mode(client, Planning::PostgresChooses, rows).await?);
    }
    // The cache also holds the read and write paths' statements; emptied, they are prepared
    // again on their next use.
    if client.statement_cache.size() >= KEPT_PER_CONNECTION {
        client.statement_cache.clear();
    }
    let types: Vec<Type> = params.iter().map(|(_, kind)| kind.clone()).collect();
    let statement = client.prepare_typed_cached(sql, &types).await?;
    let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(value, _)| *value).collect();
    let planning = match plan {
        Plan::Generic => Planning::GenericForced,
        Plan::Kept | Plan::ForTheValues => Planning::PostgresChooses,
    };
    let rows = client.query(&statement, &values);
    Ok(in_planning_mode(client, planning, rows).await?)
}
