//! Index rows follow the current version: an update rewrites only the rows whose value
//! changed, and a delete removes them all.
//! Spec: https://hl7.org/fhir/R4/search.html (search sees the current version only)

use engine::{Id, ResourceType};
use storage::model::{WriteAction, WriteRequest};
use storage::{Store, TenantKey};
use tokio_postgres::{Client, NoTls};

async fn store_and_observer() -> (Store, Client) {
    let config = storage::testing::fresh_database().await;
    let store = Store::connect(config.clone(), 4).unwrap();
    store.migrate().await.unwrap();
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    (store, client)
}

fn patient_write(id: &str, family: &str, active: bool, create: bool) -> WriteRequest {
    let body = format!(
        r#"{{"resourceType":"Patient","id":"{id}","active":{active},"name":[{{"family":"{family}"}}],"birthDate":"1970-01-01"}}"#
    );
    write_request(id, &body, create)
}

/// A create of `body` as resource `id`, or an update of it.
fn write_request(id: &str, body: &str, create: bool) -> WriteRequest {
    let resource = engine::prepare_resource(body.as_bytes()).unwrap();
    WriteRequest {
        id: Id::parse(id).unwrap(),
        action: if create {
            WriteAction::Create(resource)
        } else {
            WriteAction::Update {
                resource,
                precondition: None,
            }
        },
    }
}

async fn write(store: &Store, request: WriteRequest) {
    write_as(store, "Patient", request).await;
}

/// Writes `request` as a resource of `resource_type`, asserting it succeeded.
async fn write_as(store: &Store, resource_type: &str, request: WriteRequest) {
    let resource_type = ResourceType::parse(resource_type).unwrap();
    for result in store
        .write_batch(TenantKey::DEFAULT, resource_type, &[request])
        .await
    {
        result.unwrap();
    }
}

/// (param, transaction id that wrote the row) of every index row of Patient/p1, sorted.
async fn index_rows(client: &Client) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Vec::new();
    for table in [
        "search_string",
        "search_token",
        "search_date",
        "search_reference",
    ] {
        let sql = format!("SELECT param, xmin::text FROM {table} WHERE id = 'p1'");
        for row in client.query(&sql, &[]).await.unwrap() {
            rows.push((row.get(0), row.get(1)));
        }
    }
    rows.sort();
    rows
}

#[tokio::test]
async fn ten_updates_that_change_no_indexed_value_rewrite_no_index_row() {
    let (store, client) = store_and_observer().await;
    write(&store, patient_write("p1", "Chalmers", true, true)).await;
    let before = index_rows(&client).await;
    assert!(
        before.iter().any(|(param, _)| param == "family"),
        "{before:?}"
    );
    for update in 0..10 {
        // `active` is indexed, but flips back and forth; the name and birth date never change.
        write(
            &store,
            patient_write("p1", "Chalmers", update % 2 == 1, false),
        )
        .await;
    }
    let after = index_rows(&client).await;
    let unchanged: Vec<&(String, String)> = before
        .iter()
        .filter(|(param, _)| param != "active")
        .collect();
    for row in unchanged {
        assert!(after.contains(row), "{row:?} was rewritten: {after:?}");
    }
    assert_eq!(before.len(), after.len());
}

