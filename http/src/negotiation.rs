//! Content negotiation: which format a response takes (`Accept`, `_format`, `_pretty`) and
//! which request bodies are accepted (`Content-Type`).
//! Spec: https://hl7.org/fhir/R4/http.html#mime-type

use axum::http::{header, HeaderMap, StatusCode};

use crate::error::ApiError;
use crate::query::QueryParams;

/// What Ember answers with.
pub(crate) const FHIR_JSON: &str = "application/fhir+json; fhirVersion=4.0; charset=utf-8";
const PLAIN_JSON: &str = "application/json; charset=utf-8";

/// How to render a response body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseFormat {
    pub content_type: &'static str,
    pub pretty: bool,
}

/// Picks the response format from `_format` (which overrides `Accept`) and `_pretty`.
///
/// # Errors
/// 406 when the client accepts only formats Ember does not produce (XML, Turtle, HTML only).
pub(crate) fn response_format(
    headers: &HeaderMap,
    query: &QueryParams,
) -> Result<ResponseFormat, ApiError> {
    let pretty = match query.first("_pretty") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "_pretty must be true or false, not '{other}'"
            )))
        }
    };
    let content_type = match query.first("_format") {
        Some(format) => format_parameter(format)?,
        None => accept_header(headers)?,
    };
    Ok(ResponseFormat {
        content_type,
        pretty,
    })
}

/// The media type without its parameters, lower-cased: `application/fhir+json` for
/// `Application/FHIR+JSON; charset=utf-8`.
pub(crate) fn media_type_essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn format_parameter(format: &str) -> Result<&'static str, ApiError> {
    // A '+' in a query string decodes to a space, so `_format=application/fhir+json` sent
    // unencoded arrives as "application/fhir json".
    let format = format.trim().replace(' ', "+");
    match media_type_essence(&format).as_str() {
        "json" | "application/fhir+json" => Ok(FHIR_JSON),
        "application/json" => Ok(PLAIN_JSON),
        _ => Err(not_acceptable(&format)),
    }
}

fn accept_header(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(FHIR_JSON);
    };
    if accept.trim().is_empty() {
        return Ok(FHIR_JSON);
    }
    let mut best: Option<(f32, &'static str)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut quality = 1.0f32;
        let mut version_ok = true;
        for parameter in parts {
            let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => quality = value.trim().parse().unwrap_or(0.0),
                "fhirversion" => version_ok = value.trim().trim_matches('"').starts_with("4.0"),
                _ => {}
            }
        }
        let candidate = match essence.as_str() {
            "application/fhir+json" | "application/*" | "*/*" if version_ok => FHIR_JSON,
            "application/json" => PLAIN_JSON,
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(best_quality, _)| quality > best_quality) {
            best = Some((quality, candidate));
        }
    }
    best.map(|(_, content_type)| content_type)
        .ok_or_else(|| not_acceptable(accept))
}

#[cold]
fn not_acceptable(requested: &str) -> ApiError {
    ApiError::http(
        StatusCode::NOT_ACCEPTABLE,
        "not-supported",
        format!(
            "Ember answers only in FHIR R4 JSON (application/fhir+json; fhirVersion=4.0, or application/json); \
             '{requested}' is not available"
        ),
    )
}

/// Checks that a request body is FHIR JSON.
///
/// A missing Content-Type is taken as JSON: the spec requires clients to send one, but
/// refusing a well-formed JSON body for its absence helps nobody.
///
/// # Errors
/// 415 for any other media type, a charset other than UTF-8, or a FHIR version other than 4.0.
pub(crate) fn check_request_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let essence = media_type_essence(text);
    let mut acceptable = matches!(
        essence.as_str(),
        "application/fhir+json" | "application/json"
    );
    for parameter in text.split(';').skip(1) {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let value = value.trim().trim_matches('"').to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "charset" => acceptable &= value == "utf-8" || value == "utf8",
            "fhirversion" => acceptable &= value.starts_with("4.0"),
            _ => {}
        }
    }
    if acceptable {
        Ok(())
    } else {
        Err(ApiError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not-supported",
            format!("Request bodies must be FHIR R4 JSON (application/fhir+json or application/json, UTF-8); got '{text}'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    fn accept(value: &str) -> Result<&'static str, ApiError> {
        accept_header(&headers(header::ACCEPT, value))
    }

    #[test]
    fn browsers_accept_header_gets_fhir_json_through_the_wildcard() {
        assert_eq!(
            accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8").unwrap(),
            FHIR_JSON
        );
    }

    #[test]
    fn xml_only_accept_is_not_acceptable() {
        assert_eq!(
            accept("application/fhir+xml").unwrap_err().status(),
            StatusCode::NOT_ACCEPTABLE
        );
    }

    #[test]
    fn other_fhir_version_is_not_acceptable() {
        assert!(accept("application/fhir+json; fhirVersion=3.0").is_err());
        assert_eq!(
            accept("application/fhir+json; fhirVersion=4.0").unwrap(),
            FHIR_JSON
        );
    }

    #[test]
    fn plain_json_is_answered_as_plain_json() {
        assert_eq!(accept("application/json").unwrap(), PLAIN_JSON);
    }

    #[test]
    fn format_parameter_tolerates_an_unencoded_plus() {
        assert_eq!(
            format_parameter("application/fhir json").unwrap(),
            FHIR_JSON
        );
        assert!(format_parameter("xml").is_err());
    }

    #[test]
    fn request_content_type_rules() {
        let ok = |value| check_request_content_type(&headers(header::CONTENT_TYPE, value)).is_ok();
        assert!(ok("application/fhir+json"));
        assert!(ok("application/fhir+json; fhirVersion=4.0; charset=UTF-8"));
        assert!(ok("application/json;charset=utf-8"));
        assert!(!ok("application/fhir+xml"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/json; charset=iso-8859-1"));
        assert!(!ok("application/fhir+json; fhirVersion=3.0"));
        assert!(check_request_content_type(&HeaderMap::new()).is_ok());
    }
}
