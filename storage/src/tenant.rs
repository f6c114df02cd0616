//! The tenant key every row of tenant data carries.

/// The key of a tenant in every table (`tenant_key integer`).
///
/// An integer rather than the tenant's name because it is part of every primary key and
/// index entry, where 4 bytes beat a string on every one of millions of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantKey(i32);

impl TenantKey {
    /// The tenant every request belongs to until tenant routing lands; created by migration 1.
    pub const DEFAULT: TenantKey = TenantKey(1);

    pub fn get(self) -> i32 {
        self.0
    }
}

impl std::fmt::Display for TenantKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0)
    }
}
