//! The Tenant supervisor: spawns one writer per resource type in use and restarts any that
//! fails, publishing the current writers so callers reach them without asking the Tenant.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use engine::ResourceType;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use storage::TenantKey;

use crate::names;
use crate::pool_router::RoutingHandle;
use crate::writer::{Writer, WriterArguments, WriterMessage};

/// The writers of one tenant, readable without a mailbox round trip.
pub(crate) type WriterDirectory = Arc<RwLock<HashMap<ResourceType, ActorRef<WriterMessage>>>>;

pub(crate) struct Tenant;

pub(crate) struct TenantArguments {
    pub(crate) system: u64,
    pub(crate) tenant: TenantKey,
    pub(crate) routing: RoutingHandle,
    pub(crate) writers: WriterDirectory,
}

pub(crate) struct TenantState {
    arguments: TenantArguments,
}

/// Everything that can reach a Tenant.
pub(crate) enum TenantMessage {
    /// Returns the writer of a type, spawning it on first use.
    EnsureWriter(
        ResourceType,
        RpcReplyPort<Result<ActorRef<WriterMessage>, String>>,
    ),
}

impl std::fmt::Display for TenantMessage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TenantMessage::EnsureWriter(resource_type, _) => {
                write!(formatter, "EnsureWriter({resource_type})")
            }
        }
    }
}

impl Actor for Tenant {
    type Msg = TenantMessage;
    type State = TenantState;
    type Arguments = TenantArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        arguments: TenantArguments,
    ) -> Result<TenantState, ActorProcessingErr> {
        Ok(TenantState { arguments })
    }

    /// Runs per message; spawning a writer is the only work, and happens once per type.
    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TenantMessage::EnsureWriter(resource_type, reply) => {
                let existing = read_directory(&state.arguments.writers)
                    .get(&resource_type)
                    .cloned();
                let writer = match existing {
                    Some(writer) => Ok(writer),
                    None => spawn_writer(&myself, state, resource_type).await,
                };
                let _ = reply.send(writer);
            }
        }
        Ok(())
    }

    /// Runs when a writer stops or fails: a failed writer is replaced at once, so the next
    /// write of its type finds a live writer.
    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, Some(error.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, None),
            _ => return Ok(()),
        };
        let failed_type = read_directory(&state.arguments.writers)
            .iter()
            .find(|(_, writer)| writer.get_id() == cell.get_id())
            .map(|(resource_type, _)| *resource_type);
        let Some(resource_type) = failed_type else {
            return Ok(());
        };
        write_directory(&state.arguments.writers).remove(&resource_type);
        match failure {
            Some(reason) => {
                metrics::counter!("ember_writer_restarts_total", "resource_type" => resource_type.as_str()).increment(1);
                tracing::error!(%resource_type, tenant = %state.arguments.tenant, %reason, "writer failed; restarting it");
                if let Err(error) = spawn_writer(&myself, state, resource_type).await {
                    tracing::error!(%resource_type, %error, "writer could not be restarted; the next write will try again");
                }
            }
            None => tracing::debug!(%resource_type, "writer stopped"),
        }
        Ok(())
    }
}

async fn spawn_writer(
    myself: &ActorRef<TenantMessage>,
    state: &mut TenantState,
    resource_type: ResourceType,
) -> Result<ActorRef<WriterMessage>, String> {
    let arguments = &state.arguments;
    let name = names::writer(arguments.system, arguments.tenant, resource_type);
    let writer_arguments = WriterArguments {
        tenant: arguments.tenant,
        resource_type,
        routing: arguments.routing.clone(),
    };
    let (writer, _join) =
        Actor::spawn_linked(Some(name), Writer, writer_arguments, myself.get_cell())
            .await
            .map_err(|error| error.to_string())?;
    write_directory(&arguments.writers).insert(resource_type, writer.clone());
    Ok(writer)
}

fn read_directory(
    writers: &WriterDirectory,
) -> std::sync::RwLockReadGuard<'_, HashMap<ResourceType, ActorRef<WriterMessage>>> {
    writers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_directory(
    writers: &WriterDirectory,
) -> std::sync::RwLockWriteGuard<'_, HashMap<ResourceType, ActorRef<WriterMessage>>> {
    writers
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn lookup_writer(
    writers: &WriterDirectory,
    resource_type: ResourceType,
) -> Option<ActorRef<WriterMessage>> {
    read_directory(writers).get(&resource_type).cloned()
}
