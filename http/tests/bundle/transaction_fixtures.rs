//! Small resources the transaction tests share.

pub(crate) const PATIENT_URN: &str = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a";

pub(crate) fn patient(identifier: &str) -> String {
    format!(
        r#"{{"resourceType":"Patient","identifier":[{{"system":"urn:x","value":"{identifier}"}}]}}"#
    )
}

pub(crate) fn observation_of(subject: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"weight"}},"subject":{{"reference":"{subject}"}}}}"#
    )
}
