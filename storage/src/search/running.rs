//! A search's connection and time limit: a search that passes its limit, or whose caller
//! goes away, has its statement cancelled in PostgreSQL rather than left to run for nobody.
//! Configuration: docs/configuration.md (`search_timeout_ms`).

use std::time::Duration;

use engine::search::SearchQuery;
use tokio_postgres::NoTls;

use super::{search_on, LargeRanges, SearchPage};
use crate::pool::{Client, Planning, Pool};
use crate::{connection, Error, TenantKey};

/// A search on a connection of `pool`, stopped after `time_limit`. Stopped, or abandoned by
/// its caller (a client that hung up), its running statement is cancelled in PostgreSQL: it
/// would otherwise run to its end for nobody, and costly searches retried by impatient
/// clients pile up until the database does nothing else (measured: a two-level chain
/// then ran for minutes on every pooled connection).
pub(crate) async fn search(
    pool: &Pool,
    large_ranges: &LargeRanges,
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
    time_limit: Duration,
) -> Result<SearchPage, Error> {
    let mut running = RunningSearch(Some(connection(pool).await?));
    let client = running
        .0
        .as_ref()
        .ok_or_else(|| Error::Pool("the search's connection was released early".to_owned()))?;
    let searched = search_on(client, Some(large_ranges), tenant, query, page_size);
    let page = within_limit(time_limit, searched)
        .await
        .ok_or(Error::SearchTimeLimit(time_limit))?;
    // Finished: the connection goes back to the pool as it is.
    drop(running.0.take());
    page
}

/// A search on a connection the caller keeps, stopped after `time_limit`: a transaction
/// Bundle's condition. Stopped, its statement is cancelled in PostgreSQL (it would otherwise
/// run on for nobody), which aborts the caller's transaction; the caller then ends it and
/// closes the connection (a late cancel can stop nothing else there).
pub(crate) async fn search_within(
    client: &Client,
    tenant: TenantKey,
    query: &SearchQuery,
    page_size: usize,
    time_limit: Duration,
) -> Result<SearchPage, Error> {
    // Not remembered across transactions: a condition tries the small-range statement first.
    match within_limit(
        time_limit,
        search_on(client, None, tenant, query, page_size),
    )
    .await
    {
        Some(page) => page,
        None => {
            if let Err(error) = client.cancel_token().cancel_query(NoTls).await {
                tracing::warn!(%error, "could not cancel a transaction's search statement");
            }
            Err(Error::SearchTimeLimit(time_limit))
        }
    }
}

/// What `search` gives if it finishes within `time_limit`; `None` if it does not. A search
/// that finishes after its limit is past it too: `tokio::time::timeout` polls the search
/// before its timer, and the timer fires on a millisecond tick, so a search finishing before
/// that tick would pass a limit shorter than it took (a zero limit, sometimes).
async fn within_limit<T>(
    time_limit: Duration,
    search: impl std::future::Future<Output = T>,
) -> Option<T> {
    let started = tokio::time::Instant::now();
    let finished = tokio::time::timeout(time_limit, search).await.ok()?;
    (started.elapsed() <= time_limit).then_some(finished)
}

/// The connection of a search under way. Dropped while it still holds it (the search timed
/// out or was abandoned), it cancels the running statement, and returns the connection to
/// the pool only once the connection has answered a statement of its own: a cancel that
/// arrived after the search's statement ended can then only stop that one, never the
/// statement of the next request to take the connection.
struct RunningSearch(Option<Client>);

impl Drop for RunningSearch {
    fn drop(&mut self) {
        let (Some(client), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = client.cancel_token().cancel_query(NoTls).await {
                tracing::warn!(%error, "could not cancel an abandoned search's statement");
            }
            // Its result does not matter (it may be the statement the cancel stops).
            let _ = client.simple_query("SELECT 1").await;
            // The cancel may have stopped a change of planning mode (`pool.rs`).
            client.set_planning(Planning::Unknown);
        });
    }
}
