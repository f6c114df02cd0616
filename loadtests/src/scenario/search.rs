//! The search scenarios, one per query shape: string, token, date range, patient + code,
//! sort, `_include`, `_revinclude`, a chain of one and of two levels, and `_has`.
//!
//! Each checks a query whose answer is known exactly: a fixture (generated patients loaded
//! with `PUT`, ids fixed, so re-runs overwrite it) where one patient alone has the family name
//! `Zzloadcheck`, the birth date 1901-02-03 and a LOINC 2339-0 observation, values the
//! generator never produces. The timed queries then vary over the generator's vocabulary, so
//! on a loaded dataset they match realistic numbers of resources.
//! Spec: https://hl7.org/fhir/R4/search.html

use std::sync::Arc;

use serde_json::Value;

use super::check::{bundle_entries, entry_keys, expect_entry};
use super::{round_robin, Refusal, Setup};
use crate::client::Call;
use crate::generate::{Generator, ReferenceStyle, FIXTURE_ONLY_LOINC};
use crate::runner::ScriptFactory;

/// The fixture's seed: fixed, so its ids are the same on every run.
const FIXTURE_SEED: u64 = 0x5EA4C4;
const FIXTURE_PATIENTS: usize = 8;
const CHECK_FAMILY: &str = "Zzloadcheck";
const CHECK_BIRTH_DATE: &str = "1901-02-03";
/// Later than any generated date, so it sorts first under `_sort=-date`.
const CHECK_EFFECTIVE: &str = "2026-01-01T12:00:00+00:00";

/// What the checks know about the fixture.
pub(crate) struct SearchFixture {
    /// The patient with the check values.
    patient: String,
    /// Its LOINC 2339-0 observation.
    observation: String,
    encounter: String,
    /// The name of the organization providing that encounter's service.
    encounter_provider_name: String,
    /// One of its diagnostic reports and that report's results.
    report: String,
    report_results: Vec<String>,
    /// Every fixture patient, for timed queries per patient.
    patients: Vec<String>,
}

/// `|` is not allowed raw in a URI; servers decode `%7C`.
fn token(system: &str, code: &str) -> String {
    format!("{system}%7C{code}")
}

pub(crate) async fn prepare(shape: &str, setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    let (check, timed) = match setup.search_fixture.clone() {
        Some(fixture) => queries(shape, &fixture)?,
        None => {
            // Probe before loading the fixture: a server without search refuses in one
            // request instead of after hundreds of PUTs.
            let probe = Call::get(setup.uri("Patient?name=Zzloadcheck")?);
            let reply = setup.send(&probe).await?;
            if reply.status != 200 {
                return Err(format!(
                    "GET Patient?name=… answered {} (search not supported?): {}",
                    reply.status,
                    super::setup::excerpt(&reply.body)
                ));
            }
            let fixture = Arc::new(load_fixture(setup).await?);
            setup.search_fixture = Some(Arc::clone(&fixture));
            queries(shape, &fixture)?
        }
    };
    let bundle = setup.get_json(&check.query).await?;
    let entries = bundle_entries(&bundle, "searchset")
        .map_err(|refusal| format!("{}: {refusal}", check.query))?;
    (check.verify)(entries).map_err(|refusal| format!("{}: {refusal}", check.query))?;
    let calls = timed
        .iter()
        .map(|query| Ok(Call::get(setup.uri(query)?)))
        .collect::<Result<_, Refusal>>()?;
    Ok(round_robin(calls))
}

/// Judges the entries of the check query's searchset.
type Verify = Box<dyn Fn(&[Value]) -> Result<(), Refusal> + Send>;

struct Check {
    query: String,
    verify: Verify,
}

fn check(
    query: String,
    verify: impl Fn(&[Value]) -> Result<(), Refusal> + Send + 'static,
) -> Check {
    Check {
        query,
        verify: Box::new(verify),
    }
}

