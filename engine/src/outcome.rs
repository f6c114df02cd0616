//! OperationOutcome issues and their JSON form: how every error reaches a FHIR client.
//! Spec: https://hl7.org/fhir/R4/operationoutcome.html

use std::fmt::Write as _;

/// How bad an issue is (`OperationOutcome.issue.severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// One problem found in a request, shaped one-to-one like `OperationOutcome.issue`, so a
/// client sees every problem at once rather than one per round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    /// An IssueType code from http://hl7.org/fhir/issue-type, such as `invalid` or `structure`.
    pub code: &'static str,
    pub diagnostics: String,
    /// A FHIRPath-like location of the problem, such as `Patient.name[0].given`.
    pub expression: Option<String>,
}

impl Issue {
    pub fn error(code: &'static str, diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Issue {
        self.expression = Some(expression.into());
        self
    }
}

/// Writes an OperationOutcome resource holding `issues` as compact JSON.
///
/// ```
/// use engine::{operation_outcome, Issue};
/// let json = operation_outcome(&[Issue::error("not-found", "Patient/1 is not known")]);
/// assert!(json.starts_with(br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error""#));
/// ```
pub fn operation_outcome(issues: &[Issue]) -> Vec<u8> {
    let mut json = String::with_capacity(128);
    json.push_str(r#"{"resourceType":"OperationOutcome","issue":["#);
    for (index, issue) in issues.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            r#"{{"severity":"{}","code":"{}","diagnostics":{}"#,
            issue.severity.code(),
            issue.code,
            json_string(&issue.diagnostics)
        );
        if let Some(expression) = &issue.expression {
            let _ = write!(json, r#","expression":[{}]"#, json_string(expression));
        }
        json.push('}');
    }
    json.push_str("]}");
    json.into_bytes()
}

/// The diagnostics of the first issue of an OperationOutcome's JSON, if it has any: what an
/// error answered inside the server (a Bundle entry's) said, to be said again.
///
/// ```
/// use engine::{operation_outcome, outcome_diagnostics, Issue};
/// let json = operation_outcome(&[Issue::error("not-found", "Patient/1 is not known")]);
/// assert_eq!(outcome_diagnostics(&json).as_deref(), Some("Patient/1 is not known"));
/// ```
pub fn outcome_diagnostics(json: &[u8]) -> Option<String> {
    use sonic_rs::JsonValueTrait;
    let outcome: sonic_rs::Value = sonic_rs::from_slice(json).ok()?;
    outcome["issue"][0]["diagnostics"]
        .as_str()
        .map(str::to_owned)
}

/// Quotes and escapes `text` as a JSON string.
pub fn json_string(text: &str) -> String {
    sonic_rs::to_string(text).unwrap_or_else(|_| String::from("\"\""))
}

/// Appends `text` to `json`, quoted and escaped as a JSON string, without allocating a
/// string of its own (Bundle writers call it once per entry).
pub fn write_json_string(json: &mut Vec<u8>, text: &str) {
    if sonic_rs::to_writer(&mut *json, text).is_err() {
        // Writing a string into a Vec cannot fail; should it ever, the output stays JSON.
        json.extend_from_slice(b"\"\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_lists_every_issue_with_expression_and_escapes_diagnostics() {
        let json = operation_outcome(&[
            Issue::error("invalid", "bad \"quote\"").at("Patient.id"),
            Issue::error("required", "second"),
        ]);
        let text = String::from_utf8(json).unwrap();
        assert_eq!(
            text,
            r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"bad \"quote\"","expression":["Patient.id"]},{"severity":"error","code":"required","diagnostics":"second"}]}"#
        );
    }
}
