//! Reads by id and by version: one indexed lookup each, returning the stored bytes.
// PERF: hot path (read, vread, conditional read); see docs/benchmarks.md.

use bytes::Bytes;
use deadpool_postgres::Pool;
use engine::{Id, Instant, ResourceType, VersionId};
use time::OffsetDateTime;

use crate::model::StoredVersion;
use crate::{Error, TenantKey};

pub(crate) async fn read_current(
    pool: &Pool,
    tenant: TenantKey,
    resource_type: ResourceType,
    id: &Id,
) -> Result<Option<StoredVersion>, Error> {
    let client = pool
        .get()
        .await
        .map_err(|error| Error::Pool(error.to_string()))?;
    let statement = client
        .prepare_cached(
            "SELECT version_id, last_updated, body FROM resource
             WHERE tenant_key = $1 AND resource_type = $2 AND id = $3",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[&tenant.get(), &resource_type.as_str(), &id.as_str()],
        )
        .await?;
    Ok(row.map(|row| stored_version(row.get(0), row.get(1), row.get(2))))
}

pub(crate) async fn read_version(
    pool: &Pool,
    tenant: TenantKey,
    resource_type: ResourceType,
    id: &Id,
    version_id: VersionId,
) -> Result<Option<StoredVersion>, Error> {
    let client = pool
        .get()
        .await
        .map_err(|error| Error::Pool(error.to_string()))?;
    let statement = client
        .prepare_cached(
            "SELECT version_id, last_updated, body FROM resource_version
             WHERE tenant_key = $1 AND resource_type = $2 AND id = $3 AND version_id = $4",
        )
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &tenant.get(),
                &resource_type.as_str(),
                &id.as_str(),
                &version_id.get(),
            ],
        )
        .await?;
    Ok(row.map(|row| stored_version(row.get(0), row.get(1), row.get(2))))
}

fn stored_version(
    version_id: i64,
    last_updated: OffsetDateTime,
    body: Option<&[u8]>,
) -> StoredVersion {
    StoredVersion {
        version_id: VersionId::from_stored(version_id),
        last_updated: Instant::from_datetime(last_updated),
        body: body.map(Bytes::copy_from_slice),
    }
}
