//! Building a search's SQL: bound parameters, table aliases, and each criterion as a
//! condition on the resource row it filters.
//! Spec: https://hl7.org/fhir/R4/search.html
//!
//! Every criterion becomes an `EXISTS` over one index table, correlated with the resource
//! row by its key, so PostgreSQL can drive the plan from whichever index is most selective.
//! Chains and `_has` nest the same shape one level deeper per step.

use engine::definitions::{has_canonical_url, SearchParamType};
use engine::search::{Criterion, Modifier, ParamRef, SearchValue};
use engine::ResourceType;
use tokio_postgres::types::{ToSql, Type};

use super::canonical;
use super::filter;
use super::has;
use super::keys::{requires_index_row, same_resource, IndexRows, ResourceKey};
use super::values;
use super::wide_dates;

/// A value that can be bound, with the PostgreSQL type it is sent as. Searches are sent as
/// unnamed statements with their types (`query_typed`): one round trip, planned for the
/// actual values, and no per-connection statement cache for endless query shapes to grow.
pub(crate) trait Bindable: ToSql + Sync + Send + 'static {
    const TYPE: Type;
}

impl Bindable for String {
    const TYPE: Type = Type::TEXT;
}
impl Bindable for Vec<String> {
    const TYPE: Type = Type::TEXT_ARRAY;
}
impl Bindable for i64 {
    const TYPE: Type = Type::INT8;
}
impl Bindable for i32 {
    const TYPE: Type = Type::INT4;
}
impl Bindable for f64 {
    const TYPE: Type = Type::FLOAT8;
}
impl Bindable for time::OffsetDateTime {
    const TYPE: Type = Type::TIMESTAMPTZ;
}

/// SQL text under construction, with its bound parameters.
pub(crate) struct SqlBuilder {
    params: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
    next_alias: usize,
    /// While set, every criterion's `EXISTS` is written to be tested per row
    /// (`tested_per_row`): the probe of a chain of two levels or more, or of a `_has`.
    pub(crate) per_row: bool,
}

impl SqlBuilder {
    /// `$1` is always the tenant key.
    pub(crate) fn new(tenant_key: i32) -> SqlBuilder {
        SqlBuilder {
            params: vec![(Box::new(tenant_key), Type::INT4)],
            next_alias: 0,
            per_row: false,
        }
    }

    /// Binds `value` and returns its placeholder, e.g. `$3`.
    pub(crate) fn bind<T: Bindable>(&mut self, value: T) -> String {
        self.params.push((Box::new(value), T::TYPE));
        format!("${}", self.params.len())
    }

    pub(crate) fn alias(&mut self, prefix: &str) -> String {
        self.next_alias += 1;
        format!("{prefix}{}", self.next_alias)
    }

    pub(crate) fn typed_params(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.params
            .iter()
            .map(|(value, kind)| (value.as_ref() as &(dyn ToSql + Sync), kind.clone()))
            .collect()
    }
}

/// The index table holding values of parameters of `kind`.
pub(crate) fn table_for(kind: SearchParamType) -> &'static str {
    match kind {
        SearchParamType::String => "search_string",
        SearchParamType::Token => "search_token",
        SearchParamType::Date => "search_date",
        SearchParamType::Number => "search_number",
        SearchParamType::Quantity => "search_quantity",
        SearchParamType::Reference => "search_reference",
        SearchParamType::Uri => "search_uri",
        // `near`, the one special parameter: a position's latitude and longitude, as numbers.
        SearchParamType::Special => "search_number",
        // Composites are their parts, rows of their parts' tables.
        SearchParamType::Composite => "search_token",
    }
}

/// The index table holding values of `param`: its kind's, except for the full-text ones.
pub(crate) fn table_of(param: ParamRef) -> &'static str {
    if engine::search::is_full_text(param.code()) {
        "search_text"
    } else {
        table_for(param.kind())
    }
}

