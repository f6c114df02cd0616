//! Transaction Bundle ingest: one generated patient with everything about them per Bundle,
//! `POST` entries with `urn:uuid:` references the server must resolve.
//! Spec: https://hl7.org/fhir/R4/http.html#transaction

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use super::check::bundle_entries;
use super::setup::parse_json;
use super::{round_robin, Refusal, Setup};
use crate::client::Call;
use crate::generate::{transaction_bundle, Generator, ReferenceStyle};
use crate::runner::ScriptFactory;

const BUNDLES: usize = 32;

pub(crate) async fn prepare(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let mut generator = Generator::new(setup.seed, ReferenceStyle::UrnUuid, 1_000);
    let base = setup.uri("")?;
    let mut calls = Vec::with_capacity(BUNDLES);
    let mut entry_counts = Vec::with_capacity(BUNDLES);
    for _ in 0..BUNDLES {
        let patient = generator.next_patient();
        entry_counts.push(patient.len());
        calls.push(Call::with_body(
            Method::POST,
            base.clone(),
            Bytes::from(transaction_bundle(&patient, "POST")),
            &[200],
        ));
    }
    // Probe with the first Bundle before seeding the shared resources it refers to: a
    // server without transactions refuses in one request. A server with them refuses the
    // probe too (dangling references) or accepts it; either way the check below decides.
    let probe = setup.send(&calls[0]).await?;
    if probe.status == 501 || probe.status == 404 || probe.status == 405 {
        return Err(format!(
            "POST [base] with a transaction answered {} (transactions not supported?): {}",
            probe.status,
            super::setup::excerpt(&probe.body)
        ));
    }
    for shared in generator.shared_resources() {
        setup
            .put(shared.resource_type, &shared.id, &shared.json)
            .await?;
    }
    let reply = setup.expect(&calls[0]).await?;
    let bundle = parse_json(&reply.body, "transaction")?;
    let entries = bundle_entries(&bundle, "transaction-response")?;
    if entries.len() != entry_counts[0] {
        return Err(format!(
            "the transaction-response has {} entries for {} requests",
            entries.len(),
            entry_counts[0]
        ));
    }
    if let Some(bad) = entries.iter().find(|entry| {
        !entry
            .pointer("/response/status")
            .and_then(Value::as_str)
            .is_some_and(|status| status.starts_with("201"))
    }) {
        return Err(format!("a transaction entry was not created: {bad}"));
    }
    Ok(round_robin(calls))
}
