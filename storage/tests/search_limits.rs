//! A search that runs past its time limit is stopped: the caller gets
//! `Error::SearchTimeLimit`, its statement is cancelled in PostgreSQL instead of running on
//! for nobody, and its connection serves the next search.

use std::time::Duration;

use engine::search::{parse_search, Scope};
use engine::ResourceType;
use storage::{Error, Store, TenantKey};
use tokio_postgres::NoTls;

/// Statements of the search's database still running or waiting, other than the asker's.
async fn statements_running(observer: &tokio_postgres::Client) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() \
             AND query LIKE 'SELECT r.resource_type%'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_search_past_its_time_limit_is_cancelled_in_the_database() {
    let config = storage::testing::fresh_database().await;
    // One connection: the search after the cancelled one runs on the same connection.
    let store = Store::connect(config.clone(), 1).unwrap();
    store.migrate().await.unwrap();
    let (holder, holder_connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(holder_connection);
    let (observer, observer_connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(observer_connection);
    // The search's statement waits on this lock for as long as it is held.
    holder
        .batch_execute("BEGIN; LOCK TABLE resource IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let query = parse_search(
        Scope::Type(ResourceType::parse("Patient").unwrap()),
        &[("name".to_owned(), "ng".to_owned())],
        false,
    )
    .unwrap();
    let limit = Duration::from_millis(300);
    let outcome = store.search(TenantKey::DEFAULT, &query, 10, limit).await;
    assert!(
        matches!(outcome, Err(Error::SearchTimeLimit(reported)) if reported == limit),
        "{outcome:?}"
    );
    // The cancel request travels on a connection of its own; give it a moment.
    let mut running = statements_running(&observer).await;
    for _ in 0..50 {
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        running = statements_running(&observer).await;
    }
    assert_eq!(running, 0, "the abandoned search still runs");

    holder.batch_execute("COMMIT").await.unwrap();
    let page = store
        .search(TenantKey::DEFAULT, &query, 10, limit)
        .await
        .unwrap();
    assert!(page.matches.is_empty());
}
