//! Reads by id under concurrency: reads that arrive together share a query, and each still
//! gets its own answer, never one older than a write that committed before it was asked.
//! Spec: https://hl7.org/fhir/R4/http.html#read

use std::sync::Arc;

use engine::{Id, ResourceType};
use storage::model::{WriteAction, WriteRequest};
use storage::{Store, TenantKey};

async fn store() -> Store {
    let config = storage::testing::fresh_database().await;
    let store = Store::connect(config, 4).unwrap();
    store.migrate().await.unwrap();
    store
}

fn resource_type(name: &str) -> ResourceType {
    ResourceType::parse(name).unwrap()
}

async fn put(store: &Store, type_name: &str, id: &str, body: &str) {
    let resource = engine::prepare_resource(body.as_bytes()).unwrap();
    let request = WriteRequest {
        id: Id::parse(id).unwrap(),
        action: WriteAction::Update {
            resource,
            precondition: None,
        },
    };
    for result in store
        .write_batch(TenantKey::DEFAULT, resource_type(type_name), &[request])
        .await
    {
        result.unwrap();
    }
}

async fn delete(store: &Store, type_name: &str, id: &str) {
    let request = WriteRequest {
        id: Id::parse(id).unwrap(),
        action: WriteAction::Delete { precondition: None },
    };
    for result in store
        .write_batch(TenantKey::DEFAULT, resource_type(type_name), &[request])
        .await
    {
        result.unwrap();
    }
}

fn patient(id: &str, family: &str) -> String {
    format!(r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"{family}"}}]}}"#)
}

fn observation(id: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"text":"weight"}}}}"#
    )
}

/// What a reader expects of `type/id`.
#[derive(Clone, Debug, PartialEq)]
enum Expected {
    /// The stored body, which starts with its type and id (meta follows them).
    Body(String),
    Deleted,
    Unknown,
}

#[tokio::test]
async fn reads_asked_together_share_queries_and_each_gets_its_own_answer() {
    let store = store().await;
    let mut expectations: Vec<(&str, String, Expected)> = Vec::new();
    for number in 0..40 {
        let id = format!("p{number}");
        put(&store, "Patient", &id, &patient(&id, "Chalmers")).await;
        let start = format!(r#"{{"resourceType":"Patient","id":"{id}""#);
        expectations.push(("Patient", id, Expected::Body(start)));
    }
    // The same id under another type is another resource.
    for number in 0..10 {
        let id = format!("p{number}");
        put(&store, "Observation", &id, &observation(&id)).await;
        let start = format!(r#"{{"resourceType":"Observation","id":"{id}""#);
        expectations.push(("Observation", id, Expected::Body(start)));
    }
    delete(&store, "Patient", "p39").await;
    expectations.retain(|(type_name, id, _)| !(*type_name == "Patient" && id == "p39"));
    expectations.push(("Patient", "p39".into(), Expected::Deleted));
    expectations.push(("Patient", "never-written".into(), Expected::Unknown));
    expectations.push(("Observation", "p10".into(), Expected::Unknown));

    let before = store.read_batching();
    let store = Arc::new(store);
    // Every expectation asked five times at once: the same key twice in one batch included.
    let readers: Vec<_> = expectations
        .iter()
        .cycle()
        .take(expectations.len() * 5)
        .cloned()
        .map(|(type_name, id, expected)| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let found = store
                    .read(
                        TenantKey::DEFAULT,
                        resource_type(type_name),
                        &Id::parse(&id).unwrap(),
                    )
                    .await
                    .unwrap();
                let answer = match found {
                    None => Expected::Unknown,
                    Some(version) => match version.body {
                        None => Expected::Deleted,
                        Some(body) => {
                            let body = String::from_utf8(body.to_vec()).unwrap();
                            let start = body.split(r#","meta""#).next().unwrap_or_default();
                            Expected::Body(start.to_owned())
                        }
                    },
                };
                assert_eq!(answer, expected, "{type_name}/{id}");
            })
        })
        .collect();
    let reader_count = readers.len() as u64;
    for reader in readers {
        reader.await.unwrap();
    }
    let after = store.read_batching();
    assert_eq!(after.reads - before.reads, reader_count);
    assert!(
        after.queries - before.queries < reader_count,
        "{reader_count} concurrent reads took {} queries",
        after.queries - before.queries
    );
}

#[tokio::test]
async fn a_read_after_a_committed_write_sees_it_while_other_reads_keep_the_queue_busy() {
    let store = Arc::new(store().await);
    put(&store, "Patient", "busy", &patient("busy", "Busy")).await;
    put(&store, "Patient", "p1", &patient("p1", "Version1")).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let busy = Id::parse("busy").unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store
                        .read(TenantKey::DEFAULT, resource_type("Patient"), &busy)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let p1 = Id::parse("p1").unwrap();
    for version in 2..=30 {
        let family = format!("Version{version}");
        put(&store, "Patient", "p1", &patient("p1", &family)).await;
        let read = store
            .read(TenantKey::DEFAULT, resource_type("Patient"), &p1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.version_id.get(), version);
        let body = String::from_utf8(read.body.unwrap().to_vec()).unwrap();
        assert!(body.contains(&family), "{body}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in background {
        task.await.unwrap();
    }
}
