//! The REST core scenarios on Patients: read, vread, create, update, delete and instance
//! history. Seeded with `POST`, so they need nothing beyond the interactions they time.
//! Spec: https://hl7.org/fhir/R4/http.html

use bytes::Bytes;
use hyper::Method;

use super::check::{bundle_entries, expect_resource, id_from_reply};
use super::setup::parse_json;
use super::{round_robin, Refusal, Setup};
use crate::client::{Call, Failure, Reply};
use crate::generate::{Generator, ReferenceStyle};
use crate::runner::{Script, ScriptFactory};

/// Patients seeded for reads: enough that reads spread over rows, few enough to seed fast.
const SEEDED_FOR_READS: usize = 64;
const HISTORY_PATIENTS: usize = 16;
const HISTORY_VERSIONS: usize = 5;
const DELETE_EXPECT: &[u16] = &[200, 202, 204];

/// `count` Synthea-shaped Patients without ids, ready to POST.
fn patient_bodies(seed: u64, count: usize) -> Vec<String> {
    let mut generator = Generator::new(seed, ReferenceStyle::Ids, 1_000);
    (0..count)
        .map(|_| {
            let patient = generator.next_patient().swap_remove(0);
            patient
                .json
                .replacen(&format!(r#","id":"{}""#, patient.id), "", 1)
        })
        .collect()
}

/// The same Patient with `id` and `active`, for PUT; alternating `active` makes each
/// update a real change (some servers skip writing an identical version).
fn with_id(body: &str, id: &str, active: bool) -> String {
    body.replacen(
        r#"{"resourceType":"Patient","#,
        &format!(r#"{{"resourceType":"Patient","id":"{id}","active":{active},"#),
        1,
    )
}

async fn seed_patients(setup: &mut Setup, count: usize) -> Result<Vec<(String, String)>, Refusal> {
    let mut created = Vec::with_capacity(count);
    for body in patient_bodies(setup.seed, count) {
        let id = setup.create("Patient", &body).await?;
        created.push((id, body));
    }
    Ok(created)
}

pub(crate) async fn read(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let seeded = seed_patients(setup, SEEDED_FOR_READS).await?;
    let first = &seeded[0].0;
    expect_resource(
        &setup.get_json(&format!("Patient/{first}")).await?,
        "Patient",
        first,
    )?;
    let calls = seeded
        .iter()
        .map(|(id, _)| Ok(Call::get(setup.uri(&format!("Patient/{id}"))?)))
        .collect::<Result<_, Refusal>>()?;
    Ok(round_robin(calls))
}

pub(crate) async fn vread(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let seeded = seed_patients(setup, SEEDED_FOR_READS).await?;
    let mut calls = Vec::with_capacity(seeded.len());
    for (id, _) in &seeded {
        let current = setup.get_json(&format!("Patient/{id}")).await?;
        let version = current
            .pointer("/meta/versionId")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("Patient/{id} has no meta.versionId"))?
            .to_owned();
        calls.push(Call::get(
            setup.uri(&format!("Patient/{id}/_history/{version}"))?,
        ));
    }
    let first = &seeded[0].0;
    let reply = setup.expect(&calls[0]).await?;
    expect_resource(&parse_json(&reply.body, "vread")?, "Patient", first)?;
    Ok(round_robin(calls))
}

pub(crate) async fn create(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let bodies = patient_bodies(setup.seed, SEEDED_FOR_READS);
    let id = setup.create("Patient", &bodies[0]).await?;
    expect_resource(
        &setup.get_json(&format!("Patient/{id}")).await?,
        "Patient",
        &id,
    )?;
    let uri = setup.uri("Patient")?;
    let calls = bodies
        .into_iter()
        .map(|body| Call::with_body(Method::POST, uri.clone(), Bytes::from(body), &[201]))
        .collect();
    Ok(round_robin(calls))
}

pub(crate) async fn update(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let seeded = seed_patients(setup, SEEDED_FOR_READS.max(setup.max_clients)).await?;
    let mut pairs = Vec::with_capacity(seeded.len());
    for (id, body) in &seeded {
        let uri = setup.uri(&format!("Patient/{id}"))?;
        let put = |active| {
            Call::with_body(
                Method::PUT,
                uri.clone(),
                Bytes::from(with_id(body, id, active)),
                &[200],
            )
        };
        pairs.push((put(true), put(false)));
    }
    let reply = setup.expect(&pairs[0].0).await?;
    if !reply.body.is_empty() {
        expect_resource(&parse_json(&reply.body, "update")?, "Patient", &seeded[0].0)?;
    }
    let after = setup.get_json(&format!("Patient/{}", seeded[0].0)).await?;
    if after.get("active") != Some(&serde_json::Value::Bool(true)) {
        return Err("a read after the update does not show the updated element".to_owned());
    }
    // Each worker updates its own Patients, alternating versions, so no two workers race
    // on one resource and every update changes it.
    Ok(Box::new(move |index, workers| {
        let own: Vec<&(Call, Call)> = pairs.iter().skip(index).step_by(workers.max(1)).collect();
        let mut calls: Vec<Call> = own.iter().map(|pair| pair.1.clone()).collect();
        calls.extend(own.iter().map(|pair| pair.0.clone()));
        Box::new(Sequence { calls, position: 0 })
    }))
}

/// A worker's own list of calls, in order, round and round.
struct Sequence {
    calls: Vec<Call>,
    position: usize,
}

impl Script for Sequence {
    fn next_call(&mut self) -> Call {
        let call = self.calls[self.position].clone();
        self.position = (self.position + 1) % self.calls.len();
        call
    }
}

pub(crate) async fn delete(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let bodies = patient_bodies(setup.seed, SEEDED_FOR_READS);
    let id = setup.create("Patient", &bodies[0]).await?;
    let call = Call {
        method: Method::DELETE,
        uri: setup.uri(&format!("Patient/{id}"))?,
        body: None,
        expect: DELETE_EXPECT,
        timed: true,
    };
    setup.expect(&call).await?;
    let gone = setup
        .send(&Call::get(setup.uri(&format!("Patient/{id}"))?))
        .await?;
    if !matches!(gone.status, 404 | 410) {
        return Err(format!(
            "a read after delete answered {} (expected 404 or 410)",
            gone.status
        ));
    }
    let create_uri = setup.uri("Patient")?;
    let target = std::sync::Arc::clone(&setup.target);
    let creates: std::sync::Arc<[Call]> = bodies
        .into_iter()
        .map(|body| Call {
            timed: false,
            ..Call::with_body(Method::POST, create_uri.clone(), Bytes::from(body), &[201])
        })
        .collect();
    Ok(Box::new(move |index, _| {
        Box::new(DeleteAfterCreate {
            creates: std::sync::Arc::clone(&creates),
            position: index,
            target: std::sync::Arc::clone(&target),
            pending: None,
        })
    }))
}

/// Each timed DELETE removes a Patient this worker created just before, untimed: deleting
/// what is already gone would time a no-op.
struct DeleteAfterCreate {
    creates: std::sync::Arc<[Call]>,
    position: usize,
    target: std::sync::Arc<crate::target::Target>,
    pending: Option<Call>,
}

impl Script for DeleteAfterCreate {
    fn next_call(&mut self) -> Call {
        if let Some(delete) = &self.pending {
            return delete.clone();
        }
        self.position = (self.position + 1) % self.creates.len();
        self.creates[self.position].clone()
    }

    fn observe(&mut self, call: &Call, outcome: Result<&Reply, Failure>) {
        if call.method == Method::DELETE {
            self.pending = None;
            return;
        }
        let created = outcome
            .ok()
            .and_then(|reply| id_from_reply(reply, "Patient"));
        self.pending = created.and_then(|id| {
            Some(Call {
                method: Method::DELETE,
                uri: self.target.uri(&format!("Patient/{id}")).ok()?,
                body: None,
                expect: DELETE_EXPECT,
                timed: true,
            })
        });
    }
}

pub(crate) async fn history(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let seeded = seed_patients(setup, HISTORY_PATIENTS).await?;
    for (id, body) in &seeded {
        for version in 1..HISTORY_VERSIONS {
            setup
                .put("Patient", id, &with_id(body, id, version % 2 == 0))
                .await?;
        }
    }
    let first = &seeded[0].0;
    let bundle = setup.get_json(&format!("Patient/{first}/_history")).await?;
    let entries = bundle_entries(&bundle, "history")?;
    if entries.len() != HISTORY_VERSIONS {
        return Err(format!(
            "Patient/{first}/_history has {} entries, expected {HISTORY_VERSIONS}",
            entries.len()
        ));
    }
    let calls = seeded
        .iter()
        .map(|(id, _)| Ok(Call::get(setup.uri(&format!("Patient/{id}/_history"))?)))
        .collect::<Result<_, Refusal>>()?;
    Ok(round_robin(calls))
}
