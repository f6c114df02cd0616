//! Conditional writes and the connections they need: a conditional write searches on its
//! lock's own connection, and transaction Bundles never hold every connection of the pool,
//! so a single conditional write that holds a lock they wait for can still search and
//! write, and then they all finish (`Store::transaction_slots`).

use std::time::Duration;

use engine::search::{parse_search, Scope};
use engine::{Id, ResourceType};
use storage::model::{WriteAction, WriteRequest};
use storage::{ConditionLock, Error, SearchPage, Store, TenantKey};
use tokio_postgres::NoTls;

/// The criteria every test here locks and searches by.
const CRITERIA: &str = "identifier=urn:example|1";

fn organization() -> ResourceType {
    ResourceType::parse("Organization").unwrap()
}

/// A migrated store of `connections` on a fresh database, and a connection of its own to
/// that database for the test to hold table locks or watch the others.
async fn store_and_side_connection(connections: usize) -> (Store, tokio_postgres::Client) {
    let config = storage::testing::fresh_database().await;
    let store = Store::connect(config.clone(), connections).unwrap();
    store.migrate().await.unwrap();
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    (store, client)
}

/// The lock a conditional write on `CRITERIA` takes.
async fn lock_criteria(store: &Store) -> ConditionLock {
    store
        .lock_condition(TenantKey::DEFAULT, organization(), CRITERIA)
        .await
        .unwrap()
}

/// The search a conditional write on `CRITERIA` decides by, on its lock's connection.
async fn search_under(lock: &ConditionLock, time_limit: Duration) -> Result<SearchPage, Error> {
    lock.search(
        TenantKey::DEFAULT,
        &organization_by_identifier(),
        2,
        time_limit,
    )
    .await
}

/// Backends of the database waiting for an advisory lock.
async fn waiting_for_advisory_locks(observer: &tokio_postgres::Client) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' \
               AND wait_event = 'advisory'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn transactions_waiting_for_a_conditional_lock_leave_a_connection_to_its_holder() {
    let (store, observer) = store_and_side_connection(2).await;
    let organization = organization();

    // A conditional create has taken the lock of its criteria and is about to search.
    let held = lock_criteria(&store).await;
    // Two transaction Bundles with the same conditional entry, as many as the pool has
    // connections, wait for that lock.
    let transactions: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let transaction = store
                    .begin_transaction(TenantKey::DEFAULT, Duration::from_secs(5))
                    .await?;
                transaction
                    .lock_conditions(&[(organization, CRITERIA.to_owned())])
                    .await?;
                transaction.commit().await
            })
        })
        .collect();
    while waiting_for_advisory_locks(&observer).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for a second transaction to take the last connection, were it allowed to.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let search = store
        .search(
            TenantKey::DEFAULT,
            &organization_by_identifier(),
            10,
            Duration::from_secs(5),
        )
        .await;
    assert!(
        search.is_ok(),
        "the lock holder's search found no connection: {:?}",
        search.err()
    );
    held.release().await.unwrap();
    for transaction in transactions {
        transaction
            .await
            .unwrap()
            .expect("each transaction takes the lock once it is released, and commits");
    }
}

fn organization_by_identifier() -> engine::search::SearchQuery {
    parse_search(
        Scope::Type(organization()),
        &[("identifier".to_owned(), "urn:example|1".to_owned())],
        false,
    )
    .unwrap()
}

#[tokio::test]
async fn a_conditional_write_searches_on_its_lock_connection_when_the_pool_is_busy() {
    let (store, _) = store_and_side_connection(1).await;
    // The pool's one connection is taken (a transaction Bundle under way).
    let busy = store
        .begin_transaction(TenantKey::DEFAULT, Duration::from_secs(5))
        .await
        .unwrap();

    let lock = lock_criteria(&store).await;
    let page = search_under(&lock, Duration::from_secs(5))
        .await
        .expect("the lock's connection searches without the pool");
    assert!(page.matches.is_empty());
    lock.release().await.unwrap();
    busy.rollback().await;
}

#[tokio::test]
async fn a_lock_whose_search_ran_past_its_time_limit_is_still_freed_on_release() {
    let (store, holder) = store_and_side_connection(2).await;
    let organization = organization();

    let lock = lock_criteria(&store).await;
    // The search's statement waits on this table lock for as long as it is held.
    holder
        .batch_execute("BEGIN; LOCK TABLE resource IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let stopped = search_under(&lock, Duration::from_millis(300)).await;
    assert!(
        matches!(stopped, Err(Error::SearchTimeLimit(_))),
        "{:?}",
        stopped.err()
    );
    lock.release().await.unwrap();
    holder.batch_execute("COMMIT").await.unwrap();

    // The next conditional write on the same criteria gets the lock, and its search runs.
    let next = store
        .lock_condition(TenantKey::DEFAULT, organization, CRITERIA)
        .await
        .expect("the first lock was freed");
    search_under(&next, Duration::from_secs(5)).await.unwrap();
    next.release().await.unwrap();
}

#[tokio::test]
async fn the_next_holder_sees_what_the_previous_one_wrote_under_a_repeatable_read_default() {
    let (store, admin) = store_and_side_connection(4).await;
    let database: String = admin
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    // Some operators make every transaction of their database repeatable read; a lock whose
    // snapshot were taken when it asked for the lock would not see the previous holder's write.
    // Lock connections are opened from here on, so they start with that default.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{database}\" SET default_transaction_isolation = 'repeatable read'"
        ))
        .await
        .unwrap();
    let organization = organization();

    let first = lock_criteria(&store).await;
    let next = tokio::spawn({
        let store = store.clone();
        async move {
            let lock = lock_criteria(&store).await;
            let page = search_under(&lock, Duration::from_secs(5)).await.unwrap();
            lock.release().await.unwrap();
            page.matches.len()
        }
    });
    while waiting_for_advisory_locks(&admin).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first holder found nothing and creates the Organization, then lets go.
    let body =
        r#"{"resourceType":"Organization","identifier":[{"system":"urn:example","value":"1"}]}"#;
    let created = store
        .write_batch(
            TenantKey::DEFAULT,
            organization,
            &[WriteRequest {
                id: Id::parse("org-1").unwrap(),
                action: WriteAction::Create(engine::prepare_resource(body.as_bytes()).unwrap()),
            }],
        )
        .await;
    assert!(created.iter().all(Result::is_ok));
    first.release().await.unwrap();

    assert_eq!(
        next.await.unwrap(),
        1,
        "the next holder found the Organization"
    );
}
