//! The app over a real TCP socket with an HTTP client: create then read, concurrent creates
//! that each get their own id, and the requests HTTP itself refuses answered with an
//! OperationOutcome.
//! Spec: https://hl7.org/fhir/R4/http.html#create, http.html#read

use std::collections::HashSet;

use sonic_rs::{JsonValueTrait, Value};

use crate::support::TestApp;

/// POSTs a Patient through `client` and returns the response's status, Location and body.
async fn check(client: &reqwest::Client, base: &str) -> (u16, String, Value) {
    let response = client
        .post(format!("{base}/Patient"))
        .header("content-type", "application/fhir+json")
        .body(r#"{"resourceType":"Patient","active":true}"#)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.expect("a body");
    (status, location, sonic_rs::from_slice(&body).expect("JSON"))
}

#[tokio::test]
async fn create_then_read_over_a_socket() {
    let app = TestApp::start().await;
    let address = app.serve().await;
    let base = format!("http://{address}/fhir");
    let client = reqwest::Client::new();

    let (status, location, created) = check(&client, &base).await;

    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("{base}/Patient/{id}/_history/1"));
    let read = client
        .get(format!("{base}/Patient/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(read.headers()["etag"], r#"W/"1""#);
    let body: Value = sonic_rs::from_slice(&read.bytes().await.unwrap()).unwrap();
    assert_eq!(body, created);
}

#[tokio::test]
async fn concurrent_creates_all_succeed_with_distinct_ids() {
    let app = TestApp::start().await;
    let address = app.serve().await;
    let base = format!("http://{address}/fhir");
    let client = reqwest::Client::new();

    let creates: Vec<_> = (0..32)
        .map(|_| {
            let client = client.clone();
            let base = base.clone();
            tokio::spawn(async move { check(&client, &base).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for create in creates {
        let (status, _, created) = create.await.unwrap();
        assert_eq!(status, 201, "{created:?}");
        ids.insert(created["id"].as_str().unwrap().to_owned());
    }

    assert_eq!(ids.len(), 32);
    assert_eq!(app.versions_written().await, 32);
}

/// Sends `request` as raw bytes and reads the answer until the server closes.
async fn raw(address: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("a connection");
    stream
        .write_all(request)
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("an answer");
    String::from_utf8_lossy(&answer).into_owned()
}

// http.html: an error answer carries an OperationOutcome, also when HTTP itself refuses the
// request before any handler runs (a URL over 64 KB, 200 headers, an unreadable request line).
#[tokio::test]
async fn requests_http_refuses_are_answered_with_an_operation_outcome() {
    let app = TestApp::start().await;
    let address = app.serve().await;
    let long_url = format!(
        "GET /fhir/Patient?name={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    let many_headers = format!(
        "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|index| format!("X-A{index}: b\r\n"))
            .collect::<String>()
    );
    for (request, status) in [
        (long_url.as_bytes(), "414"),
        (many_headers.as_bytes(), "431"),
        (b"GARBAGE\r\n\r\n".as_slice(), "400"),
    ] {
        let answer = raw(address, request).await;
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(
            head.contains("content-type: application/fhir+json"),
            "{head}"
        );
        let outcome: Value = sonic_rs::from_str(body).expect("a JSON body");
        assert_eq!(outcome["resourceType"].as_str(), Some("OperationOutcome"));
        assert_eq!(outcome["issue"][0]["severity"].as_str(), Some("error"));
    }
}
