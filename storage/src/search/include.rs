//! `_include` and `_revinclude`: one query per include parameter and iteration, never one
//! per resource.
//! Spec: https://hl7.org/fhir/R4/search.html#include

use std::collections::HashSet;

use engine::definitions::has_canonical_url;
use engine::index::CanonicalTarget;
use engine::search::{Include, SearchQuery};
use tokio_postgres::types::{ToSql, Type};

use super::plans::{self, Plan};
use super::{found, FoundResource};
use crate::pool::Client;
use crate::{Error, TenantKey};

/// `:iterate` follows references from included resources this many times at most, so a
/// cycle of references cannot run away.
pub const MAX_INCLUDE_ITERATIONS: usize = 4;

/// Included resources never exceed this many per page; beyond it the page is still correct
/// but the client must fetch the rest itself, and the page says so (`Included::truncated`).
pub const MAX_INCLUDED: usize = 1000;

/// The resources `_include` and `_revinclude` add to a page.
pub(crate) struct Included {
    pub(crate) resources: Vec<FoundResource>,
    /// Whether `MAX_INCLUDED` or `MAX_INCLUDE_ITERATIONS` cut the list short.
    pub(crate) truncated: bool,
}

pub(crate) async fn included(
    client: &Client,
    tenant: TenantKey,
    query: &SearchQuery,
    matches: &[FoundResource],
) -> Result<Included, Error> {
    let mut included = Included {
        resources: Vec::new(),
        truncated: false,
    };
    if matches.is_empty() || (query.includes.is_empty() && query.revincludes.is_empty()) {
        return Ok(included);
    }
    let iterates = query
        .includes
        .iter()
        .chain(&query.revincludes)
        .any(|include| include.iterate);
    let mut seen: HashSet<(String, String)> = matches
        .iter()
        .map(|resource| (resource.resource_type.clone(), resource.id.clone()))
        .collect();
    let mut frontier: Vec<FoundResource> = matches.to_vec();
    for iteration in 0..MAX_INCLUDE_ITERATIONS {
        let mut found_now = Vec::new();
        // A query that found more than it may return was cut by its LIMIT.
        let mut take = |rows: Vec<FoundResource>| {
            included.truncated |= rows.len() > MAX_INCLUDED;
            found_now.extend(rows);
        };
        for include in query
            .includes
            .iter()
            .filter(|include| iteration == 0 || include.iterate)
        {
            take(
                forward(
                    client,
                    tenant,
                    include,
                    query.local_base.as_deref(),
                    &frontier,
                )
                .await?,
            );
        }
        for include in query
            .revincludes
            .iter()
            .filter(|include| iteration == 0 || include.iterate)
        {
            take(reverse(client, tenant, include, &frontier).await?);
        }
        frontier = found_now
            .into_iter()
            .filter(|resource| seen.insert((resource.resource_type.clone(), resource.id.clone())))
            .collect();
        let room = MAX_INCLUDED - included.resources.len();
        if frontier.len() > room {
            frontier.truncate(room);
            included.truncated = true;
        }
        included.resources.extend(frontier.iter().cloned());
        if frontier.is_empty() || !iterates || included.truncated {
            return Ok(included);
        }
    }
    // `:iterate` still found resources in the last round allowed: there may be more.
    included.truncated = true;
    Ok(included)
}

fn keys_of(resources: &[FoundResource], source_type: &str) -> Vec<String> {
    resources
        .iter()
        .filter(|resource| resource.resource_type == source_type)
        .map(|resource| resource.id.clone())
        .collect()
}

/// An include's statement, and how it is planned (`plans.rs`).
///
/// Each statement reads a resource's body once however many references lead to it: `forward`
/// removes duplicate targets before the statement, and the reverse statements remove
/// duplicate referrers by id before they read any body (a `DISTINCT` over the rows with
/// their bodies hashed or compared every body). The referrers are all of one type, so the
/// id alone tells them apart, and the sort for `DISTINCT` compares that one column.
struct IncludeStatement {
    sql: &'static str,
    plan: Plan,
}

/// The resources with the types `$2` and ids `$3`, looked up by primary key: the targets
/// `forward` found in the referring resources' bodies.
const FORWARD: IncludeStatement = IncludeStatement {
    sql: "SELECT t.resource_type, t.id, t.body
        FROM unnest($2::text[], $3::text[]) AS wanted(resource_type, id)
        JOIN resource t ON t.tenant_key = $1 AND t.resource_type = wanted.resource_type
            AND t.id = wanted.id AND NOT t.deleted
        LIMIT $4",
    plan: Plan::Generic,
};

