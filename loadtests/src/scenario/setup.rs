//! What scenarios use before timing: one connection for seeding data and for the check
//! request, with answers judged strictly and failures turned into refusals.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, Uri};
use serde_json::Value;

use super::check::id_from_reply;
use super::search::SearchFixture;
use super::Refusal;
use crate::client::{Call, Connection, Reply};
use crate::target::Target;

pub(crate) struct Setup {
    pub(crate) target: Arc<Target>,
    connection: Connection,
    /// The most clients any step will run, so scenarios seed enough resources for each
    /// worker to have its own.
    pub(crate) max_clients: usize,
    pub(crate) seed: u64,
    /// Loaded by the first search scenario and shared by the others.
    pub(crate) search_fixture: Option<Arc<SearchFixture>>,
}

impl Setup {
    pub(crate) fn new(
        target: Arc<Target>,
        timeout: Duration,
        max_clients: usize,
        seed: u64,
    ) -> Setup {
        Setup {
            connection: Connection::new(Arc::clone(&target), timeout),
            target,
            max_clients,
            seed,
            search_fixture: None,
        }
    }

    pub(crate) fn uri(&self, relative: &str) -> Result<Uri, Refusal> {
        self.target.uri(relative)
    }

    /// Sends `call`; any answer is `Ok`, a transport failure is a refusal.
    pub(crate) async fn send(&mut self, call: &Call) -> Result<Reply, Refusal> {
        self.connection
            .send(call)
            .await
            .map_err(|failure| format!("{} {}: {failure}", call.method, call.uri))
    }

    /// Sends `call` and refuses unless the status is one it expects.
    pub(crate) async fn expect(&mut self, call: &Call) -> Result<Reply, Refusal> {
        let reply = self.send(call).await?;
        if call.expect.contains(&reply.status) {
            Ok(reply)
        } else {
            Err(format!(
                "{} {} answered {} (expected {:?}): {}",
                call.method,
                call.uri,
                reply.status,
                call.expect,
                excerpt(&reply.body)
            ))
        }
    }

    /// `GET relative`, expecting 200 and a JSON body.
    pub(crate) async fn get_json(&mut self, relative: &str) -> Result<Value, Refusal> {
        let call = Call::get(self.uri(relative)?);
        let reply = self.expect(&call).await?;
        parse_json(&reply.body, relative)
    }

    /// `POST [type]` of `json`, expecting 201; returns the id the server assigned.
    pub(crate) async fn create(
        &mut self,
        resource_type: &str,
        json: &str,
    ) -> Result<String, Refusal> {
        let call = Call::with_body(
            Method::POST,
            self.uri(resource_type)?,
            Bytes::copy_from_slice(json.as_bytes()),
            &[201],
        );
        let reply = self.expect(&call).await?;
        id_from_reply(&reply, resource_type)
            .ok_or_else(|| format!("POST {resource_type}: no id in Location or body"))
    }

    /// `PUT [type]/[id]` of `json`, expecting 200 or 201 (update-as-create).
    pub(crate) async fn put(
        &mut self,
        resource_type: &str,
        id: &str,
        json: &str,
    ) -> Result<Reply, Refusal> {
        let call = Call::with_body(
            Method::PUT,
            self.uri(&format!("{resource_type}/{id}"))?,
            Bytes::copy_from_slice(json.as_bytes()),
            &[200, 201],
        );
        self.expect(&call).await
    }
}

pub(crate) fn parse_json(body: &[u8], what: &str) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|error| format!("{what}: the answer is not JSON: {error}"))
}

/// The start of a body, for refusal messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.replace('\n', " ")
}
