//! A lean HTTP/1.1 keep-alive client: one connection per worker, requests assembled from
//! pre-built parts (URIs, bodies as `Bytes`, header values) so that sending one allocates
//! little beyond hyper's own header map, and a fresh connection after any transport error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::target::Target;

const FHIR_JSON: HeaderValue = HeaderValue::from_static("application/fhir+json");

/// One request as a scenario describes it. Cloning is cheap: `Uri` and `Bytes` share their
/// buffers.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) body: Option<Bytes>,
    /// The statuses that count as success (a FHIR delete may answer 200 or 204).
    pub(crate) expect: &'static [u16],
    /// Untimed calls prepare a timed one (the create before a timed delete); they are sent
    /// outside the schedule and recorded only when they fail.
    pub(crate) timed: bool,
}

impl Call {
    pub(crate) fn get(uri: Uri) -> Call {
        Call {
            method: Method::GET,
            uri,
            body: None,
            expect: &[200],
            timed: true,
        }
    }

    pub(crate) fn with_body(method: Method, uri: Uri, body: Bytes, expect: &'static [u16]) -> Call {
        Call {
            method,
            uri,
            body: Some(body),
            expect,
            timed: true,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) location: Option<HeaderValue>,
    pub(crate) body: Bytes,
}

/// Why a request did not succeed; the key under which result files count errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Failure {
    Connect,
    /// The connection failed or closed mid-exchange.
    Io,
    Timeout,
    /// An answer whose status the call does not expect.
    Status(u16),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect => f.write_str("connect"),
            Failure::Io => f.write_str("io"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Status(status) => write!(f, "status {status}"),
        }
    }
}

/// A keep-alive connection, opened on first use and again after a failure.
pub(crate) struct Connection {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Connection {
    pub(crate) fn new(target: Arc<Target>, timeout: Duration) -> Connection {
        Connection {
            target,
            sender: None,
            timeout,
        }
    }

    /// Sends `call` and reads the whole answer. Any status is `Ok`: judging it is the
    /// caller's business.
    pub(crate) async fn send(&mut self, call: &Call) -> Result<Reply, Failure> {
        match tokio::time::timeout(self.timeout, self.exchange(call)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(failure)) => {
                self.sender = None;
                Err(failure)
            }
            Err(_) => {
                self.sender = None;
                Err(Failure::Timeout)
            }
        }
    }

    async fn exchange(&mut self, call: &Call) -> Result<Reply, Failure> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.sender = Some(connect(&self.target).await?);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(Failure::Connect);
        };
        sender.ready().await.map_err(|_| Failure::Io)?;
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.uri.clone())
            .header(HOST, self.target.host_header.clone())
            .header(ACCEPT, FHIR_JSON);
        if let Some(authorization) = &self.target.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let body = match &call.body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, FHIR_JSON);
                Full::new(body.clone())
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).map_err(|_| Failure::Io)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|_| Failure::Io)?;
        let status = response.status().as_u16();
        let location = response.headers().get(LOCATION).cloned();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|_| Failure::Io)?
            .to_bytes();
        Ok(Reply {
            status,
            location,
            body,
        })
    }
}

async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, Failure> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|_| Failure::Connect)?;
    // Requests are written whole; Nagle would only hold the last segment back.
    stream.set_nodelay(true).map_err(|_| Failure::Connect)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Failure::Connect)?;
    // The connection task ends when the connection closes; its error, if any, surfaces on
    // the next `send` through the sender, which is where it is counted.
    tokio::spawn(connection);
    Ok(sender)
}
