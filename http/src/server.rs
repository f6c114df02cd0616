//! The server's lifecycle: database (embedded or external), migrations, actors, HTTP, and an
//! orderly shutdown that stops them in reverse.

use std::future::Future;
use std::str::FromStr;
use std::time::Instant;

use actors::Ember;
use axum::serve::ListenerExt;
use storage::{EmbeddedOptions, EmbeddedPostgres, Store};
use tokio::net::TcpListener;
use tracing::info;

use crate::app::app;
use crate::config::Settings;
use crate::protocol_errors::OutcomeListener;
use crate::state::AppState;
use crate::Error;

/// Runs Ember on `listener` until `shutdown` completes, then drains in-flight requests,
/// stops the actors and, if Ember started it, the embedded PostgreSQL cluster.
///
/// # Errors
/// When the database cannot be started, reached or migrated, or the actors do not start.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let started = Instant::now();
    let address = listener.local_addr().map_err(Error::Listen)?;
    // Two servers on one socket, one after the other: while the database starts and migrates,
    // a server of `health::while_starting` answers on a duplicate of the listener; the app's
    // own server takes over once it is ready, so its hot path carries no "started yet?" test.
    let listener = listener.into_std().map_err(Error::Listen)?;
    let during_startup = listener.try_clone().map_err(Error::Listen)?;
    let listener = TcpListener::from_std(listener).map_err(Error::Listen)?;
    let (started_up, startup_over) = tokio::sync::oneshot::channel::<()>();
    let startup_server = tokio::spawn(async move {
        let listener = TcpListener::from_std(during_startup)?;
        axum::serve(listener, crate::health::while_starting())
            .with_graceful_shutdown(async {
                let _ = startup_over.await;
            })
            .await
    });
    // Listening for the signal from the start: a SIGTERM (a pod deleted during a long
    // migration) or SIGINT before Ember is ready ends the start-up, not the process in the
    // middle of it. Dropping the start-up closes its connections (PostgreSQL rolls back a
    // migration under way) and stops an embedded cluster it started.
    let mut shutdown = Box::pin(shutdown);
    let opened = tokio::select! {
        opened = start_database(&settings) => Some(opened),
        () = &mut shutdown => None,
    };
    let _ = started_up.send(());
    // Its connections are closed once their requests are answered; probes reconnect.
    match startup_server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(Error::Listen(error)),
        Err(panicked) => return Err(Error::Listen(std::io::Error::other(panicked))),
    }
    let Some(opened) = opened else {
        info!("stopped before it was ready");
        return Ok(());
    };
    let (store, embedded, applied) = opened?;
    let database_connections = store.pool_usage().max_size;
    let ember = Ember::start(store).await?;
    let state = AppState::new(ember, settings.clone());
    info!(
        fhir_base = %format!("http://{address}/fhir"),
        migrations_applied = applied,
        embedded_postgres = embedded.is_some(),
        database_connections,
        startup_ms = started.elapsed().as_millis() as u64,
        "Ember is ready"
    );
    // Responses are written whole; Nagle's algorithm would only hold back the last segment
    // of a large one until the client acknowledges the previous.
    let listener = OutcomeListener(listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    }));
    let served = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Listen);
    info!("HTTP server stopped; stopping actors");
    state.ember().shutdown().await;
    // Close the pool's connections before PostgreSQL goes away, so neither side logs the
    // other vanishing.
    drop(state);
    if let Some(cluster) = embedded {
        info!("stopping embedded PostgreSQL");
        cluster.stop().await?;
    }
    served
}

/// The database, started if embedded, and migrated; with the number of migrations applied.
async fn start_database(
    settings: &Settings,
) -> Result<(Store, Option<EmbeddedPostgres>, usize), Error> {
    let (store, embedded) = open_database(settings).await?;
    let applied = store.migrate().await?;
    Ok((store, embedded, applied))
}

async fn open_database(settings: &Settings) -> Result<(Store, Option<EmbeddedPostgres>), Error> {
    match &settings.database_url {
        Some(url) => {
            let config = tokio_postgres::Config::from_str(url).map_err(|error| {
                Error::Config(format!("database_url is not a PostgreSQL URL: {error}"))
            })?;
            Ok((Store::connect(config, settings.pool_connections())?, None))
        }
        None => {
            let cluster = EmbeddedPostgres::start(EmbeddedOptions::new(&settings.data_dir)).await?;
            let store = Store::connect(cluster.connection_config(), settings.pool_connections())?;
            Ok((store, Some(cluster)))
        }
    }
}

/// Resolves on SIGINT or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => info!("SIGINT received; shutting down"),
        _ = terminate => info!("SIGTERM received; shutting down"),
    }
}