/// The condition `criterion` puts on the resource `resource`.
pub(crate) fn criterion(
    sql: &mut SqlBuilder,
    resource: &ResourceKey,
    criterion: &Criterion,
) -> String {
    if !sql.per_row {
        return condition_of(sql, resource, criterion);
    }
    match index_rows(sql, criterion) {
        // One value is looked up by the value and the resource's id in its id-ordered index:
        // one probe. Found from the resource's key first, every token row of each resource
        // was read (`Patient?_has:Observation:subject:code=…`, the code tested on each
        // referring Observation: 3.6 ms against 1.8 ms a page at 10,000 resources).
        Some(rows) if filter::is_one_value(criterion) => tested_per_row(&rows.exist_for(resource)),
        Some(rows) => rows.exist_for_each(resource),
        None => tested_per_row(&condition_of(sql, resource, criterion)),
    }
}

/// `exists`, an `EXISTS (…)` condition, as one PostgreSQL tests for each row it filters
/// (a correlated subplan) instead of planning it as a semi-join: `OFFSET 0` keeps the planner
/// from pulling the subquery up. Any other condition is returned as it is.
///
/// A walk that stops after a page then tests only the rows it walks, each by index lookups.
/// As semi-joins, PostgreSQL computed every match of a two-level chain before merging them
/// with the walk (58,258 Observations) or, estimating them as one row, recomputed them for
/// each candidate (22 s). Every `EXISTS` of the chain must be fenced: fencing only the
/// outer one left the inner ones recomputed per candidate (30 s).
pub(crate) fn tested_per_row(exists: &str) -> String {
    match exists.strip_suffix(')') {
        Some(open) if exists.starts_with("EXISTS (") => format!("{open} OFFSET 0)"),
        _ => exists.to_owned(),
    }
}

fn condition_of(sql: &mut SqlBuilder, resource: &ResourceKey, criterion: &Criterion) -> String {
    if let Some(rows) = index_rows(sql, criterion) {
        return rows.exist_for(resource);
    }
    match criterion {
        Criterion::Values {
            param,
            modifier,
            values,
        } => match param.code() {
            "_id" if *modifier == Modifier::Not => {
                format!("NOT {}", id_condition(sql, resource, values))
            }
            "_id" => id_condition(sql, resource, values),
            "_lastUpdated" => last_updated_condition(sql, resource, values),
            _ if param.kind() == SearchParamType::Composite => {
                let alternatives: Vec<String> = values
                    .iter()
                    .map(|value| values::composite(sql, resource, *param, value))
                    .collect();
                let matches = format!("({})", alternatives.join(" OR "));
                if *modifier == Modifier::Not {
                    format!("NOT {matches}")
                } else {
                    matches
                }
            }
            _ => format!(
                "NOT {}",
                values_rows(sql, *param, *modifier, values).exist_for(resource)
            ),
        },
        Criterion::Missing { param, missing } => {
            let alias = sql.alias("m");
            let code = sql.bind(param.code().to_owned());
            let mut present = format!(
                "EXISTS (SELECT 1 FROM {} {alias} WHERE {} AND {alias}.param = {code})",
                table_of(*param),
                same_resource(&alias, resource)
            );
            if param.kind() == SearchParamType::Reference {
                // A Reference with only an `identifier` has a value: its row is the token
                // row `:identifier` searches (index_rows.rs), not a reference row.
                let token = sql.alias("m");
                let identifier_code = sql.bind(format!("{}:identifier", param.code()));
                present = format!(
                    "({present} OR EXISTS (SELECT 1 FROM search_token {token} WHERE {} \
                     AND {token}.param = {identifier_code}))",
                    same_resource(&token, resource)
                );
            }
            if *missing {
                format!("NOT {present}")
            } else {
                present
            }
        }
        Criterion::Chain { param, targets } => chain_rows(sql, *param, targets).exist_for(resource),
        Criterion::Has {
            source_type,
            reference,
            inner,
        } => has::condition(sql, resource, *source_type, *reference, inner),
        Criterion::List(ids) => {
            let item = sql.alias("l");
            let list_ids = sql.bind(ids.clone());
            format!(
                "EXISTS (SELECT 1 FROM search_reference {item} JOIN resource list{item} \
                 ON list{item}.tenant_key = {item}.tenant_key AND list{item}.resource_type = 'List' \
                 AND list{item}.id = {item}.id AND NOT list{item}.deleted \
                 WHERE {item}.tenant_key = {} AND {item}.resource_type = 'List' \
                 AND {item}.id = ANY({list_ids}) AND {item}.param = 'item' \
                 AND {item}.target_type = {} AND {item}.target_id = {})",
                resource.tenant_key, resource.resource_type, resource.id
            )
        }
        Criterion::AnyOf(criteria) => {
            if let Some(condition) = compartment_across_types(sql, resource, criteria) {
                return condition;
            }
            let alternatives: Vec<String> = criteria
                .iter()
                .map(|inner| self::criterion(sql, resource, inner))
                .collect();
            format!("({})", alternatives.join(" OR "))
        }
        Criterion::Compartment {
            resource_type,
            owner_type,
            owner_id,
            params,
            owner_itself,
        } => {
            let mut alternatives = Vec::new();
            let searched_type = sql.bind(resource_type.as_str().to_owned());
            let owner_type_name = sql.bind(owner_type.as_str().to_owned());
            let owner = sql.bind(owner_id.clone());
            if *owner_itself {
                alternatives.push(format!(
                    "({} = {owner_type_name} AND {} = {owner})",
                    resource.resource_type, resource.id
                ));
            }
            if !params.is_empty() {
                let link = sql.alias("k");
                let codes = sql.bind(
                    params
                        .iter()
                        .map(|param| param.code().to_owned())
                        .collect::<Vec<_>>(),
                );
                alternatives.push(format!(
                    "EXISTS (SELECT 1 FROM search_reference {link} WHERE {} AND {link}.param = ANY({codes}) \
                     AND {link}.target_type = {owner_type_name} AND {link}.target_id = {owner})",
                    same_resource(&link, resource)
                ));
            }
            format!(
                "({} = {searched_type} AND ({}))",
                resource.resource_type,
                alternatives.join(" OR ")
            )
        }
    }
}

