//! The PoolRouter actor: owns the database pools and publishes which one each kind of work
//! uses, so handlers pick a pool without a round trip through any mailbox.
//!
//! Today there is one pool (the primary); replicas and read-your-writes routing land here
//! later without changing callers, who ask [`Routing::for_reads`] / [`Routing::for_writes`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use storage::Store;

/// How often the router checks that the primary answers. Today the result is only logged on
/// change (/readyz asks the database itself); replica routing will act on it.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// The routing table handlers read; replaced whole when it changes.
pub struct Routing {
    primary: Store,
}

impl Routing {
    pub fn for_reads(&self) -> &Store {
        &self.primary
    }

    pub fn for_writes(&self) -> &Store {
        &self.primary
    }
}

/// The published routing table: cloned by handlers, swapped by the PoolRouter.
#[derive(Clone)]
pub struct RoutingHandle(Arc<RwLock<Arc<Routing>>>);

impl RoutingHandle {
    pub(crate) fn new(primary: Store) -> RoutingHandle {
        let routing = Routing { primary };
        RoutingHandle(Arc::new(RwLock::new(Arc::new(routing))))
    }

    /// The current table. The lock is held only to clone an `Arc`.
    pub fn current(&self) -> Arc<Routing> {
        match self.0.read() {
            Ok(routing) => Arc::clone(&routing),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

pub(crate) struct PoolRouter;

#[derive(Debug)]
pub(crate) enum PoolRouterMessage {
    /// Sent by the router to itself every PROBE_INTERVAL.
    Probe,
}

impl std::fmt::Display for PoolRouterMessage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Probe")
    }
}

pub(crate) struct PoolRouterState {
    routing: RoutingHandle,
    /// The last probe's result, so only changes are logged.
    primary_healthy: bool,
}

impl Actor for PoolRouter {
    type Msg = PoolRouterMessage;
    type State = PoolRouterState;
    type Arguments = RoutingHandle;

    /// Runs once at spawn: starts the probe timer.
    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        routing: RoutingHandle,
    ) -> Result<PoolRouterState, ActorProcessingErr> {
        myself.send_interval(PROBE_INTERVAL, || PoolRouterMessage::Probe);
        Ok(PoolRouterState {
            routing,
            primary_healthy: true,
        })
    }

    /// Runs per probe: checks that the primary answers with the expected schema.
    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut PoolRouterState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PoolRouterMessage::Probe => {
                let healthy = state.routing.current().primary.is_ready().await;
                if healthy != state.primary_healthy {
                    tracing::warn!(healthy, "primary database health changed");
                }
                state.primary_healthy = healthy;
            }
        }
        Ok(())
    }
}
