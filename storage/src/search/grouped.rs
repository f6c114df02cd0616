//! A chain's page listed grouped by the resources the chain goes through: the targets that
//! meet the inner criterion in id order, and under each the resources referring to it, in id
//! order. The order a search without `_sort` takes when it has such a chain.
//! Spec: https://hl7.org/fhir/R4/search.html#chaining (no order is defined without `_sort`)
//! Measurements: docs/benchmarks.md, "Chains grouped by their target" and "Chains of two
//! steps walked in group order".
//!
//! In id order, a page of `Observation?subject:Patient.name=miller` needs every match before
//! the first 50 are known: at a million resources 676 Patients and their 8,538 Observations,
//! 7 to 20 ms a page however the plan goes (probed or drawn, `filter.rs`). Grouped by
//! Patient, the page reads the sorted 676 Patient ids and the Observations of the first few.
//!
//! A resource must not appear under two targets, or it would be listed twice; so only a
//! chain through references that hold one resource at most (`Observation.subject`, not
//! `Observation.performer`), each to one target type, is grouped.
//!
//! Two forms:
//! - `walk_chain`: a search whose only criterion is such a chain, of any depth. Its page is
//!   the first rows of a nested loop over fenced, id-ordered subqueries (targets, then each
//!   level's referring resources), so it stops after a page without sorting any level.
//!   Left an `ORDER BY` over the levels, PostgreSQL estimates one referring resource per
//!   target and sorts every match (`Observation?encounter.service-provider.name=quincy`:
//!   23,332 Encounters and 58,258 Observations sorted, 226 ms; walked, 2.3 ms).
//! - `grouped`: a one-level chain with other criteria. Those are left to PostgreSQL to plan
//!   (tested on each match as the walk streams by, a rare one would be tested on every match
//!   of the chain), so its order comes from an `ORDER BY`: an incremental sort on the
//!   presorted target key, small groups (one Patient's Observations). Deeper chains with
//!   other criteria keep the probe of `probe.rs`.

use engine::definitions::has_canonical_url;
use engine::search::{Criterion, ParamRef, SearchQuery};
use engine::ResourceType;

use super::filter::Filter;
use super::keys::ResourceKey;
use super::sort::{Direction, OrderKey};
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
    let (driver, (param, target_type, inner)) =
        query
            .criteria
            .iter()
            .enumerate()
            .find_map(|(index, criterion)| {
                let (param, target_type, inner) = step(criterion, owner_type)?;
                // Deeper chains with other criteria are probed (`probe.rs`).
                (!matches!(inner, Criterion::Chain { .. }))
                    .then_some((index, (param, target_type, inner)))
            })?;
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
            exact_when: None,
        },
        keys,
    })
}

/// The parameter, target type and inner criterion of `criterion` when it is a chain from
/// resources of `owner_type` whose first step can be grouped (see the module documentation).
fn step(
    criterion: &Criterion,
    owner_type: ResourceType,
) -> Option<(ParamRef, ResourceType, &Criterion)> {
    let Criterion::Chain { param, targets } = criterion else {
        return None;
    };
    match &targets[..] {
        // A target with a canonical URL may be named by it, not by the id this walks.
        [(target_type, inner)]
            if param.is_single_reference(owner_type)
                && !has_canonical_url(target_type.as_str()) =>
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

/// A search whose only criterion is a chain through single references (see the module
/// documentation), paged by walking the chain's levels in group order.
pub(crate) struct WalkedChain<'query> {
    /// From the searched type outwards: each step's parameter, the type it is a parameter
    /// of, and the one type it refers to.
    steps: Vec<(ParamRef, ResourceType, ResourceType)>,
    /// The criterion on the last step's targets.
    inner: &'query Criterion,
}

/// The walked chain of `query` when it has no `_sort`, searches one type, and its one
/// criterion is a chain that can be grouped at every step.
pub(crate) fn walk_chain(query: &SearchQuery) -> Option<WalkedChain<'_>> {
    let ([owner_type], [criterion]) = (&query.scope.types()[..], &query.criteria[..]) else {
        return None;
    };
    if !query.sort.is_empty() {
        return None;
    }
    let mut steps = Vec::new();
    let (mut from, mut criterion) = (*owner_type, criterion);
    while let Some((param, target_type, inner)) = step(criterion, from) {
        steps.push((param, from, target_type));
        (from, criterion) = (target_type, inner);
    }
    (!steps.is_empty()).then_some(WalkedChain {
        steps,
        inner: criterion,
    })
}

