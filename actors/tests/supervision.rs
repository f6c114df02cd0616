//! A crashed ResourceType writer is restarted by its Tenant supervisor; every caller gets an
//! answer, and no write is lost silently or applied twice.

use std::sync::Arc;

use actors::Error;
use storage::model::WriteOutcome;
use storage::TenantKey;

use crate::support::{
    create, fill_flush_slots, fixture, patient, spawn_write, version_count, TableLock,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_writer_is_restarted_and_every_caller_is_answered() {
    let fixture = fixture().await;
    let ember = Arc::new(fixture.ember);
    let lock = TableLock::take(&fixture.config).await;

    // Writes in flight (their commits blocked by the lock)...
    let in_flight = fill_flush_slots(&ember, &fixture.observer).await;
    // ...ten queued behind it in the writer's memory...
    let mut queued = Vec::new();
    for index in 0..10 {
        queued.push(spawn_write(&ember, create(&format!("queued{index}"))));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // ...and then the writer dies.
    ember
        .crash_writer(TenantKey::DEFAULT, patient())
        .await
        .unwrap();

    let mut restarted = 0;
    for (index, write) in queued.into_iter().enumerate() {
        let id = format!("queued{index}");
        match write.await.unwrap() {
            Err(Error::WriterRestarted { .. }) => {
                restarted += 1;
                assert_eq!(
                    version_count(&fixture.observer, &id).await,
                    0,
                    "{id} was reported failed but written"
                );
            }
            // A write sent after the crash reached the new writer; it must commit once.
            Ok(WriteOutcome::Created(_)) => {}
            other => panic!("{id}: unexpected {other:?}"),
        }
    }
    assert!(
        restarted > 0,
        "the crash should have dropped the queued writes"
    );

    // The restarted writer takes new writes while the old flush is still blocked.
    let after_restart = spawn_write(&ember, create("after-restart"));
    lock.release().await;
    for write in in_flight {
        assert!(
            matches!(write.await.unwrap(), Ok(WriteOutcome::Created(_))),
            "in-flight commits still answer"
        );
    }
    assert!(matches!(
        after_restart.await.unwrap(),
        Ok(WriteOutcome::Created(_))
    ));

    let in_flight_ids = (0..actors::MAX_FLUSHES_IN_FLIGHT).map(|slot| format!("in-flight{slot}"));
    for id in in_flight_ids.chain(["after-restart".to_owned()]) {
        assert_eq!(
            version_count(&fixture.observer, &id).await,
            1,
            "{id} applied exactly once"
        );
    }
    for index in 0..10 {
        assert!(version_count(&fixture.observer, &format!("queued{index}")).await <= 1);
    }
}
