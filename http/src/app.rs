//! The router: every FHIR path and the operational endpoints, with the layers every request
//! passes through (panic catching, metrics, error normalisation).

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::{panic_response, ApiError};
use crate::health::{healthz, readyz};
use crate::interaction::{capabilities, create, delete, history, read, unsupported, update, vread};
use crate::observability::{metrics_endpoint, track};
use crate::state::AppState;

/// Builds the whole HTTP application; `main` serves it and tests drive it in-process.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/fhir",
            post(unsupported::batch_or_transaction).get(unsupported::search_system),
        )
        .route("/fhir/metadata", get(capabilities::capabilities))
        .route("/fhir/_history", get(history::system))
        .route(
            "/fhir/{resource_type}",
            post(create::create).get(unsupported::search_type),
        )
        .route(
            "/fhir/{resource_type}/_search",
            post(unsupported::search_type),
        )
        .route("/fhir/{resource_type}/_history", get(history::type_level))
        .route(
            "/fhir/{resource_type}/{id}",
            get(read::read)
                .put(update::update)
                .delete(delete::delete)
                .patch(unsupported::patch),
        )
        .route(
            "/fhir/{resource_type}/{id}/_history",
            get(history::instance),
        )
        .route(
            "/fhir/{resource_type}/{id}/_history/{version_id}",
            get(vread::vread),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_endpoint))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(track))
        .layer(TraceLayer::new_for_http())
        // Outermost, so a panic anywhere inside, middleware included, becomes a 500.
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("There is nothing at this path; the FHIR base is /fhir")
}

async fn method_not_allowed() -> ApiError {
    ApiError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        "This HTTP method is not supported at this path",
    )
}
