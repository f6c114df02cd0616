//! The CRUD cycle over nine linked resource types, as public cross-server FHIR benchmarks run
//! it: create Patient, Location, Organization, Practitioner, Encounter, Observation,
//! MedicationRequest, Claim and ExplanationOfBenefit (each referring to those before it),
//! read each, update each, then delete them in reverse order so nothing is deleted while
//! still referenced. Every request is timed.
//! Spec: https://hl7.org/fhir/R4/http.html

use std::sync::Arc;

use bytes::Bytes;
use hyper::Method;

use super::check::{expect_resource, id_from_reply};
use super::setup::parse_json;
use super::{Refusal, Setup};
use crate::client::{Call, Failure, Reply};
use crate::runner::{Script, ScriptFactory};
use crate::target::Target;

const TYPES: [&str; 9] = [
    "Patient",
    "Location",
    "Organization",
    "Practitioner",
    "Encounter",
    "Observation",
    "MedicationRequest",
    "Claim",
    "ExplanationOfBenefit",
];
const STEPS: usize = 4 * TYPES.len();
const DELETE_EXPECT: &[u16] = &[200, 202, 204];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Read,
    Update,
    Delete,
}

/// Step `step` of the cycle: the action and the index into [`TYPES`].
fn step_of(step: usize) -> (Action, usize) {
    let type_idx = step % TYPES.len();
    match step / TYPES.len() {
        0 => (Action::Create, type_idx),
        1 => (Action::Read, type_idx),
        2 => (Action::Update, type_idx),
        _ => (Action::Delete, TYPES.len() - 1 - type_idx),
    }
}