/// The check query and the timed queries of `shape`.
fn queries(shape: &str, fixture: &SearchFixture) -> Result<(Check, Vec<String>), Refusal> {
    use crate::generate::vocabulary_for_search as vocabulary;
    let loinc = "http://loinc.org";
    let (glucose, _) = FIXTURE_ONLY_LOINC;
    let patient = fixture.patient.clone();
    let observation = fixture.observation.clone();
    let per_patient = |template: &dyn Fn(&str) -> String| -> Vec<String> {
        fixture.patients.iter().map(|id| template(id)).collect()
    };
    Ok(match shape {
        "search-string" => (
            check(format!("Patient?name={CHECK_FAMILY}"), move |entries| {
                expect_entry(entries, "Patient", &patient, None)
            }),
            vocabulary::family_names()
                .map(|family| format!("Patient?name={family}"))
                .collect(),
        ),
        "search-token" => (
            check(
                format!("Observation?code={}", token(loinc, glucose)),
                move |entries| expect_entry(entries, "Observation", &observation, None),
            ),
            vocabulary::loinc_codes()
                .map(|code| format!("Observation?code={}", token(loinc, code)))
                .collect(),
        ),
        "search-date" => (
            check(
                format!("Patient?birthdate=ge{CHECK_BIRTH_DATE}&birthdate=lt1901-02-04"),
                move |entries| expect_entry(entries, "Patient", &patient, None),
            ),
            (1930..2016)
                .map(|year| {
                    format!(
                        "Patient?birthdate=ge{year}-01-01&birthdate=lt{}-01-01",
                        year + 1
                    )
                })
                .collect(),
        ),
        "search-patient-code" => (
            check(
                format!(
                    "Observation?subject=Patient/{patient}&code={}",
                    token(loinc, glucose)
                ),
                move |entries| expect_entry(entries, "Observation", &observation, None),
            ),
            fixture
                .patients
                .iter()
                .zip(vocabulary::loinc_codes().cycle())
                .map(|(id, code)| {
                    format!(
                        "Observation?subject=Patient/{id}&code={}",
                        token(loinc, code)
                    )
                })
                .collect(),
        ),
        "search-sort" => (
            check(
                format!("Observation?subject=Patient/{patient}&_sort=-date"),
                move |entries| {
                    let keys = entry_keys(entries);
                    match keys.first() {
                        Some((found_type, id, _))
                            if found_type == "Observation" && *id == observation =>
                        {
                            Ok(())
                        }
                        first => Err(format!(
                            "expected Observation/{observation} first (the latest), got {first:?}"
                        )),
                    }
                },
            ),
            per_patient(&|id| format!("Observation?subject=Patient/{id}&_sort=-date")),
        ),
        "search-include" => {
            let report = fixture.report.clone();
            let results = fixture.report_results.clone();
            (
                check(
                    format!("DiagnosticReport?subject=Patient/{patient}&_include=DiagnosticReport:result"),
                    move |entries| {
                        expect_entry(entries, "DiagnosticReport", &report, Some("match"))?;
                        results
                            .iter()
                            .try_for_each(|id| expect_entry(entries, "Observation", id, Some("include")))
                    },
                ),
                vec!["DiagnosticReport?_include=DiagnosticReport:result".to_owned()],
            )
        }
        "search-revinclude" => {
            let encounter = fixture.encounter.clone();
            (
                check(
                    format!(
                        "Encounter?subject=Patient/{patient}&_revinclude=Observation:encounter"
                    ),
                    move |entries| {
                        expect_entry(entries, "Encounter", &encounter, Some("match"))?;
                        expect_entry(entries, "Observation", &observation, Some("include"))
                    },
                ),
                vec!["Encounter?_revinclude=Observation:encounter".to_owned()],
            )
        }
        "search-chain" => (
            // Restricted to the one 2339-0 observation, so the answer fits any page size.
            check(
                format!(
                    "Observation?subject:Patient.name={CHECK_FAMILY}&code={}",
                    token(loinc, glucose)
                ),
                move |entries| expect_entry(entries, "Observation", &observation, None),
            ),
            vocabulary::family_names()
                .map(|family| format!("Observation?subject:Patient.name={family}"))
                .collect(),
        ),
        "search-chain2" => (
            // Restricted to the one 2339-0 observation: organization names repeat.
            check(
                format!(
                    "Observation?encounter.service-provider.name={}&code={}",
                    fixture.encounter_provider_name.replace(' ', "%20"),
                    token(loinc, glucose)
                ),
                move |entries| expect_entry(entries, "Observation", &observation, None),
            ),
            vocabulary::towns()
                .map(|town| format!("Observation?encounter.service-provider.name={town}"))
                .collect(),
        ),
        "search-has" => (
            check(
                format!("Patient?_has:Observation:subject:code={glucose}"),
                move |entries| expect_entry(entries, "Patient", &patient, None),
            ),
            vocabulary::loinc_codes()
                .map(|code| format!("Patient?_has:Observation:subject:code={code}"))
                .collect(),
        ),
        other => return Err(format!("unknown search shape {other}")),
    })
}