#[tokio::test]
async fn an_update_replaces_only_the_changed_value_and_a_delete_removes_every_row() {
    let (store, client) = store_and_observer().await;
    write(&store, patient_write("p1", "Chalmers", true, true)).await;
    let before = index_rows(&client).await;
    write(&store, patient_write("p1", "Windsor", true, false)).await;
    let after = index_rows(&client).await;
    let family_sql = "SELECT exact FROM search_string WHERE id = 'p1' AND param = 'family'";
    let families: Vec<String> = client
        .query(family_sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(families, ["Windsor"]);
    let birthdate =
        |rows: &[(String, String)]| rows.iter().find(|(param, _)| param == "birthdate").cloned();
    assert_eq!(
        birthdate(&before),
        birthdate(&after),
        "the unchanged birthdate row stays as it was"
    );

    let patient = ResourceType::parse("Patient").unwrap();
    let delete = WriteRequest {
        id: Id::parse("p1").unwrap(),
        action: WriteAction::Delete { precondition: None },
    };
    for result in store
        .write_batch(TenantKey::DEFAULT, patient, &[delete])
        .await
    {
        result.unwrap();
    }
    assert!(index_rows(&client).await.is_empty());
}

fn location_write(id: &str, latitude: &str, longitude: &str, create: bool) -> WriteRequest {
    let body = format!(
        r#"{{"resourceType":"Location","id":"{id}","position":{{"latitude":{latitude},"longitude":{longitude}}}}}"#
    );
    write_request(id, &body, create)
}

/// (part, value, low, high) of every `near` row, and their hashes, in part order.
async fn near_rows(client: &Client) -> (Vec<(i16, String, String, String)>, Vec<i64>) {
    let sql = "SELECT composite_component, value::text, low::text, high::text, entry_hash \
               FROM search_number WHERE param = 'near' ORDER BY composite_component";
    let rows = client.query(sql, &[]).await.unwrap();
    (
        rows.iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect(),
        rows.iter().map(|row| row.get(4)).collect(),
    )
}

// Migration 7 indexes the positions of Locations written before Ember searched `near`, as
// Ember would have; their next update replaces those rows with ones Ember hashed.
#[tokio::test]
async fn the_near_migration_indexes_earlier_locations_and_an_update_replaces_its_rows() {
    let (store, client) = store_and_observer().await;
    let write_location = |request| write_as(&store, "Location", request);
    write_location(location_write("l1", "42.2565", "-83.6948", true)).await;
    let (written, _) = near_rows(&client).await;
    assert_eq!(written.len(), 2, "{written:?}");

    // The database as it was before version 7: no `near` rows. (The later migrations run
    // again too.)
    client
        .batch_execute(
            "DELETE FROM search_number WHERE param = 'near'; \
             DELETE FROM ember_schema_migration WHERE version >= 7",
        )
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (backfilled, hashes) = near_rows(&client).await;
    assert_eq!(backfilled, written);
    assert_eq!(hashes, [0, 1]);

    write_location(location_write("l1", "41.8781", "-87.6298", false)).await;
    let (moved, hashes) = near_rows(&client).await;
    let values: Vec<&str> = moved
        .iter()
        .map(|(_, value, _, _)| value.as_str())
        .collect();
    assert_eq!(values, ["41.8781", "-87.6298"]);
    assert!(!hashes.contains(&0) && !hashes.contains(&1), "{hashes:?}");
}

fn observation_write(id: &str, patient: &str, code: &str, create: bool) -> WriteRequest {
    let body = format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}},"performer":[{{"reference":"Practitioner/d1"}}]}}"#
    );
    write_request(id, &body, create)
}

