//! Test support: an Ember app over a fresh PostgreSQL database (no mocks), driven in-process
//! through the router, and the request and response helpers the specification modules share.
//! Spec: https://hl7.org/fhir/R4/http.html

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use ember_http::config::Settings;
use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};
use tower::ServiceExt;

/// The Host every in-process request carries, so Location and fullUrl are predictable.
pub(crate) const HOST: &str = "ember.test";
/// The FHIR base URL clients of [`TestApp`] see.
pub(crate) const BASE: &str = "http://ember.test/fhir";

/// Ember over its own empty database.
pub(crate) struct TestApp {
    router: Router,
}

impl TestApp {
    /// An app with the default settings.
    pub(crate) async fn start() -> TestApp {
        TestApp::with_settings(Settings::default()).await
    }

    pub(crate) async fn with_settings(settings: Settings) -> TestApp {
        let config = storage::testing::fresh_database().await;
        let store = storage::Store::connect(config, 8).expect("a connection pool");
        store.migrate().await.expect("migrations apply");
        let ember = actors::Ember::start(store).await.expect("the actors start");
        let state = ember_http::AppState::new(ember, settings);
        TestApp {
            router: ember_http::app(state),
        }
    }

    /// Serves the same app on a real TCP socket (127.0.0.1, a free port) for the rest of
    /// the test.
    pub(crate) async fn serve(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        let router = self.router.clone();
        let listener = ember_http::OutcomeListener(listener);
        tokio::spawn(async move { axum::serve(listener, router).await });
        address
    }

    pub(crate) fn request(&self, method: Method, uri: &str) -> Call<'_> {
        Call {
            app: self,
            request: Request::builder()
                .method(method)
                .uri(uri)
                .header(header::HOST, HOST),
            body: Body::empty(),
        }
    }

    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.request(Method::GET, uri).send().await
    }

    pub(crate) async fn post(&self, uri: &str, json: &str) -> Reply {
        self.request(Method::POST, uri).json(json).send().await
    }

    /// POSTs `form` as `application/x-www-form-urlencoded` (a search's form body).
    pub(crate) async fn post_form(&self, uri: &str, form: impl Into<Body>) -> Reply {
        self.request(Method::POST, uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
    }

    pub(crate) async fn put(&self, uri: &str, json: &str) -> Reply {
        self.request(Method::PUT, uri).json(json).send().await
    }

    pub(crate) async fn delete(&self, uri: &str) -> Reply {
        self.request(Method::DELETE, uri).send().await
    }

    /// Creates `json` (POST to its resourceType) and returns the id the server assigned.
    pub(crate) async fn create(&self, json: &str) -> String {
        let resource: Value = sonic_rs::from_str(json).expect("fixture is JSON");
        let resource_type = resource["resourceType"]
            .as_str()
            .expect("fixture has a type");
        let reply = self.post(&format!("/fhir/{resource_type}"), json).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["id"].as_str().expect("an id").to_owned()
    }

    /// The entries of one history page, asserting it is a history Bundle.
    pub(crate) async fn history(&self, uri: &str) -> Vec<Value> {
        let reply = self.get(uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let bundle = reply.json();
        assert_eq!(bundle["resourceType"].as_str(), Some("Bundle"));
        assert_eq!(bundle["type"].as_str(), Some("history"));
        entries(&bundle)
    }

    /// Every version of every resource in the database: the check that a refused request
    /// wrote nothing.
    pub(crate) async fn versions_written(&self) -> usize {
        self.history("/fhir/_history?_count=1000").await.len()
    }
}

/// A request being built; sent with [`Call::send`].
pub(crate) struct Call<'a> {
    app: &'a TestApp,
    request: axum::http::request::Builder,
    body: Body,
}

impl Call<'_> {
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub(crate) fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// A FHIR JSON body with its Content-Type.
    pub(crate) fn json(self, json: &str) -> Self {
        self.header("content-type", "application/fhir+json")
            .body(json.to_owned())
    }

    pub(crate) async fn send(self) -> Reply {
        let request = self.request.body(self.body).expect("a valid request");
        let response = self
            .app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the response body is readable");
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// A response, read completely.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("an ASCII header"))
    }

    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    pub(crate) fn json(&self) -> Value {
        sonic_rs::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {:?}", self.body))
    }

    /// Asserts that this is an error answered with `status` and an OperationOutcome in FHIR
    /// JSON, and returns its first issue.
    pub(crate) fn outcome(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_fhir_json(self);
        let outcome = self.json();
        assert_eq!(outcome["resourceType"].as_str(), Some("OperationOutcome"));
        let issue = outcome["issue"][0].clone();
        assert_eq!(issue["severity"].as_str(), Some("error"), "{}", self.text());
        assert!(issue["code"].as_str().is_some(), "{}", self.text());
        assert!(issue["diagnostics"].as_str().is_some(), "{}", self.text());
        issue
    }

    pub(crate) fn etag(&self) -> &str {
        self.header("etag").expect("an ETag")
    }
}

/// The response is FHIR R4 JSON.
pub(crate) fn assert_fhir_json(reply: &Reply) {
    let content_type = reply.header("content-type").expect("a Content-Type");
    assert!(
        content_type.starts_with("application/fhir+json"),
        "{content_type}"
    );
}

/// The entries of a Bundle (none: an empty list).
pub(crate) fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|entries| entries.iter().cloned().collect())
        .unwrap_or_default()
}

/// The URL of the Bundle link with `relation`, as a path this app can be asked for.
pub(crate) fn link(bundle: &Value, relation: &str) -> Option<String> {
    let links = bundle["link"].as_array()?;
    links
        .iter()
        .find(|link| link["relation"].as_str() == Some(relation))
        .map(|link| {
            let url = link["url"].as_str().expect("a link url");
            let path = url
                .strip_prefix("http://ember.test")
                .expect("an absolute URL on this server");
            path.to_owned()
        })
}
