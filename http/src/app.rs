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
use crate::interaction::{
    bundle, capabilities, create, delete, history, patch, read, search, update, vread,
};
use crate::observability::{metrics_endpoint, track};
use crate::state::AppState;

/// Builds the whole HTTP application; `main` serves it and tests drive it in-process.
pub fn app(state: AppState) -> Router {
    let routes = fhir_routes()
        .route("/fhir", post(bundle::batch_or_transaction))
        .route("/fhir/", post(bundle::batch_or_transaction))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_endpoint))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    with_layers(routes).with_state(state)
}

/// The routes a batch or transaction entry is dispatched to: the FHIR interactions without
/// the layers (the Bundle's own request is the one measured and logged), where a nested
/// Bundle is refused.
pub(crate) fn entry_routes(state: AppState) -> Router {
    fhir_routes()
        .route("/fhir", post(bundle::nested_bundle))
        .route("/fhir/", post(bundle::nested_bundle))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Every FHIR interaction but POST to the base.
fn fhir_routes() -> Router<AppState> {
    Router::new()
        .route("/fhir", get(search::system_get))
        // The base has no trailing slash (http.html#root), but some clients add one
        // (fhir-kit-client's transaction() and system search): the same base either way.
        .route("/fhir/", get(search::system_get))
        .route("/fhir/_search", post(search::system_post))
        .route("/fhir/metadata", get(capabilities::capabilities))
        .route("/fhir/_history", get(history::system))
        .route(
            "/fhir/{resource_type}",
            post(create::create)
                .get(search::type_get)
                .put(update::conditional_update)
                .patch(patch::conditional_patch)
                .delete(delete::conditional_delete),
        )
        .route("/fhir/{resource_type}/_search", post(search::type_post))
        .route("/fhir/{resource_type}/_history", get(history::type_level))
        .route(
            "/fhir/{resource_type}/{id}",
            get(read::read)
                .put(update::update)
                .delete(delete::delete)
                .patch(patch::patch),
        )
        .route(
            "/fhir/{resource_type}/{id}/_history",
            get(history::instance),
        )
        .route(
            "/fhir/{compartment}/{id}/{resource_type}",
            get(search::compartment_get).post(search::compartment_post),
        )
        .route(
            "/fhir/{compartment}/{id}/{resource_type}/_search",
            post(search::compartment_post),
        )
        .route(
            "/fhir/{resource_type}/{id}/_history/{version_id}",
            get(vread::vread),
        )
}

/// The layers every request passes through, outermost last.
fn with_layers<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .layer(middleware::from_fn(track))
        .layer(TraceLayer::new_for_http())
        // Outermost, so a panic anywhere inside, middleware included, becomes a 500.
        .layer(CatchPanicLayer::custom(panic_response))
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_operation_outcome_and_the_server_keeps_serving() {
        let routes: Router = Router::new()
            .route(
                "/boom",
                get(|| async { panic!("handler bug") as &'static str }),
            )
            .route("/fine", get(|| async { "fine" }));
        let router = with_layers(routes);

        let response = router
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.starts_with(r#"{"resourceType":"OperationOutcome""#),
            "{text}"
        );
        assert!(text.contains(r#""code":"exception""#), "{text}");
        assert!(
            !text.contains("handler bug"),
            "the panic message stays in the log: {text}"
        );

        let response = router
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