/// The resources of the types `$2` whose `url` is `$3` and, where `$4` is not null, whose
/// `version` is `$4`: the targets of canonical references (references.html#canonical). A
/// resource that several of them name is read once. Rare next to local references, so
/// planned for its values.
const FORWARD_CANONICAL: IncludeStatement = IncludeStatement {
    sql: "SELECT t.resource_type, t.id, t.body FROM (SELECT DISTINCT u.resource_type, u.id
            FROM unnest($2::text[], $3::text[], $4::text[]) AS wanted(resource_type, url, version)
            JOIN search_uri u ON u.tenant_key = $1 AND u.resource_type = wanted.resource_type
                AND u.param = 'url' AND u.value = wanted.url
            WHERE wanted.version IS NULL OR EXISTS (SELECT 1 FROM search_token v
                WHERE v.tenant_key = $1 AND v.resource_type = u.resource_type AND v.id = u.id
                  AND v.param = 'version' AND v.code = wanted.version)) named
        JOIN resource t ON t.tenant_key = $1 AND t.resource_type = named.resource_type
            AND t.id = named.id AND NOT t.deleted
        LIMIT $5",
    plan: Plan::ForTheValues,
};

/// The resources that refer through the parameter `$4` (any, when null) by canonical URL to
/// the resources of type `$5` with the ids `$3`: a reference to their `url` with no version,
/// or with the version they have. Only for types with a canonical URL; planned for its
/// values, as `FORWARD_CANONICAL`.
const REVERSE_CANONICAL: IncludeStatement = IncludeStatement {
    sql: "SELECT s.resource_type, s.id, s.body FROM (SELECT DISTINCT x.id
            FROM search_uri u
            JOIN search_reference x ON x.tenant_key = $1 AND x.resource_type = $2
                AND ($4::text IS NULL OR x.param = $4) AND x.url = u.value
            WHERE u.tenant_key = $1 AND u.resource_type = $5 AND u.param = 'url'
              AND u.id = ANY($3)
              AND (x.version IS NULL OR EXISTS (SELECT 1 FROM search_token v
                  WHERE v.tenant_key = $1 AND v.resource_type = $5 AND v.id = u.id
                    AND v.param = 'version' AND v.code = x.version))) x
        JOIN resource s ON s.tenant_key = $1 AND s.resource_type = $2 AND s.id = x.id AND NOT s.deleted
        LIMIT $6",
    plan: Plan::ForTheValues,
};

/// The resources that refer through the parameter `$4` to resources with the ids `$3`: per
/// id, lookups in the parameter's target index. Kept for any values, `x.target_id = ANY($3)`
/// was planned as a filter over the parameter's every row (10,000 resources: 1.7 ms against
/// 0.12 ms, and 1,100 searches/s fell to 720).
const REVERSE_BY_PARAM: IncludeStatement = IncludeStatement {
    sql: "SELECT s.resource_type, s.id, s.body FROM (SELECT DISTINCT x.id
            FROM unnest($3::text[]) AS wanted(target_id)
            CROSS JOIN LATERAL (SELECT x.id FROM search_reference x
                WHERE x.tenant_key = $1 AND x.resource_type = $2 AND x.param = $4
                  AND x.target_id = wanted.target_id AND x.target_type = $5
                OFFSET 0) x) x
        JOIN resource s ON s.tenant_key = $1 AND s.resource_type = $2 AND s.id = x.id AND NOT s.deleted
        LIMIT $6",
    plan: Plan::Generic,
};

/// The same through any reference parameter (`_revinclude=Observation:*`). The target index
/// leads with the parameter, so no lookup per id serves, and the plan is left to
/// PostgreSQL's estimates for the values.
const REVERSE_ANY_PARAM: IncludeStatement = IncludeStatement {
    sql: "SELECT s.resource_type, s.id, s.body FROM (SELECT DISTINCT x.id
            FROM search_reference x
            WHERE x.tenant_key = $1 AND x.resource_type = $2 AND x.target_id = ANY($3)
              AND x.target_type = $5) x
        JOIN resource s ON s.tenant_key = $1 AND s.resource_type = $2 AND s.id = x.id AND NOT s.deleted
        LIMIT $6",
    plan: Plan::ForTheValues,
};

