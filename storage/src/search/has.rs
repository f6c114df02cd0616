//! `_has`: resources that resources of another type refer to, where those meet an inner
//! criterion (`Patient?_has:Observation:subject:code=1234`).
//! Spec: https://hl7.org/fhir/R4/search.html#has
//! Measurements: docs/benchmarks.md, "A lone `_has` tested per Patient with a kept plan" and
//! "Token signatures on reference rows".

use engine::search::{Criterion, Modifier, ParamRef, SearchValue};
use engine::ResourceType;

use crate::token_signature;

use super::canonical;
use super::keys::{requires_index_row, ResourceKey};
use super::sql::{self, met_by_own_index_rows, table_of, tested_per_row, SqlBuilder};

/// The condition that some resource of `source_type` refers to `resource` through
/// `reference` and meets `inner`: by its type and id, or, where `reference` may name a
/// canonical resource, by its URL (`canonical.rs`).
pub(crate) fn condition(
    sql: &mut SqlBuilder,
    resource: &ResourceKey,
    source_type: ResourceType,
    reference: ParamRef,
    inner: &Criterion,
) -> String {
    let source_name = sql.bind(source_type.as_str().to_owned());
    let code = sql.bind(reference.code().to_owned());
    let by_id = referrers_exist(sql, resource, &source_name, &code, inner, Naming::ById);
    if !canonical::may_name_by_url(reference) {
        return by_id;
    }
    let by_url = referrers_exist(sql, resource, &source_name, &code, inner, Naming::ByUrl);
    if sql.per_row {
        // Fenced one by one: `sql::criterion` fences a lone `EXISTS` only.
        format!(
            "({} OR {})",
            tested_per_row(&by_id),
            tested_per_row(&by_url)
        )
    } else {
        format!("({by_id} OR {by_url})")
    }
}

/// How a reference names the resource it refers to.
#[derive(Clone, Copy)]
enum Naming {
    /// By type and id (`Patient/1`, or an absolute URL on this server's base).
    ById,
    /// By canonical URL, and version if given (`canonical.rs`).
    ByUrl,
}

/// `EXISTS` a resource of type `source_name` that refers to `resource` through the reference
/// parameter `code` (both bound placeholders), naming it as `naming` says, and meets `inner`.
fn referrers_exist(
    sql: &mut SqlBuilder,
    resource: &ResourceKey,
    source_name: &str,
    code: &str,
    inner: &Criterion,
    naming: Naming,
) -> String {
    let link = sql.alias("h");
    let (from, mut link_to_resource) = match naming {
        Naming::ByUrl => canonical::referrers(sql, resource, &link, source_name, code),
        Naming::ById => (
            format!("search_reference {link}"),
            format!(
                "{link}.tenant_key = {} AND {link}.resource_type = {source_name} \
                 AND {link}.param = {code} AND {link}.target_id = {} AND {link}.target_type = {}",
                resource.tenant_key, resource.id, resource.resource_type
            ),
        ),
    };
    if let Some(signed) = token_signature_condition(sql, &link, inner) {
        link_to_resource.push_str(" AND ");
        link_to_resource.push_str(&signed);
    }
    if requires_index_row(inner) {
        let inner_condition = sql::criterion(sql, &ResourceKey::owner_of(&link), inner);
        return format!(
            "EXISTS (SELECT 1 FROM {from} WHERE {link_to_resource} AND {inner_condition})"
        );
    }
    let source = sql.alias("s");
    let inner_condition = sql::criterion(sql, &ResourceKey::row(&source), inner);
    format!(
        "EXISTS (SELECT 1 FROM {from} JOIN resource {source} \
         ON {source}.tenant_key = {link}.tenant_key AND {source}.resource_type = {link}.resource_type \
         AND {source}.id = {link}.id AND NOT {source}.deleted \
         WHERE {link_to_resource} AND {inner_condition})"
    )
}

/// For a `_has` whose inner criterion is one or more token codes, the test of its reference
/// row `link` against both words of the referring resource's token signature
/// (`token_signature.rs`): a resource whose signature lacks a bit of every code has no token
/// row with any of them, and is passed over without looking its token rows up. `None` for
/// any other criterion.
fn token_signature_condition(
    sql: &mut SqlBuilder,
    link: &str,
    inner: &Criterion,
) -> Option<String> {
    let Criterion::Values {
        param,
        modifier: Modifier::None,
        values,
    } = inner
    else {
        return None;
    };
    if table_of(*param) != "search_token" || !met_by_own_index_rows(*param, Modifier::None) {
        return None;
    }
    let every_code_bits: Vec<token_signature::Signature> = values
        .iter()
        .map(|value| match value {
            SearchValue::Token {
                code: Some(code), ..
            } => Some(token_signature::bits(param.code(), code)),
            // `system|` alone, or a value of another kind: nothing to test the signature for.
            _ => None,
        })
        .collect::<Option<_>>()?;
    let tests: Vec<String> = every_code_bits
        .into_iter()
        .map(|bits| {
            let low = sql.bind(bits.low);
            let high = sql.bind(bits.high);
            format!(
                "(({link}.token_signature & {low}) = {low} \
                 AND ({link}.token_signature_high & {high}) = {high})"
            )
        })
        .collect();
    Some(format!("({})", tests.join(" OR ")))
}