/// The index rows `criterion` needs a resource to have, when it is met exactly by having one:
/// a value criterion (not `:not`, not composite, not `_id` or `_lastUpdated`), `:missing=false`
/// and a chain.
pub(crate) fn index_rows(sql: &mut SqlBuilder, criterion: &Criterion) -> Option<IndexRows> {
    match criterion {
        Criterion::Values {
            param,
            modifier,
            values,
        } if met_by_own_index_rows(*param, *modifier) => {
            Some(values_rows(sql, *param, *modifier, values))
        }
        // A reference parameter's value may be a token row instead (`condition_of`).
        Criterion::Missing {
            param,
            missing: false,
        } if param.kind() != SearchParamType::Reference => {
            let alias = sql.alias("m");
            let code = sql.bind(param.code().to_owned());
            Some(IndexRows {
                table: table_of(*param),
                drawn_from: None,
                condition: format!("{alias}.param = {code}"),
                alias,
            })
        }
        Criterion::Chain { param, targets } => Some(chain_rows(sql, *param, targets)),
        _ => None,
    }
}

/// Whether a value criterion of `param` with `modifier` is met exactly by a row of
/// `param`'s index table (`values_rows`): not `:not`, not composite, not `_id` or
/// `_lastUpdated`, which are columns of the resource row.
pub(crate) fn met_by_own_index_rows(param: ParamRef, modifier: Modifier) -> bool {
    modifier != Modifier::Not
        && param.kind() != SearchParamType::Composite
        && !matches!(param.code(), "_id" | "_lastUpdated")
}