/// (resource id, param, both words of the token signature) of every reference row, sorted.
async fn reference_signatures(client: &Client) -> Vec<(String, String, i64, i64)> {
    let sql = "SELECT id, param, token_signature, token_signature_high FROM search_reference ORDER BY id, param";
    let rows = client.query(sql, &[]).await.unwrap();
    rows.iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

// Migrations 8 and 9 sign the reference rows written before them from their resource's token
// rows, in SQL, exactly as Ember signs the rows it writes (storage/src/token_signature.rs);
// an update that changes only a code signs the resource's reference rows again.
#[tokio::test]
async fn the_signature_migrations_sign_earlier_reference_rows_as_ember_does() {
    let (store, client) = store_and_observer().await;
    let write_observation = |request| write_as(&store, "Observation", request);
    write_observation(observation_write("o1", "p1", "8302-2", true)).await;
    write_observation(observation_write("o2", "p1", "29463-7", true)).await;
    // patient, performer and subject of o1, then of o2: one signature per resource.
    let written = reference_signatures(&client).await;
    assert_eq!(written.len(), 6, "{written:?}");
    assert!(written
        .iter()
        .all(|(_, _, low, high)| *low != 0 && *high != 0 && *high != -1));
    let signature = |row: &(String, String, i64, i64)| (row.2, row.3);
    let (o1_signature, o2_signature) = (signature(&written[0]), signature(&written[3]));
    assert_ne!(o1_signature.0, o2_signature.0, "o1 and o2 have other codes");
    assert_ne!(o1_signature.1, o2_signature.1, "o1 and o2 have other codes");

    // The database as it was before version 8: no signatures.
    client
        .batch_execute(
            "ALTER TABLE search_reference DROP COLUMN token_signature_high; \
             ALTER TABLE search_reference DROP COLUMN token_signature; \
             DELETE FROM ember_schema_migration WHERE version >= 8",
        )
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(reference_signatures(&client).await, written);

    write_observation(observation_write("o1", "p1", "29463-7", false)).await;
    let recoded = reference_signatures(&client).await;
    let o1_signatures: Vec<(i64, i64)> = recoded[..3].iter().map(signature).collect();
    assert_eq!(o1_signatures, [o2_signature; 3], "o1 now has o2's codes");
    assert_eq!(recoded[3..], written[3..]);
}

/// (id, target type, target id, url) of every `subject` reference row, sorted.
async fn subject_references(
    client: &Client,
) -> Vec<(String, Option<String>, Option<String>, Option<String>)> {
    let sql = "SELECT id, target_type, target_id, url FROM search_reference \
               WHERE param = 'subject' ORDER BY id";
    let rows = client.query(sql, &[]).await.unwrap();
    rows.iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect()
}

// Migration 10 takes the local target away from the absolute references written before an
// absolute URL had to be under this server's base to be local; relative ones keep theirs.
#[tokio::test]
async fn the_absolute_reference_migration_makes_earlier_absolute_references_another_servers() {
    let (store, client) = store_and_observer().await;
    let elsewhere = "http://elsewhere.test/fhir/Patient/p1";
    let relative = observation_write("o1", "p1", "8302-2", true);
    let absolute = write_request(
        "o2",
        &format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"{elsewhere}"}}}}"#
        ),
        true,
    );
    write_as(&store, "Observation", relative).await;
    write_as(&store, "Observation", absolute).await;
    let written = subject_references(&client).await;
    let local = |id: &str| {
        (
            id.to_owned(),
            Some("Patient".to_owned()),
            Some("p1".to_owned()),
        )
    };
    let (o1, o2) = (&written[0], &written[1]);
    assert_eq!((o1.0.clone(), o1.1.clone(), o1.2.clone()), local("o1"));
    assert_eq!((o2.1.as_deref(), o2.3.as_deref()), (None, Some(elsewhere)));

    // The rows as an Ember of schema 9 wrote them: the absolute URL's `Type/id` as target.
    client
        .batch_execute(
            "UPDATE search_reference SET target_type = 'Patient', target_id = 'p1' \
             WHERE url IS NOT NULL; \
             DELETE FROM ember_schema_migration WHERE version >= 10",
        )
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(subject_references(&client).await, written);
}

/// The ids of the Patients `Patient?_has:Observation:subject:code=<code>` finds.
async fn patients_having_observation_coded(store: &Store, code: &str) -> Vec<String> {
    let query = engine::search::parse_search(
        engine::search::Scope::Type(ResourceType::parse("Patient").unwrap()),
        &[("_has:Observation:subject:code".to_owned(), code.to_owned())],
        false,
    )
    .unwrap();
    let page = store
        .search(
            TenantKey::DEFAULT,
            &query,
            10,
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    page.matches.into_iter().map(|found| found.id).collect()
}

// A reference row written without a signature, as an Ember of schema 7 still running against
// an upgraded database writes it, takes the columns' default: every bit set, so `_has` looks
// its token rows up rather than passing over it; and a row an Ember of schema 8 writes
// (the first word only) is tested on that word alone. (A wrong signature would hide it.)
#[tokio::test]
async fn a_reference_row_without_a_signature_is_still_found_by_has() {
    let (store, client) = store_and_observer().await;
    write_as(&store, "Patient", patient_write("p1", "Ng", true, true)).await;
    write_as(
        &store,
        "Observation",
        observation_write("o1", "p1", "8302-2", true),
    )
    .await;
    let signed = |low: &str, high: &str| {
        format!(
            "UPDATE search_reference SET token_signature = {low}, token_signature_high = {high} \
             WHERE id = 'o1'"
        )
    };
    let found = |code: &'static str| patients_having_observation_coded(&store, code);
    let first_word: i64 = client
        .query_one(
            "SELECT token_signature FROM search_reference WHERE id = 'o1' LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    client
        .batch_execute(&signed("DEFAULT", "DEFAULT"))
        .await
        .unwrap();
    assert_eq!(found("8302-2").await, ["p1"]);
    assert!(found("29463-7").await.is_empty());

    client
        .batch_execute(&signed(&first_word.to_string(), "DEFAULT"))
        .await
        .unwrap();
    assert_eq!(
        found("8302-2").await,
        ["p1"],
        "schema 8's row, first word kept"
    );

    client.batch_execute(&signed("0", "DEFAULT")).await.unwrap();
    assert!(found("8302-2").await.is_empty());
    client.batch_execute(&signed("DEFAULT", "0")).await.unwrap();
    assert!(found("8302-2").await.is_empty());
}
