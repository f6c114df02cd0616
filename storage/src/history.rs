//! History at instance, type and system level: newest first, paged by a keyset cursor.
//! Spec: https://hl7.org/fhir/R4/http.html#history

use bytes::Bytes;
use engine::{Id, Instant, ResourceType, VersionId};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use crate::model::{
    HistoryCursor, HistoryEntry, HistoryMethod, HistoryPage, HistoryQuery, HistoryScope,
};
use crate::pool::Pool;
use crate::search::timestamp;
use crate::{Error, TenantKey};

pub(crate) async fn history(
    pool: &Pool,
    tenant: TenantKey,
    query: &HistoryQuery,
) -> Result<HistoryPage, Error> {
    let tenant_key = tenant.get();
    let type_name;
    let id_text;
    let since = query.since.map(Instant::datetime);
    let at_from = query.at.and_then(|at| at.from).map(timestamp);
    let at_to = query.at.and_then(|at| at.to).map(timestamp);
    let cursor_time = query.after.map(|cursor| cursor.last_updated.datetime());
    let cursor_seq = query.after.map(|cursor| cursor.seq);
    // One row more than the page, to know whether a next page exists without counting.
    let limit = i64::from(query.count) + 1;

    let mut sql = String::from(
        "SELECT resource_type, id, version_id, last_updated, method, body, seq, status
         FROM resource_version WHERE tenant_key = $1",
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant_key];
    match &query.scope {
        HistoryScope::Instance(resource_type, id) => {
            type_name = resource_type.as_str();
            id_text = id.as_str();
            params.push(&type_name);
            sql.push_str(&format!(" AND resource_type = ${}", params.len()));
            params.push(&id_text);
            sql.push_str(&format!(" AND id = ${}", params.len()));
        }
        HistoryScope::Type(resource_type) => {
            type_name = resource_type.as_str();
            params.push(&type_name);
            sql.push_str(&format!(" AND resource_type = ${}", params.len()));
        }
        HistoryScope::System => {}
    }
    if let Some(since) = &since {
        params.push(since);
        sql.push_str(&format!(" AND last_updated >= ${}", params.len()));
    }
    // A version is current from its own time until the next version's: it was current
    // during the period when it began by the period's end and no later version had
    // replaced it by the period's start (a resource's versions are written in time order).
    if let Some(at_to) = &at_to {
        params.push(at_to);
        sql.push_str(&format!(" AND last_updated <= ${}", params.len()));
    }
    if let Some(at_from) = &at_from {
        params.push(at_from);
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM resource_version later \
               WHERE later.tenant_key = resource_version.tenant_key \
               AND later.resource_type = resource_version.resource_type \
               AND later.id = resource_version.id \
               AND later.version_id > resource_version.version_id \
               AND later.last_updated <= ${})",
            params.len()
        ));
    }
    // The current version of each List: a deleted List has no index rows left.
    if let Some(lists) = &query.lists {
        params.push(lists);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM search_reference item \
               WHERE item.tenant_key = resource_version.tenant_key \
               AND item.resource_type = 'List' AND item.id = ANY(${}) AND item.param = 'item' \
               AND item.target_type = resource_version.resource_type \
               AND item.target_id = resource_version.id)",
            params.len()
        ));
    }
    if let (Some(cursor_time), Some(cursor_seq)) = (&cursor_time, &cursor_seq) {
        params.push(cursor_time);
        params.push(cursor_seq);
        sql.push_str(&format!(
            " AND (last_updated, seq) < (${}, ${})",
            params.len() - 1,
            params.len()
        ));
    }
    params.push(&limit);
    sql.push_str(&format!(
        " ORDER BY last_updated DESC, seq DESC LIMIT ${}",
        params.len()
    ));

    let client = crate::connection(pool).await?;
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &params).await?;

    let mut entries = Vec::with_capacity(rows.len());
    for row in rows.iter().take(query.count as usize) {
        let type_name: &str = row.get(0);
        let id: &str = row.get(1);
        // Rows were written through ResourceType and Id, so both parse; a row that does not
        // was written by something else and is skipped rather than failing the whole page.
        let (Some(resource_type), Ok(id)) = (ResourceType::parse(type_name), Id::parse(id)) else {
            tracing::error!(
                type_name,
                id,
                "history row with an invalid type or id skipped"
            );
            continue;
        };
        let last_updated = Instant::from_datetime(row.get::<_, OffsetDateTime>(3));
        entries.push(HistoryEntry {
            resource_type,
            id,
            version_id: VersionId::from_stored(row.get(2)),
            last_updated,
            method: HistoryMethod::parse(row.get(4)),
            status: row.get::<_, i16>(7).unsigned_abs(),
            body: row.get::<_, Option<&[u8]>>(5).map(Bytes::copy_from_slice),
            cursor: HistoryCursor {
                last_updated,
                seq: row.get(6),
            },
        });
    }
    let next = if rows.len() > query.count as usize {
        entries.last().map(|entry| entry.cursor)
    } else {
        None
    };
    Ok(HistoryPage { entries, next })
}
