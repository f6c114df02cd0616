//! Patients, and the shared organizations, practitioners and locations, in Synthea's shapes.
//! Spec: https://hl7.org/fhir/R4/patient.html

use super::vocabulary::{
    FAMILY_NAMES, GIVEN_NAMES_FEMALE, GIVEN_NAMES_MALE, ORGANIZATION_NAMES, STREETS, TOWNS,
};
use super::{shared_id, uuid_for, Context, Day, Draw, PoolSizes, Resource};

pub(crate) struct GeneratedPatient {
    pub(crate) resource: Resource,
    pub(crate) birth_year: u32,
}

pub(crate) fn patient(context: &Context, draw: &mut Draw) -> GeneratedPatient {
    let id = context.id("pt", &[]);
    let female = draw.chance(50);
    let (gender, given_names, prefix) = if female {
        ("female", GIVEN_NAMES_FEMALE, "Ms.")
    } else {
        ("male", GIVEN_NAMES_MALE, "Mr.")
    };
    let given = draw.pick(given_names);
    let middle = draw.pick(given_names);
    let family = draw.pick(FAMILY_NAMES);
    let birth = Day::draw(draw, 1930, 2015);
    let (town, postal_code) = draw.pick(TOWNS);
    let address_line = format!("{} {}", draw.between(1, 999), draw.pick(STREETS));
    let ssn = format!(
        "999-{:02}-{:04}",
        draw.between(10, 99),
        draw.between(1000, 9999)
    );
    let phone = format!(
        "555-{:03}-{:04}",
        draw.between(100, 999),
        draw.between(0, 9999)
    );
    let json = format!(
        concat!(
            r#"{{"resourceType":"Patient","id":"{id}","#,
            r#""identifier":[{{"system":"https://github.com/synthetichealth/synthea","value":"{uuid}"}},"#,
            r#"{{"type":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SS","display":"Social Security number"}}]}},"system":"http://hl7.org/fhir/sid/us-ssn","value":"{ssn}"}}],"#,
            r#""name":[{{"use":"official","family":"{family}","given":["{given}","{middle}"],"prefix":["{prefix}"]}}],"#,
            r#""telecom":[{{"system":"phone","value":"{phone}","use":"home"}}],"#,
            r#""gender":"{gender}","birthDate":"{birth}","#,
            r#""address":[{{"line":["{line}"],"city":"{town}","state":"MA","postalCode":"{postal_code}","country":"US"}}],"#,
            r#""communication":[{{"language":{{"coding":[{{"system":"urn:ietf:bcp:47","code":"en-US","display":"English (United States)"}}]}}}}]}}"#
        ),
        id = id,
        uuid = uuid_for(&id),
        ssn = ssn,
        family = family,
        given = given,
        middle = middle,
        prefix = prefix,
        phone = phone,
        gender = gender,
        birth = birth.date(),
        line = address_line,
        town = town,
        postal_code = postal_code,
    );
    GeneratedPatient {
        resource: Resource {
            resource_type: "Patient",
            id,
            json,
        },
        birth_year: birth.year,
    }
}

/// The pool, organizations first (locations refer to them).
pub(crate) fn shared_resources(seed: u64, pool: PoolSizes, draw: &mut Draw) -> Vec<Resource> {
    let mut resources = Vec::new();
    for index in 0..pool.organizations {
        let id = shared_id("org", seed, index);
        let (town, postal_code) = draw.pick(TOWNS);
        let name = format!("{town} {}", draw.pick(ORGANIZATION_NAMES));
        let json = format!(
            concat!(
                r#"{{"resourceType":"Organization","id":"{id}","active":true,"#,
                r#""type":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/organization-type","code":"prov","display":"Healthcare Provider"}}]}}],"#,
                r#""name":"{name}","address":[{{"city":"{town}","state":"MA","postalCode":"{postal_code}","country":"US"}}]}}"#
            ),
            id = id,
            name = name,
            town = town,
            postal_code = postal_code
        );
        resources.push(Resource {
            resource_type: "Organization",
            id,
            json,
        });
    }
    for index in 0..pool.locations {
        let id = shared_id("loc", seed, index);
        let (town, postal_code) = draw.pick(TOWNS);
        let organization = shared_id("org", seed, index % pool.organizations);
        let json = format!(
            concat!(
                r#"{{"resourceType":"Location","id":"{id}","status":"active","name":"{town} Clinic {index}","#,
                r#""address":{{"city":"{town}","state":"MA","postalCode":"{postal_code}","country":"US"}},"#,
                r#""managingOrganization":{{"reference":"Organization/{organization}"}}}}"#
            ),
            id = id,
            town = town,
            index = index,
            postal_code = postal_code,
            organization = organization
        );
        resources.push(Resource {
            resource_type: "Location",
            id,
            json,
        });
    }
    for index in 0..pool.practitioners {
        let id = shared_id("prac", seed, index);
        let female = draw.chance(50);
        let (given_names, gender) = if female {
            (GIVEN_NAMES_FEMALE, "female")
        } else {
            (GIVEN_NAMES_MALE, "male")
        };
        let json = format!(
            concat!(
                r#"{{"resourceType":"Practitioner","id":"{id}","#,
                r#""identifier":[{{"system":"http://hl7.org/fhir/sid/us-npi","value":"{npi}"}}],"active":true,"#,
                r#""name":[{{"family":"{family}","given":["{given}"],"prefix":["Dr."]}}],"gender":"{gender}"}}"#
            ),
            id = id,
            npi = 9_999_900_000_u64 + u64::from(index),
            family = draw.pick(FAMILY_NAMES),
            given = draw.pick(given_names),
            gender = gender
        );
        resources.push(Resource {
            resource_type: "Practitioner",
            id,
            json,
        });
    }
    resources
}
