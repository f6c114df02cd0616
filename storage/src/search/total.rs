//! `_total`: the number of a search's matches, counted or estimated by PostgreSQL's planner.
//! Spec: https://hl7.org/fhir/R4/search.html#total

use engine::search::SearchQuery;
use sonic_rs::JsonValueTrait;

use super::filter::{self, Draw};
use super::plans::{self, Plan};
use super::sql::SqlBuilder;
use crate::pool::Client;
use crate::{Error, TenantKey};

/// The number of matches: counted, or the planner's estimate (no rows read).
pub(crate) async fn count(
    client: &Client,
    tenant: TenantKey,
    query: &SearchQuery,
    estimate: bool,
) -> Result<i64, Error> {
    let mut sql = SqlBuilder::new(tenant.get());
    let condition = filter::filter(&mut sql, query, Draw::Walk).condition;
    if !estimate {
        let text = format!("SELECT count(*) FROM resource r WHERE {condition}");
        let rows = plans::query(client, &text, &sql.typed_params(), Plan::ForTheValues).await?;
        return Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0)));
    }
    let text = format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM resource r WHERE {condition}");
    let rows = plans::query(client, &text, &sql.typed_params(), Plan::ForTheValues).await?;
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
