//! A patient's encounters and what each produces: observations (LOINC, valueQuantity,
//! effectiveDateTime), sometimes a condition (SNOMED CT) and a medication request (RxNorm),
//! a diagnostic report whose `result` lists the observations, then the claim and its
//! explanation of benefit.
//! Spec: https://hl7.org/fhir/R4/encounter.html, https://hl7.org/fhir/R4/observation.html

use super::financial::{claim, explanation_of_benefit, Billing};
use super::vocabulary::{CONDITIONS, ENCOUNTER_TYPES, MEDICATIONS, OBSERVATIONS, REPORT_PANELS};
use super::{decimal_tenths, Context, Day, Draw, Resource};

/// What every resource of one encounter refers to.
struct Visit {
    patient: String,
    encounter: String,
    start: String,
    end: String,
    practitioner: String,
    organization: String,
}

pub(crate) fn encounters(
    context: &Context,
    birth_year: u32,
    draw: &mut Draw,
    resources: &mut Vec<Resource>,
) {
    let patient = context.reference("Patient", &context.id("pt", &[]));
    for encounter_idx in 0..draw.between(2, 8) {
        let day = Day::draw(draw, (birth_year + 1).max(2010), 2025);
        let start_minutes = draw.between(8 * 60, 20 * 60);
        let encounter_id = context.id("enc", &[encounter_idx]);
        let visit = Visit {
            patient: patient.clone(),
            encounter: context.reference("Encounter", &encounter_id),
            start: day.at(start_minutes),
            end: day.at(start_minutes + 30),
            practitioner: context.practitioner(draw),
            organization: context.organization(draw),
        };
        let (type_code, type_display) = draw.pick(ENCOUNTER_TYPES);
        let json = format!(
            concat!(
                r#"{{"resourceType":"Encounter","id":"{id}","status":"finished","#,
                r#""class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},"#,
                r#""type":[{{"coding":[{{"system":"http://snomed.info/sct","code":"{type_code}","display":"{type_display}"}}],"text":"{type_display}"}}],"#,
                r#""subject":{{"reference":"{patient}"}},"#,
                r#""participant":[{{"individual":{{"reference":"{practitioner}"}}}}],"#,
                r#""period":{{"start":"{start}","end":"{end}"}},"#,
                r#""location":[{{"location":{{"reference":"{location}"}}}}],"#,
                r#""serviceProvider":{{"reference":"{organization}"}}}}"#
            ),
            id = encounter_id,
            type_code = type_code,
            type_display = type_display,
            patient = visit.patient,
            practitioner = visit.practitioner,
            start = visit.start,
            end = visit.end,
            location = context.location(draw),
            organization = visit.organization,
        );
        resources.push(Resource {
            resource_type: "Encounter",
            id: encounter_id,
            json,
        });

        let mut observation_refs = Vec::new();
        for observation_idx in 0..draw.between(1, 4) {
            let observation = observation(context, &visit, &[encounter_idx, observation_idx], draw);
            observation_refs.push(context.reference("Observation", &observation.id));
            resources.push(observation);
        }
        if draw.chance(40) {
            resources.push(condition(context, &visit, encounter_idx, draw));
        }
        let medication = draw
            .chance(40)
            .then(|| medication_request(context, &visit, encounter_idx, draw));
        let mut billed = vec![type_display.to_string()];
        if let Some(medication) = medication {
            billed.push(medication.1.to_owned());
            resources.push(medication.0);
        }
        resources.push(diagnostic_report(
            context,
            &visit,
            encounter_idx,
            &observation_refs,
            draw,
        ));
        let billing = Billing {
            patient: &visit.patient,
            encounter: &visit.encounter,
            organization: &visit.organization,
            start: &visit.start,
            end: &visit.end,
            items: &billed,
        };
        let claim = claim(context, &billing, encounter_idx, draw);
        let claim_ref = context.reference("Claim", &claim.id);
        resources.push(claim);
        resources.push(explanation_of_benefit(
            context,
            &billing,
            &claim_ref,
            encounter_idx,
            draw,
        ));
    }
}

