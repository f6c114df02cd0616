//! Test support: a real Ember served in-process on a loopback port (over a fresh PostgreSQL
//! database, as ember-http's own tests do), and fake FHIR servers for answers Ember does not
//! give (stalls, wrong Bundles).

use axum::Router;

/// Serves `router` on 127.0.0.1 at a free port for the rest of the test; returns the base URL.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/fhir")
}

/// Ember with its default settings over an empty database; returns the base URL.
pub(crate) async fn start_ember() -> String {
    let config = storage::testing::fresh_database().await;
    let store = storage::Store::connect(config, 8).expect("a connection pool");
    store.migrate().await.expect("migrations apply");
    let ember = actors::Ember::start(store).await.expect("the actors start");
    let state = ember_http::AppState::new(ember, ember_http::config::Settings::default());
    serve(ember_http::app(state)).await
}
