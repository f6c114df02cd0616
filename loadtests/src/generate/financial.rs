//! The claim for each encounter and its explanation of benefit, as Synthea bills visits.
//! Spec: https://hl7.org/fhir/R4/claim.html, https://hl7.org/fhir/R4/explanationofbenefit.html

use super::vocabulary::PAYERS;
use super::{Context, Draw, Resource};

/// The encounter a claim bills for.
pub(crate) struct Billing<'a> {
    pub(crate) patient: &'a str,
    pub(crate) encounter: &'a str,
    pub(crate) organization: &'a str,
    pub(crate) start: &'a str,
    pub(crate) end: &'a str,
    /// What was billed, one claim item each.
    pub(crate) items: &'a [String],
}

fn cents(amount: u32) -> String {
    format!("{}.{:02}", amount / 100, amount % 100)
}

pub(crate) fn claim(
    context: &Context,
    billing: &Billing<'_>,
    encounter_idx: u32,
    draw: &mut Draw,
) -> Resource {
    let id = context.id("claim", &[encounter_idx]);
    let mut total = 0;
    let items: Vec<String> = billing
        .items
        .iter()
        .enumerate()
        .map(|(item_idx, text)| {
            let amount = draw.between(5_000, 50_000);
            total += amount;
            format!(
                r#"{{"sequence":{},"productOrService":{{"text":"{text}"}},"encounter":[{{"reference":"{}"}}],"net":{{"value":{},"currency":"USD"}}}}"#,
                item_idx + 1,
                billing.encounter,
                cents(amount)
            )
        })
        .collect();
    let json = format!(
        concat!(
            r#"{{"resourceType":"Claim","id":"{id}","status":"active","#,
            r#""type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"institutional"}}]}},"#,
            r#""use":"claim","patient":{{"reference":"{patient}"}},"#,
            r#""billablePeriod":{{"start":"{start}","end":"{end}"}},"created":"{end}","#,
            r#""provider":{{"reference":"{organization}"}},"#,
            r#""priority":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}}]}},"#,
            r#""insurance":[{{"sequence":1,"focal":true,"coverage":{{"display":"{payer}"}}}}],"#,
            r#""item":[{items}],"total":{{"value":{total},"currency":"USD"}}}}"#
        ),
        id = id,
        patient = billing.patient,
        start = billing.start,
        end = billing.end,
        organization = billing.organization,
        payer = draw.pick(PAYERS),
        items = items.join(","),
        total = cents(total),
    );
    Resource {
        resource_type: "Claim",
        id,
        json,
    }
}

pub(crate) fn explanation_of_benefit(
    context: &Context,
    billing: &Billing<'_>,
    claim_ref: &str,
    encounter_idx: u32,
    draw: &mut Draw,
) -> Resource {
    let id = context.id("eob", &[encounter_idx]);
    let payment = draw.between(1_000, 40_000);
    let json = format!(
        concat!(
            r#"{{"resourceType":"ExplanationOfBenefit","id":"{id}","status":"active","#,
            r#""type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"institutional"}}]}},"#,
            r#""use":"claim","patient":{{"reference":"{patient}"}},"#,
            r#""billablePeriod":{{"start":"{start}","end":"{end}"}},"created":"{end}","#,
            r#""insurer":{{"display":"{payer}"}},"provider":{{"reference":"{organization}"}},"#,
            r#""claim":{{"reference":"{claim}"}},"outcome":"complete","#,
            r#""insurance":[{{"focal":true,"coverage":{{"display":"{payer}"}}}}],"#,
            r#""payment":{{"amount":{{"value":{payment},"currency":"USD"}}}}}}"#
        ),
        id = id,
        patient = billing.patient,
        start = billing.start,
        end = billing.end,
        payer = draw.pick(PAYERS),
        organization = billing.organization,
        claim = claim_ref,
        payment = cents(payment),
    );
    Resource {
        resource_type: "ExplanationOfBenefit",
        id,
        json,
    }
}