fn observation(context: &Context, visit: &Visit, parts: &[u32], draw: &mut Draw) -> Resource {
    let id = context.id("obs", parts);
    let kind = draw.pick(OBSERVATIONS);
    let value = decimal_tenths(draw.between(kind.low_tenths, kind.high_tenths));
    let json = format!(
        concat!(
            r#"{{"resourceType":"Observation","id":"{id}","status":"final","#,
            r#""category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"{category}"}}]}}],"#,
            r#""code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"{display}"}}],"text":"{display}"}},"#,
            r#""subject":{{"reference":"{patient}"}},"encounter":{{"reference":"{encounter}"}},"#,
            r#""effectiveDateTime":"{start}","issued":"{start}","#,
            r#""valueQuantity":{{"value":{value},"unit":"{unit}","system":"http://unitsofmeasure.org","code":"{unit}"}}}}"#
        ),
        id = id,
        category = kind.category,
        code = kind.code,
        display = kind.display,
        patient = visit.patient,
        encounter = visit.encounter,
        start = visit.start,
        value = value,
        unit = kind.unit,
    );
    Resource {
        resource_type: "Observation",
        id,
        json,
    }
}

fn condition(context: &Context, visit: &Visit, encounter_idx: u32, draw: &mut Draw) -> Resource {
    let id = context.id("cond", &[encounter_idx]);
    let (code, display) = draw.pick(CONDITIONS);
    let json = format!(
        concat!(
            r#"{{"resourceType":"Condition","id":"{id}","#,
            r#""clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}}]}},"#,
            r#""verificationStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}}]}},"#,
            r#""code":{{"coding":[{{"system":"http://snomed.info/sct","code":"{code}","display":"{display}"}}],"text":"{display}"}},"#,
            r#""subject":{{"reference":"{patient}"}},"encounter":{{"reference":"{encounter}"}},"#,
            r#""onsetDateTime":"{start}","recordedDate":"{start}"}}"#
        ),
        id = id,
        code = code,
        display = display,
        patient = visit.patient,
        encounter = visit.encounter,
        start = visit.start,
    );
    Resource {
        resource_type: "Condition",
        id,
        json,
    }
}

fn medication_request(
    context: &Context,
    visit: &Visit,
    encounter_idx: u32,
    draw: &mut Draw,
) -> (Resource, &'static str) {
    let id = context.id("med", &[encounter_idx]);
    let (code, display) = draw.pick(MEDICATIONS);
    let json = format!(
        concat!(
            r#"{{"resourceType":"MedicationRequest","id":"{id}","status":"active","intent":"order","#,
            r#""medicationCodeableConcept":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"{code}","display":"{display}"}}],"text":"{display}"}},"#,
            r#""subject":{{"reference":"{patient}"}},"encounter":{{"reference":"{encounter}"}},"#,
            r#""authoredOn":"{start}","requester":{{"reference":"{practitioner}"}}}}"#
        ),
        id = id,
        code = code,
        display = display,
        patient = visit.patient,
        encounter = visit.encounter,
        start = visit.start,
        practitioner = visit.practitioner,
    );
    (
        Resource {
            resource_type: "MedicationRequest",
            id,
            json,
        },
        display,
    )
}

fn diagnostic_report(
    context: &Context,
    visit: &Visit,
    encounter_idx: u32,
    observation_refs: &[String],
    draw: &mut Draw,
) -> Resource {
    let id = context.id("dr", &[encounter_idx]);
    let (code, display) = draw.pick(REPORT_PANELS);
    let results: Vec<String> = observation_refs
        .iter()
        .map(|reference| format!(r#"{{"reference":"{reference}"}}"#))
        .collect();
    let json = format!(
        concat!(
            r#"{{"resourceType":"DiagnosticReport","id":"{id}","status":"final","#,
            r#""category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB","display":"Laboratory"}}]}}],"#,
            r#""code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"{display}"}}],"text":"{display}"}},"#,
            r#""subject":{{"reference":"{patient}"}},"encounter":{{"reference":"{encounter}"}},"#,
            r#""effectiveDateTime":"{start}","issued":"{end}","#,
            r#""performer":[{{"reference":"{organization}"}}],"result":[{results}]}}"#
        ),
        id = id,
        code = code,
        display = display,
        patient = visit.patient,
        encounter = visit.encounter,
        start = visit.start,
        end = visit.end,
        organization = visit.organization,
        results = results.join(","),
    );
    Resource {
        resource_type: "DiagnosticReport",
        id,
        json,
    }
}