impl WalkedChain<'_> {
    /// The page's order, outermost target first: the id of each step's target, from the last
    /// step to the first, then the resource's own id.
    pub(crate) fn keys(&self) -> Vec<OrderKey> {
        (0..=self.steps.len())
            .map(|level| OrderKey {
                expression: format!("page.k{level}"),
                sql_type: "text",
                descending: false,
            })
            .collect()
    }

    /// The statement of one page of at most `limit` (a bound placeholder) matches, beyond
    /// `cursor` (one id per key) in `direction`: the columns the page query of `mod.rs` has
    /// (type, id, body, then the keys as text), in page order.
    ///
    /// PostgreSQL returns a nested loop's rows in its outer side's order, and for each outer
    /// row in its inner side's; here every level is a subquery with its own `ORDER BY` and
    /// an `OFFSET 0`, which keeps it from being pulled up, reordered or run in parallel, and
    /// each level but the first is `LATERAL` to the one before it, so it can only be the
    /// inner side of the loop that feeds it. The first rows of the loop are thus the page,
    /// in order, without a sort over any level (the module documentation says why that
    /// matters); the final `ORDER BY` sorts only the page.
    pub(crate) fn page_statement(
        &self,
        sql: &mut SqlBuilder,
        cursor: Option<&[String]>,
        direction: Direction,
        limit: &str,
    ) -> String {
        let (descending, beyond, at_or_beyond) = match direction {
            Direction::After => ("", ">", ">="),
            Direction::Before => (" DESC", "<", "<="),
        };
        let cursor: Option<Vec<String>> =
            cursor.map(|values| values.iter().map(|value| sql.bind(value.clone())).collect());
        let depth = self.steps.len();
        let (_, _, outermost_type) = self.steps[depth - 1];
        let outermost_name = sql.bind(outermost_type.as_str().to_owned());
        let targets = targets_meeting(sql, &outermost_name, self.inner);
        let first_bound = cursor.as_ref().map_or_else(String::new, |cursor| {
            format!(" WHERE t.id {at_or_beyond} {}", cursor[0])
        });
        let mut levels = format!(
            "(SELECT t.id FROM {targets} t{first_bound} ORDER BY t.id{descending} OFFSET 0) g0"
        );
        for level in 1..=depth {
            let (param, owner_type, target_type) = self.steps[depth - level];
            let owner_name = sql.bind(owner_type.as_str().to_owned());
            let target_name = sql.bind(target_type.as_str().to_owned());
            let code = sql.bind(param.code().to_owned());
            // Within the group the cursor points into, only the rows beyond it; the cursor's
            // own row is a match of the previous page, so the last level excludes it.
            let bound = cursor.as_ref().map_or_else(String::new, |cursor| {
                let at_cursor: Vec<String> = (0..level)
                    .map(|outer| format!("g{outer}.id = {}", cursor[outer]))
                    .collect();
                let comparison = if level == depth { beyond } else { at_or_beyond };
                format!(
                    " AND (NOT ({}) OR x.id {comparison} {})",
                    at_cursor.join(" AND "),
                    cursor[level]
                )
            });
            levels.push_str(&format!(
                " CROSS JOIN LATERAL (SELECT x.resource_type, x.id FROM search_reference x \
                 WHERE x.tenant_key = $1 AND x.resource_type = {owner_name} AND x.param = {code} \
                 AND x.target_type = {target_name} AND x.target_id = g{}.id{bound} \
                 ORDER BY x.id{descending} OFFSET 0) g{level}",
                level - 1
            ));
        }
        let key_columns: String = (0..=depth)
            .map(|level| format!(", g{level}.id AS k{level}"))
            .collect();
        super::with_bodies(
            &format!(
                "SELECT g{depth}.resource_type, g{depth}.id{key_columns} FROM {levels} LIMIT {limit}"
            ),
            &self.keys(),
            direction,
        )
    }
}
