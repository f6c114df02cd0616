//! A chain's page listed grouped by the resource the chain goes through: the targets that
//! meet the inner criterion in id order, and under each the resources referring to it, in id
//! order. The order a search without `_sort` takes when it has such a chain.
//! Spec: https://hl7.org/fhir/R4/search.html#chaining (no order is defined without `_sort`)
//! Measurements: docs/benchmarks.md, "Chains grouped by their target".
//!
//! In id order, a page of `Observation?subject:Patient.name=miller` needs every match before
//! the first 50 are known: at a million resources 676 Patients and their 8,538 Observations,
//! 7 to 20 ms a page however the plan goes (probed or drawn, `filter.rs`). Grouped by
//! Patient, the page reads the sorted 676 Patient ids and the Observations of the first few:
//! PostgreSQL walks the targets in order and each one's reference rows from the index in id
//! order, and stops after a page (an incremental sort on the presorted target key).
//!
//! A resource must not appear under two targets, or it would be listed twice; so only a
//! chain through a reference that holds one resource at most (`Observation.subject`, not
//! `Observation.performer`) and to one target type is grouped. A chain of two levels or more
//! is not: grouped by Organization then Encounter, PostgreSQL estimated one Encounter per
//! Organization and sorted every match instead of streaming them (`encounter.service-provider
//! .name=quincy`: 96 ms, against 5.6 ms for the probe of `probe.rs` that such chains keep).

use engine::search::{Criterion, ParamRef, SearchQuery};
use engine::ResourceType;

use super::filter::Filter;
use super::keys::ResourceKey;
use super::sort::OrderKey;
use super::sql::{self, SqlBuilder};

/// The rows of a grouped page, aliased `r` in the page query, and the order they are paged in.
pub(crate) struct Grouped {
    /// Its source is a relation of the owners' keys (`tenant_key`, `resource_type`, `id`) and
    /// their target's id (`target_id`); its condition, the search's other criteria on the
    /// owner's key.
    pub(crate) filter: Filter,
    /// The target's id, then the owner's id.
    pub(crate) keys: Vec<OrderKey>,
}

/// The grouped page of `query`, when it has no `_sort`, searches one type, and has a chain
/// that can be grouped (the first such chain drives the page; the other criteria apply to
/// its matches).
pub(crate) fn grouped(sql: &mut SqlBuilder, query: &SearchQuery) -> Option<Grouped> {
    if !query.sort.is_empty() {
        return None;
    }
    let [owner_type] = query.scope.types()[..] else {
        return None;
    };
    let (driver, (param, target_type, inner)) = query
        .criteria
        .iter()
        .enumerate()
        .find_map(|(index, criterion)| Some((index, groupable(criterion, owner_type)?)))?;
    let owner_name = sql.bind(owner_type.as_str().to_owned());
    let target_name = sql.bind(target_type.as_str().to_owned());
    let targets = targets_meeting(sql, &target_name, inner);
    let code = sql.bind(param.code().to_owned());
    let source = format!(
        "(SELECT c.tenant_key, c.resource_type, c.id, t.id AS target_id FROM {targets} t \
         CROSS JOIN LATERAL (SELECT c.tenant_key, c.resource_type, c.id FROM search_reference c \
         WHERE c.tenant_key = $1 AND c.resource_type = {owner_name} AND c.param = {code} \
         AND c.target_type = {target_name} AND c.target_id = t.id) c)"
    );
    let mut conditions = vec![
        "r.tenant_key = $1".to_owned(),
        format!("r.resource_type = {owner_name}"),
    ];
    // Reference rows exist only for live resources, so the owners need no check of their
    // own; the page query reads each page row's body from a live resource row anyway.
    // The other criteria are left to PostgreSQL to plan. Fenced to be tested on each match
    // as it streams by, a common code was quicker, a rare one slower, as it then tested every
    // match of the chain (`subject:Patient.name=williams&code=`: 2571-8, 23,724 code rows:
    // 16 ms planned, 6 ms fenced; a code no Observation has: 23 ms fenced).
    let owner = ResourceKey::owner_of("r");
    for (index, criterion) in query.criteria.iter().enumerate() {
        if index != driver {
            conditions.push(sql::criterion(sql, &owner, criterion));
        }
    }
    let keys = ["r.target_id", "r.id"]
        .into_iter()
        .map(|expression| OrderKey {
            expression: expression.to_owned(),
            sql_type: "text",
            descending: false,
        })
        .collect();
    Some(Grouped {
        filter: Filter {
            source,
            condition: conditions.join(" AND "),
        },
        keys,
    })
}

/// The parameter, target type and inner criterion of `criterion` when it is a one-level
/// chain from resources of `owner_type` that can be grouped (see the module documentation).
fn groupable(
    criterion: &Criterion,
    owner_type: ResourceType,
) -> Option<(ParamRef, ResourceType, &Criterion)> {
    let Criterion::Chain { param, targets } = criterion else {
        return None;
    };
    match &targets[..] {
        [(target_type, inner)]
            if !matches!(inner, Criterion::Chain { .. })
                && param.is_single_reference(owner_type) =>
        {
            Some((*param, *target_type, inner))
        }
        _ => None,
    }
}

/// The keys of the resources of type `target_name` (a bound placeholder) that meet `inner`,
/// each once: from the inner criterion's index rows where it has them, else from the
/// resources themselves.
fn targets_meeting(sql: &mut SqlBuilder, target_name: &str, inner: &Criterion) -> String {
    if let Some(rows) = sql::index_rows(sql, inner) {
        return rows.owners(target_name);
    }
    let target = sql.alias("t");
    let condition = sql::criterion(sql, &ResourceKey::row(&target), inner);
    format!(
        "(SELECT {target}.tenant_key, {target}.resource_type, {target}.id FROM resource {target} \
         WHERE {target}.tenant_key = $1 AND {target}.resource_type = {target_name} \
         AND NOT {target}.deleted AND {condition})"
    )
}
