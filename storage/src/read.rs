//! Reads by id and by version: one indexed lookup each, returning the stored bytes.
// PERF: hot path (read, vread, conditional read); see docs/benchmarks.md.

use bytes::Bytes;
use engine::{Id, Instant, ResourceType, VersionId};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::model::StoredVersion;
use crate::pool::Pool;
use crate::{connection, Error, TenantKey};

pub(crate) async fn read_current(
    pool: &Pool,
    tenant: TenantKey,
    resource_type: ResourceType,
    id: &Id,
) -> Result<Option<StoredVersion>, Error> {
    let sql = "SELECT version_id, last_updated, body FROM resource
               WHERE tenant_key = $1 AND resource_type = $2 AND id = $3";
    lookup(
        pool,
        sql,
        &[&tenant.get(), &resource_type.as_str(), &id.as_str()],
    )
    .await
}

pub(crate) async fn read_version(
    pool: &Pool,
    tenant: TenantKey,
    resource_type: ResourceType,
    id: &Id,
    version_id: VersionId,
) -> Result<Option<StoredVersion>, Error> {
    let sql = "SELECT version_id, last_updated, body FROM resource_version
               WHERE tenant_key = $1 AND resource_type = $2 AND id = $3 AND version_id = $4";
    let params: [&(dyn ToSql + Sync); 4] = [
        &tenant.get(),
        &resource_type.as_str(),
        &id.as_str(),
        &version_id.get(),
    ];
    lookup(pool, sql, &params).await
}

/// Runs a prepared single-row lookup of (version_id, last_updated, body).
async fn lookup(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<StoredVersion>, Error> {
    let client = connection(pool).await?;
    let statement = client.prepare_cached(sql).await?;
    let row = client.query_opt(&statement, params).await?;
    Ok(row.map(|row| stored_version(&row, 0)))
}

/// The version in `row`'s columns (version_id, last_updated, body), starting at `first`.
pub(crate) fn stored_version(row: &Row, first: usize) -> StoredVersion {
    let body: Option<&[u8]> = row.get(first + 2);
    StoredVersion {
        version_id: VersionId::from_stored(row.get(first)),
        last_updated: Instant::from_datetime(row.get::<_, OffsetDateTime>(first + 1)),
        body: body.map(Bytes::copy_from_slice),
    }
}
