//! Binary resources as their own content: written in their own media type, read back in it
//! when the client asks for it rather than for FHIR.
//! Spec: https://hl7.org/fhir/R4/binary.html#rest

use axum::http::{Method, StatusCode};
use sonic_rs::JsonValueTrait;

use crate::support::{Reply, TestApp};

/// POSTs `text` as a `text/plain` body to the Binary endpoint; returns the new id.
async fn post_text(app: &TestApp, text: &str) -> String {
    let created = app
        .request(Method::POST, "/fhir/Binary")
        .header("content-type", "text/plain")
        .body(text.to_owned())
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    created.json()["id"].as_str().unwrap().to_owned()
}

async fn read_as(app: &TestApp, uri: &str, accept: &str) -> Reply {
    app.request(Method::GET, uri)
        .header("accept", accept)
        .send()
        .await
}

// binary.html#rest: "When binary data is written to the server (create/update - POST or PUT),
// the data is accepted as is and treated as the binary data in the Binary resource", and
// "when a read request is made for the binary resource that doesn't explicitly specify the
// FHIR content types … then the content should be returned using the native content type".
#[tokio::test]
async fn a_binary_posted_in_its_own_media_type_reads_back_as_such_or_as_fhir() {
    let app = TestApp::start().await;
    let id = post_text(&app, "hello").await;

    let native = read_as(&app, &format!("/fhir/Binary/{id}"), "text/plain").await;
    assert_eq!(native.status, StatusCode::OK);
    assert_eq!(native.header("content-type"), Some("text/plain"));
    assert_eq!(native.text(), "hello");
    assert_eq!(native.etag(), r#"W/"1""#);

    let resource = read_as(&app, &format!("/fhir/Binary/{id}"), "application/fhir+json").await;
    assert_eq!(resource.status, StatusCode::OK);
    let json = resource.json();
    assert_eq!(json["contentType"].as_str(), Some("text/plain"));
    assert_eq!(json["data"].as_str(), Some("aGVsbG8="));
}

#[tokio::test]
async fn a_binary_put_in_its_own_media_type_keeps_the_url_id_and_bytes() {
    let app = TestApp::start().await;
    let png = [0x89_u8, b'P', b'N', b'G', 0, 1, 2, 255];
    let written = app
        .request(Method::PUT, "/fhir/Binary/picture1")
        .header("content-type", "image/png")
        .body(png.to_vec())
        .send()
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.text());

    let native = read_as(&app, "/fhir/Binary/picture1", "image/*").await;
    assert_eq!(native.status, StatusCode::OK);
    assert_eq!(native.header("content-type"), Some("image/png"));
    assert_eq!(native.body.as_ref(), png);
}

// Neither a FHIR format nor the Binary's own type: nothing acceptable to answer with.
#[tokio::test]
async fn a_binary_read_as_another_media_type_is_406() {
    let app = TestApp::start().await;
    let id = post_text(&app, "hello").await;

    read_as(&app, &format!("/fhir/Binary/{id}"), "image/png")
        .await
        .outcome(StatusCode::NOT_ACCEPTABLE);
    // Other types keep answering 406 to a non-FHIR Accept.
    read_as(&app, "/fhir/Patient/nobody", "text/plain")
        .await
        .outcome(StatusCode::NOT_ACCEPTABLE);
}

// A megabyte of content is an ordinary file: its base64 is not words, and is not put in
// the `_content` full-text document (which PostgreSQL would refuse at that size).
#[tokio::test]
async fn a_binary_of_a_megabyte_of_random_bytes_is_stored_and_read_back() {
    let app = TestApp::start().await;
    let mut state: u32 = 12_345;
    let bytes: Vec<u8> = (0..1_000_000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        })
        .collect();
    let written = app
        .request(Method::PUT, "/fhir/Binary/large1")
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.text());

    let native = read_as(&app, "/fhir/Binary/large1", "application/octet-stream").await;
    assert_eq!(native.status, StatusCode::OK);
    assert!(
        native.body.as_ref() == bytes.as_slice(),
        "the bytes read back differ"
    );
}

// binary.html: contentType is the "MimeType of the binary content", served back as the
// Content-Type of a native read; a header that is no media type is refused, not stored.
#[tokio::test]
async fn a_binary_whose_content_type_is_no_media_type_is_400_and_not_stored() {
    let app = TestApp::start().await;
    for content_type in ["garbage", "text/", "/plain", "text/plain; charset"] {
        let reply = app
            .request(Method::POST, "/fhir/Binary")
            .header("content-type", content_type)
            .body("hello")
            .send()
            .await;
        reply.outcome(StatusCode::BAD_REQUEST);
    }
    assert_eq!(app.versions_written().await, 0);
    // Parameters and upper case are media types too.
    let reply = app
        .request(Method::POST, "/fhir/Binary")
        .header("content-type", "Text/Plain; charset=utf-8")
        .body("hello")
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
}
