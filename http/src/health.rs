//! Kubernetes probes: `/healthz` (the process serves) and `/readyz` (the database answers
//! with the schema this binary expects, so traffic may be sent here), and what the listener
//! answers while Ember starts.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
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

/// The routes served while the database starts and migrates, before the app exists: the
/// process is alive, and nothing else is ready. A migration can take a minute at a million
/// resources (docs/operations.md, "Upgrading"); answered meanwhile, a liveness probe does not
/// restart the process mid-migration, which would roll the migration back and start it over.
pub(crate) fn while_starting() -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(starting)
}

async fn starting() -> Response {
    ApiError::new(
        Category::Unavailable,
        "Ember is starting: the database is starting or its schema is being migrated",
    )
    .into_response()
}

fn json(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