/// The reference rows of a chain: those of `param` whose target meets the inner criterion
/// of its type.
fn chain_rows(
    sql: &mut SqlBuilder,
    param: ParamRef,
    targets: &[(ResourceType, Criterion)],
) -> IndexRows {
    let reference = sql.alias("c");
    let code = sql.bind(param.code().to_owned());
    let mut alternatives = Vec::new();
    for (target_type, inner) in targets {
        let type_name = sql.bind(target_type.as_str().to_owned());
        let target_meets_inner = if requires_index_row(inner) {
            let target = ResourceKey::referenced_by(&reference, &type_name);
            self::criterion(sql, &target, inner)
        } else {
            let target = sql.alias("t");
            let inner_condition = self::criterion(sql, &ResourceKey::row(&target), inner);
            format!(
                "EXISTS (SELECT 1 FROM resource {target} \
                 WHERE {target}.tenant_key = {reference}.tenant_key AND {target}.resource_type = {type_name} \
                 AND {target}.id = {reference}.target_id AND NOT {target}.deleted AND {inner_condition})"
            )
        };
        alternatives.push(format!(
            "({reference}.target_type = {type_name} AND {target_meets_inner})"
        ));
        if has_canonical_url(target_type.as_str()) {
            alternatives.push(canonical::chain_step(sql, &reference, &type_name, inner));
        }
    }
    IndexRows {
        table: "search_reference",
        drawn_from: None,
        condition: format!(
            "{reference}.param = {code} AND ({})",
            alternatives.join(" OR ")
        ),
        alias: reference,
    }
}

/// The compartment of one owner across several types (`Patient/1/*`, `$everything`) as one
/// semi-join driven from the reference index: the (type, parameter) pairs that link each
/// type to the owner are looked up in the index, a probe per pair, and only the resources
/// found are read. Written as an `OR` of one `EXISTS` per type, PostgreSQL could not use an
/// index for the `OR` and probed every resource of the tenant (28 s for one patient's
/// `$everything` among 191,000 Synthea resources). `None` when `criteria` are not all
/// compartment criteria of the same owner.
fn compartment_across_types(
    sql: &mut SqlBuilder,
    resource: &ResourceKey,
    criteria: &[Criterion],
) -> Option<String> {
    let mut owner = None;
    let mut link_types = Vec::new();
    let mut link_params = Vec::new();
    let mut includes_owner = false;
    for criterion in criteria {
        let Criterion::Compartment {
            resource_type,
            owner_type,
            owner_id,
            params,
            owner_itself,
        } = criterion
        else {
            return None;
        };
        match owner {
            None => owner = Some((*owner_type, owner_id)),
            Some(first) if first != (*owner_type, owner_id) => return None,
            Some(_) => {}
        }
        for param in params {
            link_types.push(resource_type.as_str().to_owned());
            link_params.push(param.code().to_owned());
        }
        includes_owner |= *owner_itself;
    }
    let (owner_type, owner_id) = owner?;
    let owner_type = sql.bind(owner_type.as_str().to_owned());
    let owner_id = sql.bind(owner_id.clone());
    let types = sql.bind(link_types);
    let params = sql.bind(link_params);
    let link = sql.alias("k");
    let owner_row = if includes_owner {
        format!("SELECT {owner_type}, {owner_id} UNION ALL ")
    } else {
        String::new()
    };
    Some(format!(
        "({}, {}) IN ({owner_row}SELECT {link}.resource_type, {link}.id \
         FROM unnest({types}::text[], {params}::text[]) AS linked(resource_type, param) \
         JOIN search_reference {link} ON {link}.tenant_key = $1 AND {link}.resource_type = linked.resource_type \
         AND {link}.param = linked.param AND {link}.target_id = {owner_id} AND {link}.target_type = {owner_type})",
        resource.resource_type, resource.id
    ))
}

