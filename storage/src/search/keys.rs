//! The keys conditions are written against: the resource a condition is about, and the index
//! rows a criterion looks for, which can stand in for the resource row they belong to.
//! Measurements: docs/benchmarks.md, "Search at a million resources".

use engine::search::{Criterion, Modifier};

/// The resource a condition is about, as SQL expressions of its key: the columns of a
/// `resource` row, or the key an index row holds of the resource it belongs to or refers to.
///
/// Inside a chain or `_has`, an inner criterion that needs an index row of the inner
/// resource is tested against that key directly, without reading the inner resource's row:
/// index rows exist only while their resource is live (a delete removes them), so the index
/// row already proves what the resource row would. At a million resources the row lookups
/// were most of a chain's time (23,332 Encounters read one by one for a two-level chain).
#[derive(Debug, Clone)]
pub(crate) struct ResourceKey {
    pub(crate) tenant_key: String,
    pub(crate) resource_type: String,
    pub(crate) id: String,
    /// The alias of the `resource` row itself, when the key is that row's own.
    pub(crate) row: Option<String>,
}

impl ResourceKey {
    /// The key of the `resource` row aliased `alias`.
    pub(crate) fn row(alias: &str) -> ResourceKey {
        ResourceKey {
            tenant_key: format!("{alias}.tenant_key"),
            resource_type: format!("{alias}.resource_type"),
            id: format!("{alias}.id"),
            row: Some(alias.to_owned()),
        }
    }

    /// The resource the index row `alias` belongs to.
    pub(crate) fn owner_of(alias: &str) -> ResourceKey {
        ResourceKey {
            row: None,
            ..ResourceKey::row(alias)
        }
    }

    /// The resource of type `type_name` (a bound placeholder) that the reference row
    /// `reference` points to.
    pub(crate) fn referenced_by(reference: &str, type_name: &str) -> ResourceKey {
        ResourceKey {
            tenant_key: format!("{reference}.tenant_key"),
            resource_type: type_name.to_owned(),
            id: format!("{reference}.target_id"),
            row: None,
        }
    }
}

/// `alias` joined to the resource `key`: same tenant, type and id.
pub(crate) fn same_resource(alias: &str, key: &ResourceKey) -> String {
    format!(
        "{alias}.tenant_key = {} AND {alias}.resource_type = {} AND {alias}.id = {}",
        key.tenant_key, key.resource_type, key.id
    )
}

/// Whether a resource meeting `criterion` must have a row in an index table: then the
/// criterion alone proves the resource live.
pub(crate) fn requires_index_row(criterion: &Criterion) -> bool {
    match criterion {
        Criterion::Values {
            param, modifier, ..
        } => *modifier != Modifier::Not && !matches!(param.code(), "_id" | "_lastUpdated"),
        Criterion::Missing { missing, .. } => !missing,
        Criterion::Chain { .. } => true,
        // The row `_has` needs is the referring resource's: it may still refer to this one
        // after this one was deleted.
        Criterion::Has { .. } => false,
        Criterion::AnyOf(criteria) => criteria.iter().all(requires_index_row),
        // A List may name deleted resources; the compartment owner itself has no link row.
        Criterion::List(_) | Criterion::Compartment { .. } => false,
    }
}

/// The index rows a criterion looks for, not yet tied to a resource: a table, its alias, and
/// the condition on the rows' own columns.
///
/// Tied to a resource they are an `EXISTS`. Without one they can also be the rows a page is
/// drawn from (`owners`): a search whose criterion needs an index row then reads the
/// matching rows' keys straight from that index, instead of walking the `resource` primary
/// key and testing each resource against the index (at a million resources, a chain's
/// fallback looked up 8,560 candidate Observations one by one: 17 of its 27 ms).
#[derive(Debug)]
pub(crate) struct IndexRows {
    pub(crate) table: &'static str,
    pub(crate) alias: String,
    pub(crate) condition: String,
    /// Where the rows are read from when they are drawn (`owners`, `fewer_than`) rather than
    /// looked up for one resource: a subquery with the table's columns that reads only
    /// part of an index range (`wide_dates::bounded_or_wide`), or `None` for `table`. Looked
    /// up by a resource's key, such a subquery was scanned whole for each resource: its
    /// `UNION ALL` took none of the key's conditions (0.9 s for a Patient's Observations
    /// over five years at a million resources).
    pub(crate) drawn_from: Option<String>,
}

impl IndexRows {
    /// `EXISTS` such a row of the resource `resource`.
    pub(crate) fn exist_for(&self, resource: &ResourceKey) -> String {
        format!(
            "EXISTS (SELECT 1 FROM {} {} WHERE {} AND {})",
            self.table,
            self.alias,
            same_resource(&self.alias, resource),
            self.condition
        )
    }

    /// `EXISTS` such a row of the resource `resource`, tested for each row PostgreSQL filters
    /// (see `sql::tested_per_row`) and found from the resource's key first: a resource has
    /// few rows, and its key finds them in the table's unique index. Left to choose, the
    /// planner scanned the value index over the criterion's whole range for each candidate
    /// (657 name rows for each of 1,291 Observations of a two-level chain: 137 ms).
    pub(crate) fn exist_for_each(&self, resource: &ResourceKey) -> String {
        let alias = &self.alias;
        format!(
            "EXISTS (SELECT 1 FROM (SELECT * FROM {} {alias} WHERE {} OFFSET 0) {alias} \
             WHERE {} OFFSET 0)",
            self.table,
            same_resource(alias, resource),
            self.condition
        )
    }

    /// The keys of the resources of type `type_name` (a bound placeholder) that own such a
    /// row, each once: a table with the columns of a resource key.
    pub(crate) fn owners(&self, type_name: &str) -> String {
        let alias = &self.alias;
        format!(
            "(SELECT DISTINCT {alias}.tenant_key, {alias}.resource_type, {alias}.id {})",
            self.of_type(type_name)
        )
    }

    /// The same as `owners`, from the first `budget` rows alone: all of them when there are
    /// fewer, which is when a page drawn from them is exact (`fewer_than`). Bounded so, the
    /// planner plans for at most `budget` rows, not for its estimate of the whole range.
    pub(crate) fn owners_within(&self, type_name: &str, budget: i64) -> String {
        let alias = &self.alias;
        format!(
            "(SELECT DISTINCT tenant_key, resource_type, id FROM \
             (SELECT {alias}.tenant_key, {alias}.resource_type, {alias}.id {} LIMIT {budget}) {alias})",
            self.of_type(type_name)
        )
    }

    /// Whether fewer than `budget` (a bound placeholder) such rows exist for resources of
    /// type `type_name`: a condition PostgreSQL evaluates once, before the query it guards
    /// runs, reading at most `budget` rows.
    pub(crate) fn fewer_than(&self, type_name: &str, budget: &str) -> String {
        format!(
            "(SELECT count(*) FROM (SELECT 1 {} LIMIT {budget}) within_budget) < {budget}",
            self.of_type(type_name)
        )
    }

    /// `FROM … WHERE …` of such rows of resources of type `type_name` in the tenant `$1`.
    fn of_type(&self, type_name: &str) -> String {
        let IndexRows {
            table,
            alias,
            condition,
            drawn_from,
        } = self;
        let source = drawn_from.as_deref().unwrap_or(table);
        format!(
            "FROM {source} {alias} WHERE {alias}.tenant_key = $1 \
             AND {alias}.resource_type = {type_name} AND {condition}"
        )
    }
}
