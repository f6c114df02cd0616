//! Fixtures: an actor system over a fresh database, write requests, and a second connection
//! for looking at (and locking) the tables behind the system's back.

use actors::Ember;
use engine::{Id, ResourceType};
use storage::model::{WriteAction, WriteRequest};
use storage::Store;
use tokio_postgres::{Client, NoTls};

pub(crate) struct Fixture {
    pub(crate) ember: Ember,
    /// A connection of its own, outside the pool the actors use.
    pub(crate) observer: Client,
    pub(crate) config: tokio_postgres::Config,
}

pub(crate) async fn fixture() -> Fixture {
    let config = storage::testing::fresh_database().await;
    let store = Store::connect(config.clone(), 8).unwrap();
    store.migrate().await.unwrap();
    let ember = Ember::start(store).await.unwrap();
    let observer = connect(&config).await;
    Fixture {
        ember,
        observer,
        config,
    }
}

pub(crate) async fn connect(config: &tokio_postgres::Config) -> Client {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

pub(crate) fn patient() -> ResourceType {
    ResourceType::parse("Patient").unwrap()
}

pub(crate) fn create(id: &str) -> WriteRequest {
    WriteRequest {
        id: Id::parse(id).unwrap(),
        action: WriteAction::Create(
            engine::prepare_resource(br#"{"resourceType":"Patient","active":true}"#).unwrap(),
        ),
    }
}

pub(crate) fn update(id: &str, if_match: Option<i64>) -> WriteRequest {
    let body = format!(r#"{{"resourceType":"Patient","id":"{id}","active":false}}"#);
    WriteRequest {
        id: Id::parse(id).unwrap(),
        action: WriteAction::Update {
            resource: engine::prepare_resource(body.as_bytes()).unwrap(),
            precondition: if_match.map(|version| {
                storage::model::Precondition::Version(engine::VersionId::from_stored(version))
            }),
        },
    }
}

/// Holds an EXCLUSIVE lock on `resource_version` in an open transaction, so every batch
/// commit blocks until `release` — the way to line writes up behind an in-flight flush.
pub(crate) struct TableLock {
    client: Client,
}

impl TableLock {
    pub(crate) async fn take(config: &tokio_postgres::Config) -> TableLock {
        let client = connect(config).await;
        client
            .batch_execute("BEGIN; LOCK TABLE resource_version IN EXCLUSIVE MODE")
            .await
            .unwrap();
        TableLock { client }
    }

    pub(crate) async fn release(self) {
        self.client.batch_execute("COMMIT").await.unwrap();
    }
}

/// Waits until `count` sessions of this database are blocked on a lock: proof that that
/// many flushes are in flight, without guessing with sleeps.
pub(crate) async fn wait_for_blocked_sessions(observer: &Client, count: i64) {
    for _ in 0..500 {
        let row = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no flush blocked on the table lock within 5 s");
}

/// How many versions of `id` exist.
pub(crate) async fn version_count(observer: &Client, id: &str) -> i64 {
    observer
        .query_one(
            "SELECT count(*) FROM resource_version WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

/// Starts as many writes as a writer commits at once, each blocked on `lock`, so that every
/// later write waits in the writer's queue. Returns the blocked writes.
pub(crate) async fn fill_flush_slots(
    ember: &std::sync::Arc<Ember>,
    observer: &Client,
) -> Vec<tokio::task::JoinHandle<Result<storage::model::WriteOutcome, actors::Error>>> {
    let mut in_flight = Vec::new();
    for slot in 0..actors::MAX_FLUSHES_IN_FLIGHT {
        in_flight.push(spawn_write(ember, create(&format!("in-flight{slot}"))));
        wait_for_blocked_sessions(observer, slot as i64 + 1).await;
    }
    in_flight
}

/// Starts one write of a Patient on its own task.
pub(crate) fn spawn_write(
    ember: &std::sync::Arc<Ember>,
    request: WriteRequest,
) -> tokio::task::JoinHandle<Result<storage::model::WriteOutcome, actors::Error>> {
    let ember = std::sync::Arc::clone(ember);
    tokio::spawn(async move {
        ember
            .write(storage::TenantKey::DEFAULT, patient(), request)
            .await
    })
}