/// The one row of a one-date parameter (`ParamRef::is_single_date`) meeting every one of
/// `values` (AND-ed criteria, `birthdate=ge1950&birthdate=lt1951`). The same as an `EXISTS`
/// per value, since a resource has at most one row of such a parameter, but one index range
/// instead of two semi-joins: PostgreSQL, estimating a handful of births before 1951 from the
/// histogram of every date parameter, drove the search from all 6,401 of them (48 ms at a
/// million). The range is bounded at both ends by `values::point_date_bound`; a parameter
/// that may hold Periods adds its wide rows beside it (`wide_dates.rs`).
pub(crate) fn single_date(
    sql: &mut SqlBuilder,
    resource_type: ResourceType,
    param: ParamRef,
    values: &[&SearchValue],
) -> IndexRows {
    let alias = sql.alias("x");
    let code = sql.bind(param.code().to_owned());
    let mut conditions = Vec::with_capacity(values.len());
    let mut bounds = Vec::with_capacity(values.len());
    for value in values {
        conditions.push(values::condition(sql, &alias, Modifier::None, value));
        bounds.extend(values::point_date_bound(sql, &alias, value));
    }
    let drawn_from = if param.is_single_point_date(resource_type) || bounds.is_empty() {
        conditions.append(&mut bounds);
        None
    } else {
        // Drawn, the rows are read from two index ranges; looked up for a resource, or
        // hashed for a semi-join, they are the same rows by one condition.
        let drawn_from = wide_dates::bounded_or_wide(&alias, &bounds);
        conditions.push(wide_dates::bounded_or_is_wide(&alias, &bounds));
        Some(drawn_from)
    };
    IndexRows {
        table: "search_date",
        condition: format!("{alias}.param = {code} AND {}", conditions.join(" AND ")),
        alias,
        drawn_from,
    }
}

/// The rows of `param` matching any of `values` (for `:not` the caller negates their
/// `EXISTS`); not for composites, whose parts are rows of several tables.
fn values_rows(
    sql: &mut SqlBuilder,
    param: ParamRef,
    modifier: Modifier,
    values: &[SearchValue],
) -> IndexRows {
    let alias = sql.alias("x");
    let (table, stored_param) = match (modifier, param.kind()) {
        (Modifier::OfType, _) => ("search_token", format!("{}:of-type", param.code())),
        (Modifier::Identifier, _) => ("search_token", format!("{}:identifier", param.code())),
        _ => (table_of(param), param.code().to_owned()),
    };
    let code = sql.bind(stored_param);
    let mut alternatives = Vec::with_capacity(values.len());
    for value in values {
        alternatives.push(values::condition(sql, &alias, modifier, value));
    }
    IndexRows {
        table,
        drawn_from: None,
        condition: format!("{alias}.param = {code} AND ({})", alternatives.join(" OR ")),
        alias,
    }
}

fn id_condition(sql: &mut SqlBuilder, resource: &ResourceKey, values: &[SearchValue]) -> String {
    let ids: Vec<String> = values
        .iter()
        .filter_map(|value| match value {
            SearchValue::Token {
                code: Some(code), ..
            } => Some(code.clone()),
            _ => None,
        })
        .collect();
    let ids = sql.bind(ids);
    format!("{} = ANY({ids})", resource.id)
}

/// `_lastUpdated` is a column of the resource row; a key without its row (the `r` of a page
/// drawn from an index holds only keys) reads the row for it.
fn last_updated_condition(
    sql: &mut SqlBuilder,
    resource: &ResourceKey,
    values: &[SearchValue],
) -> String {
    let Some(row) = &resource.row else {
        let row = sql.alias("u");
        let condition = last_updated_condition(sql, &ResourceKey::row(&row), values);
        return format!(
            "EXISTS (SELECT 1 FROM resource {row} WHERE {} AND NOT {row}.deleted AND {condition})",
            same_resource(&row, resource)
        );
    };
    let alternatives: Vec<String> = values
        .iter()
        .filter_map(|value| match value {
            SearchValue::Date { prefix, range } => {
                // The column is one instant, a range whose ends are equal; binding the
                // bounds as timestamps keeps the condition on the indexed column itself.
                let low = sql.bind(values::timestamp(range.low));
                let high = sql.bind(values::timestamp(range.high));
                let column = format!("{row}.last_updated");
                Some(values::date_condition(
                    &column, &column, *prefix, &low, &high,
                ))
            }
            _ => None,
        })
        .collect();
    format!("({})", alternatives.join(" OR "))
}
