//! The server under test: a FHIR base URL and an optional Authorization header, parsed once so
//! that every request reuses the same header values and URI prefix.

use hyper::header::HeaderValue;
use hyper::Uri;

/// Where requests go. Plain HTTP/1.1 only: TLS would put a handshake and cipher work into the
/// load generator's CPU budget on the same cores as the server; measure over loopback or
/// behind the server's own TLS terminator.
#[derive(Debug, Clone)]
pub struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) host_header: HeaderValue,
    /// The base URL's path without a trailing slash, e.g. `/fhir` (empty for a root base).
    pub(crate) base_path: String,
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) base_url: String,
}

impl Target {
    /// Parses `base_url` (`http://host[:port][/path]`) and the Authorization header's value
    /// (e.g. `Bearer abc`).
    ///
    /// # Errors
    /// A URL that does not parse, is not `http`, or has no host; a header value with control
    /// characters.
    pub fn new(base_url: &str, authorization: Option<&str>) -> Result<Target, String> {
        let uri: Uri = base_url
            .parse()
            .map_err(|error| format!("base URL {base_url:?}: {error}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                "base URL {base_url:?}: https is not supported; ember-load speaks plain HTTP/1.1"
            ))
            }
            _ => {
                return Err(format!(
                    "base URL {base_url:?}: expected http://host[:port]/path"
                ))
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("base URL {base_url:?} has no host"))?;
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|error| format!("base URL {base_url:?}: {error}"))?;
        let authorization = authorization
            .map(HeaderValue::from_str)
            .transpose()
            .map_err(|error| format!("Authorization header: {error}"))?;
        Ok(Target {
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: authority.port_u16().unwrap_or(80),
            host_header,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            authorization,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The origin-form URI of `relative` under the base, e.g. `Patient/1` → `/fhir/Patient/1`;
    /// an empty `relative` is the base itself (where transactions are posted).
    ///
    /// # Errors
    /// `relative` has characters a URI may not hold (queries must be percent-encoded).
    pub(crate) fn uri(&self, relative: &str) -> Result<Uri, String> {
        let path = match (self.base_path.is_empty(), relative.is_empty()) {
            (true, true) => "/".to_owned(),
            (_, true) => self.base_path.clone(),
            _ => format!("{}/{relative}", self.base_path),
        };
        path.parse()
            .map_err(|error| format!("request URI {path:?}: {error}"))
    }
}
