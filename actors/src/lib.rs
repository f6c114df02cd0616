//! Ember's supervision tree (ractor): Root → Tenant → ResourceType writers, and the
//! PoolRouter that owns the database pools.
//!
//! Actors own state and lifecycle; the request path reads what they publish. A read never
//! queues behind an actor: it takes the routing table ([`Ember::routing`]) and queries the
//! store directly. A write goes through exactly one mailbox, its type's writer, which is what
//! lets concurrent writes share a commit.

mod error;
mod names;
mod pool_router;
mod root;
mod tenant;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use engine::ResourceType;
use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, MessagingErr};
use storage::model::{WriteOutcome, WriteRequest};
use storage::{Store, TenantKey};

pub use error::Error;
pub use pool_router::{Routing, RoutingHandle};
pub use writer::{WriterMessage, MAX_FLUSHES_IN_FLIGHT};

use root::{Root, RootArguments, RootMessage, TenantDirectory};
use tenant::{lookup_writer, TenantMessage};

/// Distinguishes actor names of several Ember instances in one process (tests do that).
static NEXT_SYSTEM: AtomicU64 = AtomicU64::new(1);

/// A running actor system: the handle the HTTP layer holds.
pub struct Ember {
    root: ActorRef<RootMessage>,
    routing: RoutingHandle,
    tenants: TenantDirectory,
}

impl Ember {
    /// Starts the supervision tree over `primary`.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when an actor fails to start.
    pub async fn start(primary: Store) -> Result<Ember, Error> {
        let system = NEXT_SYSTEM.fetch_add(1, Ordering::Relaxed);
        let routing = RoutingHandle::new(primary);
        let tenants = TenantDirectory::default();
        let arguments = RootArguments {
            system,
            routing: routing.clone(),
            tenants: tenants.clone(),
        };
        let (root, _join) = Actor::spawn(Some(names::root(system)), Root, arguments)
            .await
            .map_err(|error| {
                Error::Unavailable(format!("root supervisor did not start: {error}"))
            })?;
        Ok(Ember {
            root,
            routing,
            tenants,
        })
    }

    /// The current routing table: which store serves reads and which takes writes.
    pub fn routing(&self) -> Arc<Routing> {
        self.routing.current()
    }

    /// Applies one write through its type's writer and returns after the commit.
    ///
    /// # Errors
    /// The write's own failure (a failed precondition, a database error), or
    /// [`Error::WriterRestarted`] / [`Error::Overloaded`], after which nothing was written.
    pub async fn write(
        &self,
        tenant: TenantKey,
        resource_type: ResourceType,
        request: WriteRequest,
    ) -> Result<WriteOutcome, Error> {
        let mut request = request;
        // A writer that stopped between lookup and send hands the request back untouched;
        // one retry with a fresh writer covers a restart without the client noticing.
        for _attempt in 0..2 {
            let writer = self.writer(tenant, resource_type).await?;
            match writer
                .call(|reply| WriterMessage::Write(request, reply), None)
                .await
            {
                Ok(CallResult::Success(result)) => return result,
                Ok(CallResult::SenderError) => {
                    return Err(Error::WriterRestarted { resource_type })
                }
                Ok(CallResult::Timeout) => {
                    return Err(Error::Unavailable("write timed out".into()))
                }
                Err(MessagingErr::SendErr(WriterMessage::Write(returned, _))) => {
                    request = returned;
                    tokio::task::yield_now().await;
                }
                Err(error) => {
                    return Err(Error::Unavailable(format!("writer unreachable: {error}")))
                }
            }
        }
        Err(Error::WriterRestarted { resource_type })
    }

    async fn writer(
        &self,
        tenant: TenantKey,
        resource_type: ResourceType,
    ) -> Result<ActorRef<WriterMessage>, Error> {
        let entry = self
            .tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant)
            .cloned()
            .ok_or_else(|| Error::Unavailable(format!("tenant {tenant} is not running")))?;
        if let Some(writer) = lookup_writer(&entry.writers, resource_type) {
            return Ok(writer);
        }
        match entry
            .actor
            .call(
                |reply| TenantMessage::EnsureWriter(resource_type, reply),
                None,
            )
            .await
        {
            Ok(CallResult::Success(Ok(writer))) => Ok(writer),
            Ok(CallResult::Success(Err(error))) => {
                Err(Error::Unavailable(format!("writer did not start: {error}")))
            }
            _ => Err(Error::Unavailable(format!(
                "tenant {tenant} supervisor unreachable"
            ))),
        }
    }

    /// Stops every actor; commits already in flight still finish and answer their callers.
    pub async fn shutdown(&self) {
        let _ = self.root.stop_and_wait(Some("shutdown".into()), None).await;
    }

    /// Makes the writer of `resource_type` panic after the messages already in its mailbox.
    #[cfg(feature = "fault-injection")]
    pub async fn crash_writer(
        &self,
        tenant: TenantKey,
        resource_type: ResourceType,
    ) -> Result<(), Error> {
        let writer = self.writer(tenant, resource_type).await?;
        writer
            .send_message(WriterMessage::Crash)
            .map_err(|error| Error::Unavailable(error.to_string()))
    }
}
