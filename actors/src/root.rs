//! The Root supervisor: starts the PoolRouter and one Tenant per tenant, and restarts either
//! when it fails.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use storage::TenantKey;

use crate::names;
use crate::pool_router::{PoolRouter, RoutingHandle};
use crate::tenant::{Tenant, TenantArguments, TenantMessage, WriterDirectory};

/// A tenant as callers reach it: its supervisor and its published writers.
#[derive(Clone)]
pub(crate) struct TenantEntry {
    pub(crate) actor: ActorRef<TenantMessage>,
    pub(crate) writers: WriterDirectory,
}

pub(crate) type TenantDirectory = Arc<RwLock<HashMap<TenantKey, TenantEntry>>>;

pub(crate) struct Root;

pub(crate) struct RootArguments {
    pub(crate) system: u64,
    pub(crate) routing: RoutingHandle,
    pub(crate) tenants: TenantDirectory,
}

/// Root takes no requests; it only supervises.
pub(crate) enum RootMessage {}

impl std::fmt::Display for RootMessage {
    fn fmt(&self, _formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl Actor for Root {
    type Msg = RootMessage;
    type State = RootArguments;
    type Arguments = RootArguments;

    /// Runs once: the PoolRouter first (writers need pools), then the default tenant.
    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        arguments: RootArguments,
    ) -> Result<RootArguments, ActorProcessingErr> {
        let router_name = names::pool_router(arguments.system);
        Actor::spawn_linked(
            Some(router_name),
            PoolRouter,
            arguments.routing.clone(),
            myself.get_cell(),
        )
        .await?;
        spawn_tenant(&myself, &arguments, TenantKey::DEFAULT).await?;
        Ok(arguments)
    }

    /// Runs when a child stops or fails; failed children are restarted.
    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut RootArguments,
    ) -> Result<(), ActorProcessingErr> {
        let SupervisionEvent::ActorFailed(cell, error) = event else {
            return Ok(());
        };
        let failed_tenant = state
            .tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(_, entry)| entry.actor.get_id() == cell.get_id())
            .map(|(tenant, _)| *tenant);
        match failed_tenant {
            Some(tenant) => {
                tracing::error!(%tenant, %error, "tenant supervisor failed; restarting it");
                spawn_tenant(&myself, state, tenant).await?;
            }
            None => {
                tracing::error!(%error, "pool router failed; restarting it");
                let router_name = names::pool_router(state.system);
                Actor::spawn_linked(
                    Some(router_name),
                    PoolRouter,
                    state.routing.clone(),
                    myself.get_cell(),
                )
                .await?;
            }
        }
        Ok(())
    }
}

async fn spawn_tenant(
    myself: &ActorRef<RootMessage>,
    arguments: &RootArguments,
    tenant: TenantKey,
) -> Result<(), ActorProcessingErr> {
    // A fresh directory: writers of a failed tenant supervisor went down with it.
    let writers = WriterDirectory::default();
    let tenant_arguments = TenantArguments {
        system: arguments.system,
        tenant,
        routing: arguments.routing.clone(),
        writers: writers.clone(),
    };
    let (actor, _join) = Actor::spawn_linked(
        Some(names::tenant(arguments.system, tenant)),
        Tenant,
        tenant_arguments,
        myself.get_cell(),
    )
    .await?;
    arguments
        .tenants
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(tenant, TenantEntry { actor, writers });
    Ok(())
}
