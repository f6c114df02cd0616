//! Canonical references in chains and `_has`: a reference that names a resource by its `url`
//! (and `version` after `|`), not by type and id.
//! Spec: https://hl7.org/fhir/R4/references.html#canonical, search.html#chaining,
//! search.html#has
//!
//! A canonical reference's index row has a URL and no local target (`engine::index`), so
//! the reference index alone cannot say which resource it names: that takes the `url` rows
//! of `search_uri` and, for a versioned reference, the `version` rows of `search_token`, as
//! `_include` and `_revinclude` read them (`include.rs`). A reference without a version names
//! every version with its URL.

use engine::definitions::has_canonical_url;
use engine::search::{Criterion, ParamRef};

use super::keys::{requires_index_row, same_resource, ResourceKey};
use super::sql::{self, SqlBuilder};

/// Whether `reference` may name one of its target types by canonical URL. Only then do a
/// chain or a `_has` through it need the conditions below: a chain through
/// `Observation.subject` keeps its plain lookup by target id.
pub(crate) fn may_name_by_url(reference: ParamRef) -> bool {
    reference
        .definition
        .target
        .iter()
        .any(|target| has_canonical_url(target))
}

/// The condition on the reference row `reference` that it names, by canonical URL, a live
/// resource of type `target_type` (a bound placeholder) meeting `inner`: the chain's step
/// for references without a local target.
pub(crate) fn chain_step(
    sql: &mut SqlBuilder,
    reference: &str,
    target_type: &str,
    inner: &Criterion,
) -> String {
    let named = sql.alias("u");
    let target = ResourceKey::owner_of(&named);
    let version = version_named(sql, &target, &format!("{reference}.version"));
    // `url` rows exist only for live resources, as every index row; an inner criterion that
    // needs no index row of its own (`:missing=true`, `_id`) needs the resource row.
    let target_meets_inner = if requires_index_row(inner) {
        sql::criterion(sql, &target, inner)
    } else {
        let row = sql.alias("t");
        let inner_condition = sql::criterion(sql, &ResourceKey::row(&row), inner);
        format!(
            "EXISTS (SELECT 1 FROM resource {row} WHERE {} AND NOT {row}.deleted AND {inner_condition})",
            same_resource(&row, &target)
        )
    };
    format!(
        "({reference}.target_id IS NULL AND EXISTS (SELECT 1 FROM search_uri {named} \
         WHERE {named}.tenant_key = {reference}.tenant_key AND {named}.resource_type = {target_type} \
         AND {named}.param = 'url' AND {named}.value = {reference}.url \
         AND {version} AND {target_meets_inner}))"
    )
}

/// For a `_has`: `FROM` the reference rows `link` of resources of type `source_type`,
/// through parameter `code` (both bound placeholders), that name `resource` by one of its
/// canonical URLs, and the condition tying them to it. The caller adds the conditions on
/// the referring resource.
pub(crate) fn referrers(
    sql: &mut SqlBuilder,
    resource: &ResourceKey,
    link: &str,
    source_type: &str,
    code: &str,
) -> (String, String) {
    let named = sql.alias("u");
    let from = format!(
        "search_uri {named} JOIN search_reference {link} ON {link}.tenant_key = {named}.tenant_key \
         AND {link}.resource_type = {source_type} AND {link}.param = {code} \
         AND {link}.url = {named}.value AND {link}.target_id IS NULL"
    );
    let version = version_named(sql, resource, &format!("{link}.version"));
    let condition = format!(
        "{} AND {named}.param = 'url' AND {version}",
        same_resource(&named, resource)
    );
    (from, condition)
}

/// The condition that the version a reference names (`version`, an SQL expression, null when
/// it names none) is the version of `resource`.
fn version_named(sql: &mut SqlBuilder, resource: &ResourceKey, version: &str) -> String {
    let row = sql.alias("v");
    format!(
        "({version} IS NULL OR EXISTS (SELECT 1 FROM search_token {row} WHERE {} \
         AND {row}.param = 'version' AND {row}.code = {version}))",
        same_resource(&row, resource)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(resource_type: &str, code: &str) -> ParamRef {
        ParamRef {
            definition: engine::definitions::search_parameter(resource_type, code)
                .expect("an R4 parameter"),
        }
    }

    #[test]
    fn only_references_to_canonical_resources_may_name_them_by_url() {
        assert!(may_name_by_url(param(
            "QuestionnaireResponse",
            "questionnaire"
        )));
        assert!(may_name_by_url(param("PlanDefinition", "definition")));
        // Patient, Group, Device, Location: the `_has` of the load tests stays a lookup by id.
        assert!(!may_name_by_url(param("Observation", "subject")));
    }
}
