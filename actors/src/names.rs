//! Every actor name, in one place and in startup order, so logs and traces are greppable.
//!
//! Names are per `ActorSystem` instance (a `system` prefix), because ractor's registry is
//! process-global and tests run several Ember instances in one process.

use engine::ResourceType;
use storage::TenantKey;

pub(crate) fn root(system: u64) -> String {
    format!("ember{system}/root")
}

pub(crate) fn pool_router(system: u64) -> String {
    format!("ember{system}/pool-router")
}

pub(crate) fn tenant(system: u64, tenant: TenantKey) -> String {
    format!("ember{system}/tenant-{tenant}")
}

pub(crate) fn writer(system: u64, tenant: TenantKey, resource_type: ResourceType) -> String {
    format!("ember{system}/tenant-{tenant}/writer-{resource_type}")
}