/// The body of `TYPES[type_idx]`, referring to the resources created before it in this cycle;
/// with `id`, the updated version (tagged, so it differs from the created one).
fn body(type_idx: usize, ids: &[Option<String>; 9], id: Option<&str>) -> String {
    let reference = |idx: usize| {
        format!(
            "{}/{}",
            TYPES[idx],
            ids[idx].as_deref().unwrap_or("missing")
        )
    };
    let (patient, location, organization, practitioner) =
        (reference(0), reference(1), reference(2), reference(3));
    let (encounter, claim) = (reference(4), reference(7));
    let elements = match TYPES[type_idx] {
        "Patient" => r#""name":[{"family":"Cycle","given":["Crud"]}],"gender":"female","birthDate":"1980-04-12""#.to_owned(),
        "Location" => r#""status":"active","name":"Crud Cycle Clinic""#.to_owned(),
        "Organization" => r#""active":true,"name":"Crud Cycle Hospital""#.to_owned(),
        "Practitioner" => r#""active":true,"name":[{"family":"Cycle","given":["Doc"],"prefix":["Dr."]}]"#.to_owned(),
        "Encounter" => format!(
            r#""status":"finished","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},"subject":{{"reference":"{patient}"}},"participant":[{{"individual":{{"reference":"{practitioner}"}}}}],"period":{{"start":"2024-03-01T10:00:00+00:00","end":"2024-03-01T10:30:00+00:00"}},"location":[{{"location":{{"reference":"{location}"}}}}],"serviceProvider":{{"reference":"{organization}"}}"#
        ),
        "Observation" => format!(
            r#""status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}}]}},"subject":{{"reference":"{patient}"}},"encounter":{{"reference":"{encounter}"}},"effectiveDateTime":"2024-03-01T10:05:00+00:00","valueQuantity":{{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}"#
        ),
        "MedicationRequest" => format!(
            r#""status":"active","intent":"order","medicationCodeableConcept":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"314076","display":"lisinopril 10 MG Oral Tablet"}}]}},"subject":{{"reference":"{patient}"}},"encounter":{{"reference":"{encounter}"}},"authoredOn":"2024-03-01T10:20:00+00:00","requester":{{"reference":"{practitioner}"}}"#
        ),
        "Claim" => format!(
            r#""status":"active","type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"institutional"}}]}},"use":"claim","patient":{{"reference":"{patient}"}},"created":"2024-03-01T10:30:00+00:00","provider":{{"reference":"{organization}"}},"priority":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}}]}},"insurance":[{{"sequence":1,"focal":true,"coverage":{{"display":"Medicare"}}}}],"item":[{{"sequence":1,"productOrService":{{"text":"Encounter for check up"}},"encounter":[{{"reference":"{encounter}"}}]}}]"#
        ),
        _ => format!(
            r#""status":"active","type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"institutional"}}]}},"use":"claim","patient":{{"reference":"{patient}"}},"created":"2024-03-01T10:30:00+00:00","insurer":{{"display":"Medicare"}},"provider":{{"reference":"{organization}"}},"claim":{{"reference":"{claim}"}},"outcome":"complete","insurance":[{{"focal":true,"coverage":{{"display":"Medicare"}}}}]"#
        ),
    };
    match id {
        Some(id) => format!(
            r#"{{"resourceType":"{}","id":"{id}","meta":{{"tag":[{{"system":"urn:ember-load","code":"updated"}}]}},{elements}}}"#,
            TYPES[type_idx]
        ),
        None => format!(r#"{{"resourceType":"{}",{elements}}}"#, TYPES[type_idx]),
    }
}

/// One worker's position in the cycle and the ids its creates got.
struct CrudCycle {
    target: Arc<Target>,
    step: usize,
    ids: [Option<String>; 9],
}

impl CrudCycle {
    fn call(&self) -> Result<Call, Refusal> {
        let (action, type_idx) = step_of(self.step);
        let resource_type = TYPES[type_idx];
        let instance = || {
            let id = self.ids[type_idx].as_deref().unwrap_or("missing");
            self.target.uri(&format!("{resource_type}/{id}"))
        };
        Ok(match action {
            Action::Create => Call::with_body(
                Method::POST,
                self.target.uri(resource_type)?,
                Bytes::from(body(type_idx, &self.ids, None)),
                &[201],
            ),
            Action::Read => Call::get(instance()?),
            Action::Update => Call::with_body(
                Method::PUT,
                instance()?,
                Bytes::from(body(type_idx, &self.ids, self.ids[type_idx].as_deref())),
                &[200],
            ),
            Action::Delete => Call {
                method: Method::DELETE,
                uri: instance()?,
                body: None,
                expect: DELETE_EXPECT,
                timed: true,
            },
        })
    }
}

impl Script for CrudCycle {
    fn next_call(&mut self) -> Call {
        // Ids come from the server; one that cannot form a URI ends this cycle early.
        self.call().unwrap_or_else(|_| {
            self.step = 0;
            self.call()
                .expect("a create's URI is built from the base alone")
        })
    }

    fn observe(&mut self, _call: &Call, outcome: Result<&Reply, Failure>) {
        let (action, type_idx) = step_of(self.step);
        if action == Action::Create {
            self.ids[type_idx] = outcome
                .ok()
                .and_then(|reply| id_from_reply(reply, TYPES[type_idx]));
            if self.ids[type_idx].is_none() {
                // Without this id the rest of the cycle has nothing to act on.
                self.step = 0;
                return;
            }
        }
        self.step = (self.step + 1) % STEPS;
    }
}

pub(crate) async fn prepare(setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    // One whole cycle, each answer checked.
    let mut cycle = CrudCycle {
        target: Arc::clone(&setup.target),
        step: 0,
        ids: Default::default(),
    };
    for _ in 0..STEPS {
        let call = cycle.call()?;
        let (action, type_idx) = step_of(cycle.step);
        let reply = setup.expect(&call).await?;
        match action {
            Action::Create => {
                let id = id_from_reply(&reply, TYPES[type_idx]).ok_or_else(|| {
                    format!("POST {}: no id in Location or body", TYPES[type_idx])
                })?;
                cycle.ids[type_idx] = Some(id);
                cycle.step += 1;
                continue;
            }
            Action::Read => {
                let id = cycle.ids[type_idx].clone().unwrap_or_default();
                expect_resource(&parse_json(&reply.body, "read")?, TYPES[type_idx], &id)?;
            }
            Action::Update | Action::Delete => {}
        }
        cycle.step += 1;
    }
    let target = Arc::clone(&setup.target);
    Ok(Box::new(move |_, _| {
        Box::new(CrudCycle {
            target: Arc::clone(&target),
            step: 0,
            ids: Default::default(),
        })
    }))
}
