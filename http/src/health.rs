//! Kubernetes probes: `/healthz` (the process serves) and `/readyz` (the database answers
//! with the schema this binary expects, so traffic may be sent here).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::Category;

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) async fn healthz() -> Response {
    json(StatusCode::OK, r#"{"status":"alive"}"#)
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    if state.ember().routing().for_reads().is_ready().await {
        json(StatusCode::OK, r#"{"status":"ready"}"#)
    } else {
        ApiError::new(
            Category::Unavailable,
            "the database is unreachable or its schema is not migrated",
        )
        .into_response()
    }
}

fn json(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
