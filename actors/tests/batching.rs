//! The ResourceType writer batches concurrent writes into shared transactions, and a failing
//! write in a batch fails alone.

use std::sync::Arc;

use actors::Error;
use storage::model::WriteOutcome;
use storage::TenantKey;

use crate::support::{
    create, fill_flush_slots, fixture, patient, spawn_write, update, version_count, TableLock,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_commit_in_fewer_transactions_than_writes() {
    let fixture = fixture().await;
    let ember = Arc::new(fixture.ember);
    let writes = 200;
    let mut tasks = Vec::new();
    for index in 0..writes {
        tasks.push(spawn_write(&ember, create(&format!("p{index}"))));
    }
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Ok(WriteOutcome::Created(_))));
    }
    // Every row written by one transaction carries that transaction's id in xmin.
    let row = fixture
        .observer
        .query_one("SELECT count(*), count(DISTINCT xmin::text) FROM resource WHERE resource_type = 'Patient'", &[])
        .await
        .unwrap();
    let (rows, transactions): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(rows, writes);
    assert!(
        transactions < writes,
        "{writes} creates took {transactions} transactions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_match_fails_only_its_own_write_in_a_batch() {
    let fixture = fixture().await;
    let ember = Arc::new(fixture.ember);
    ember
        .write(TenantKey::DEFAULT, patient(), create("existing"))
        .await
        .unwrap();

    let lock = TableLock::take(&fixture.config).await;
    let in_flight = fill_flush_slots(&ember, &fixture.observer).await;
    // These queue behind the blocked flush and go together in the next batch.
    let stale = spawn_write(&ember, update("existing", Some(7)));
    let mut creates = Vec::new();
    for index in 0..10 {
        creates.push(spawn_write(&ember, create(&format!("queued{index}"))));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    lock.release().await;

    for write in in_flight {
        assert!(write.await.unwrap().is_ok());
    }
    let stale = stale.await.unwrap();
    assert!(
        matches!(
            stale,
            Err(Error::Storage(storage::Error::PreconditionFailed { .. }))
        ),
        "expected a failed precondition, got {stale:?}"
    );
    for create in creates {
        assert!(matches!(
            create.await.unwrap(),
            Ok(WriteOutcome::Created(_))
        ));
    }
    assert_eq!(
        version_count(&fixture.observer, "existing").await,
        1,
        "the stale update wrote nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_error_in_one_write_does_not_fail_the_others() {
    let fixture = fixture().await;
    // A real database-level failure for one row: a trigger that rejects the id "poison".
    fixture
        .observer
        .batch_execute(
            "CREATE FUNCTION reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER reject_poison BEFORE INSERT ON resource FOR EACH ROW EXECUTE FUNCTION reject_poison();",
        )
        .await
        .unwrap();
    let ember = Arc::new(fixture.ember);
    let lock = TableLock::take(&fixture.config).await;
    let in_flight = fill_flush_slots(&ember, &fixture.observer).await;
    let poison = spawn_write(&ember, create("poison"));
    let mut healthy = Vec::new();
    for index in 0..10 {
        healthy.push(spawn_write(&ember, create(&format!("healthy{index}"))));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    lock.release().await;

    for write in in_flight {
        assert!(write.await.unwrap().is_ok());
    }
    assert!(matches!(
        poison.await.unwrap(),
        Err(Error::Storage(storage::Error::Database(_)))
    ));
    for (index, write) in healthy.into_iter().enumerate() {
        assert!(matches!(write.await.unwrap(), Ok(WriteOutcome::Created(_))));
        assert_eq!(
            version_count(&fixture.observer, &format!("healthy{index}")).await,
            1
        );
    }
    assert_eq!(version_count(&fixture.observer, "poison").await, 0);
}