/// Generates the fixture, gives its first patient the check values, adds the 2339-0
/// observation, and loads it all with `PUT` in reference order.
async fn load_fixture(setup: &mut Setup) -> Result<SearchFixture, Refusal> {
    let mut generator = Generator::new(FIXTURE_SEED, ReferenceStyle::Ids, 1_000);
    let mut resources = generator.shared_resources();
    let mut patients = Vec::new();
    for _ in 0..FIXTURE_PATIENTS {
        patients.push(generator.next_patient());
    }
    let first = &mut patients[0];
    let patient_json: Value =
        serde_json::from_str(&first[0].json).map_err(|error| error.to_string())?;
    let original_family = patient_json
        .pointer("/name/0/family")
        .and_then(Value::as_str)
        .ok_or("generated Patient without family name")?
        .to_owned();
    let original_birth = patient_json
        .get("birthDate")
        .and_then(Value::as_str)
        .ok_or("generated Patient without birthDate")?
        .to_owned();
    first[0].json = first[0]
        .json
        .replacen(
            &format!(r#""family":"{original_family}""#),
            &format!(r#""family":"{CHECK_FAMILY}""#),
            1,
        )
        .replacen(
            &format!(r#""birthDate":"{original_birth}""#),
            &format!(r#""birthDate":"{CHECK_BIRTH_DATE}""#),
            1,
        );
    let patient = first[0].id.clone();
    let encounter = first
        .iter()
        .find(|resource| resource.resource_type == "Encounter")
        .ok_or("generated patient without encounter")?
        .id
        .clone();
    let encounter_provider_name = provider_name(first, &resources, &encounter)?;
    let report_resource = first
        .iter()
        .find(|resource| resource.resource_type == "DiagnosticReport")
        .ok_or("generated patient without report")?;
    let report_json: Value =
        serde_json::from_str(&report_resource.json).map_err(|error| error.to_string())?;
    let report_results = report_json
        .get("result")
        .and_then(Value::as_array)
        .map(|results| {
            results
                .iter()
                .filter_map(|result| {
                    result
                        .get("reference")?
                        .as_str()?
                        .strip_prefix("Observation/")
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let observation = format!("obs-check-{FIXTURE_SEED}");
    let (glucose, glucose_display) = FIXTURE_ONLY_LOINC;
    let observation_json = format!(
        concat!(
            r#"{{"resourceType":"Observation","id":"{observation}","status":"final","#,
            r#""code":{{"coding":[{{"system":"http://loinc.org","code":"{glucose}","display":"{display}"}}]}},"#,
            r#""subject":{{"reference":"Patient/{patient}"}},"encounter":{{"reference":"Encounter/{encounter}"}},"#,
            r#""effectiveDateTime":"{effective}","#,
            r#""valueQuantity":{{"value":95,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}}}"#
        ),
        observation = observation,
        glucose = glucose,
        display = glucose_display,
        patient = patient,
        encounter = encounter,
        effective = CHECK_EFFECTIVE,
    );
    let report = report_resource.id.clone();
    let patient_ids = patients
        .iter()
        .map(|resources| resources[0].id.clone())
        .collect();
    for patient_resources in patients {
        resources.extend(patient_resources);
    }
    resources.push(crate::generate::Resource {
        resource_type: "Observation",
        id: observation.clone(),
        json: observation_json,
    });
    for resource_type in crate::generate::LOAD_ORDER {
        for resource in resources
            .iter()
            .filter(|resource| resource.resource_type == *resource_type)
        {
            setup
                .put(resource.resource_type, &resource.id, &resource.json)
                .await?;
        }
    }
    Ok(SearchFixture {
        patient,
        observation,
        encounter,
        encounter_provider_name,
        report,
        report_results,
        patients: patient_ids,
    })
}

/// The name of the organization that `encounter` (among `patient_resources`) names as its
/// service provider, found among the `shared` resources.
fn provider_name(
    patient_resources: &[crate::generate::Resource],
    shared: &[crate::generate::Resource],
    encounter: &str,
) -> Result<String, Refusal> {
    let json_of = |resources: &[crate::generate::Resource], resource_type: &str, id: &str| {
        resources
            .iter()
            .find(|resource| resource.resource_type == resource_type && resource.id == id)
            .and_then(|resource| serde_json::from_str::<Value>(&resource.json).ok())
            .ok_or_else(|| format!("fixture without {resource_type}/{id}"))
    };
    let encounter_json = json_of(patient_resources, "Encounter", encounter)?;
    let organization = encounter_json
        .pointer("/serviceProvider/reference")
        .and_then(Value::as_str)
        .and_then(|reference| reference.strip_prefix("Organization/"))
        .ok_or("fixture encounter without a service provider")?;
    json_of(shared, "Organization", organization)?
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("fixture Organization/{organization} without a name"))
}