/// The resources that `include.source_type` resources among `from` refer to.
///
/// The references are read from the referring resources' bodies, which the page holds
/// already, with the expressions that index them (`engine::index::reference_targets`): one
/// statement then reads the targets by primary key. Looking them up in `search_reference`
/// first cost PostgreSQL about as much as reading the targets (`DiagnosticReport?_include=
/// DiagnosticReport:result` at a million resources: 258 of the statement's 734 buffers, and
/// a sort; docs/benchmarks.md, "Includes followed from the page's bodies").
async fn forward(
    client: &Client,
    tenant: TenantKey,
    include: &Include,
    local_base: Option<&str>,
    from: &[FoundResource],
) -> Result<Vec<FoundResource>, Error> {
    let code = include.param.map(|param| param.code());
    let wanted = |(target_type, _): &(String, String)| {
        include
            .target_type
            .is_none_or(|wanted| wanted.as_str() == target_type)
    };
    let wanted_canonical = |target: &CanonicalTarget| {
        include
            .target_type
            .is_none_or(|wanted| wanted == target.target_type)
    };
    let mut targets: Vec<(String, String)> = Vec::new();
    let mut canonical: Vec<CanonicalTarget> = Vec::new();
    let sources = from
        .iter()
        .filter(|resource| resource.resource_type == include.source_type.as_str());
    for source in sources {
        let body: sonic_rs::Value = match sonic_rs::from_slice(&source.body) {
            Ok(body) => body,
            Err(error) => {
                // Ember stores only bodies it parsed; one that no longer parses is damaged,
                // and its references cannot be known.
                tracing::warn!(%error, resource_type = %source.resource_type, id = %source.id,
                    "stored body does not parse; its references are not included");
                continue;
            }
        };
        let followed = engine::index::include_targets(include.source_type, &body, code, local_base);
        targets.extend(followed.local.into_iter().filter(wanted));
        canonical.extend(followed.canonical.into_iter().filter(wanted_canonical));
    }
    let mut resources = Vec::new();
    targets.sort_unstable();
    targets.dedup();
    if !targets.is_empty() {
        let (target_types, target_ids): (Vec<String>, Vec<String>) = targets.into_iter().unzip();
        let params: [(&(dyn ToSql + Sync), Type); 4] = [
            (&tenant.get(), Type::INT4),
            (&target_types, Type::TEXT_ARRAY),
            (&target_ids, Type::TEXT_ARRAY),
            (&LIMIT_PER_QUERY, Type::INT8),
        ];
        let rows = plans::query(client, FORWARD.sql, &params, FORWARD.plan).await?;
        resources.extend(rows.iter().map(found));
    }
    canonical.sort_unstable();
    canonical.dedup();
    if !canonical.is_empty() {
        let target_types: Vec<&str> = canonical
            .iter()
            .map(|target| target.target_type.as_str())
            .collect();
        let urls: Vec<&str> = canonical.iter().map(|target| target.url.as_str()).collect();
        let versions: Vec<Option<&str>> = canonical
            .iter()
            .map(|target| target.version.as_deref())
            .collect();
        let params: [(&(dyn ToSql + Sync), Type); 5] = [
            (&tenant.get(), Type::INT4),
            (&target_types, Type::TEXT_ARRAY),
            (&urls, Type::TEXT_ARRAY),
            (&versions, Type::TEXT_ARRAY),
            (&LIMIT_PER_QUERY, Type::INT8),
        ];
        let rows = plans::query(
            client,
            FORWARD_CANONICAL.sql,
            &params,
            FORWARD_CANONICAL.plan,
        )
        .await?;
        resources.extend(rows.iter().map(found));
    }
    Ok(resources)
}

/// The `include.source_type` resources that refer to resources among `from`.
async fn reverse(
    client: &Client,
    tenant: TenantKey,
    include: &Include,
    from: &[FoundResource],
) -> Result<Vec<FoundResource>, Error> {
    let source_type = include.source_type.as_str();
    let mut rows = Vec::new();
    let mut types: Vec<&str> = from
        .iter()
        .map(|resource| resource.resource_type.as_str())
        .collect();
    types.sort_unstable();
    types.dedup();
    for target_type in types {
        if include
            .target_type
            .is_some_and(|wanted| wanted.as_str() != target_type)
        {
            continue;
        }
        let ids = keys_of(from, target_type);
        let param = include.param.map(|param| param.code());
        let by_id = if param.is_some() {
            &REVERSE_BY_PARAM
        } else {
            &REVERSE_ANY_PARAM
        };
        let by_url = has_canonical_url(target_type).then_some(&REVERSE_CANONICAL);
        for statement in std::iter::once(by_id).chain(by_url) {
            let referrers = Referrers {
                source_type,
                ids: &ids,
                param,
                target_type,
            };
            rows.extend(run(client, statement, tenant, &referrers).await?);
        }
    }
    Ok(rows)
}

/// One more than `MAX_INCLUDED`, so a query that found more shows it.
const LIMIT_PER_QUERY: i64 = MAX_INCLUDED as i64 + 1;

/// What a reverse include statement looks for: resources of `source_type` referring, through
/// `param` (any reference parameter when `None`), to the resources of `target_type` with `ids`.
struct Referrers<'a> {
    source_type: &'a str,
    ids: &'a [String],
    param: Option<&'a str>,
    target_type: &'a str,
}

async fn run(
    client: &Client,
    statement: &IncludeStatement,
    tenant: TenantKey,
    referrers: &Referrers<'_>,
) -> Result<Vec<FoundResource>, Error> {
    let params: [(&(dyn ToSql + Sync), Type); 6] = [
        (&tenant.get(), Type::INT4),
        (&referrers.source_type, Type::TEXT),
        (&referrers.ids, Type::TEXT_ARRAY),
        (&referrers.param, Type::TEXT),
        (&referrers.target_type, Type::TEXT),
        (&LIMIT_PER_QUERY, Type::INT8),
    ];
    let rows = plans::query(client, statement.sql, &params, statement.plan).await?;
    Ok(rows.iter().map(found).collect())
}
