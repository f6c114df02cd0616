//! The WHERE condition of a search and the rows its page is drawn from: every resource of
//! the scope, or, when a criterion needs an index row, that criterion's index rows.
//! Spec: https://hl7.org/fhir/R4/search.html
//! Measurements: docs/benchmarks.md, "Search at a million resources".

use engine::search::{Criterion, Modifier, ParamRef, Prefix, SearchQuery, SearchValue};
use engine::ResourceType;

use super::keys::{requires_index_row, IndexRows, ResourceKey};
use super::sql::{self, SqlBuilder};

/// A search's rows, aliased `r` in the page query: where they come from, and the condition
/// they must meet.
pub(crate) struct Filter {
    /// `resource`, or a subquery of resource keys drawn from one criterion's index rows.
    pub(crate) source: String,
    pub(crate) condition: String,
    /// Whether `source` is a criterion's index rows rather than `resource`.
    pub(crate) drawn_from_index: bool,
}

/// The filter of `query`. With `may_draw_from_index`, a search of one type with a chain draws
/// its rows from the chain's reference rows instead of `resource` (the first chain's).
///
/// Only chains, and only once the probe has found their matches rare (`mod.rs`): drawn from
/// an index, a criterion's matches are all read and sorted for a page, where walking
/// `resource` stops after a page. For a common criterion that is far worse
/// (`Observation?status=final` at a million resources: 258 ms drawn, 1.1 ms walked; a
/// `date=ge2000` range 161 ms against 1.5 ms). For a rare chain it is better: the walk's
/// plan computes the same matches and then looks up each one's resource row (a chain by
/// family name: 27 ms walked, 8.5 ms drawn).
pub(crate) fn filter(
    sql: &mut SqlBuilder,
    query: &SearchQuery,
    may_draw_from_index: bool,
) -> Filter {
    let scope_types = query.scope.types();
    let single_type = match scope_types[..] {
        [resource_type] => Some(resource_type),
        _ => None,
    };
    let drawn_from_index =
        may_draw_from_index && single_type.is_some() && query.criteria.iter().any(draws_pages);
    let mut conditions = vec!["r.tenant_key = $1".to_owned()];
    // Index rows exist only for live resources (a delete removes them), so a criterion that
    // requires one already excludes deleted resources, and the resource's heap row need not be
    // read to check: its primary key alone serves (an index-only scan once vacuumed).
    if !query.criteria.iter().any(requires_index_row) {
        conditions.push("NOT r.deleted".to_owned());
    }
    let types: Vec<String> = scope_types
        .iter()
        .map(|kind| kind.as_str().to_owned())
        .collect();
    let type_name = if let [single] = types.as_slice() {
        let type_name = sql.bind(single.clone());
        conditions.push(format!("r.resource_type = {type_name}"));
        type_name
    } else {
        let type_names = sql.bind(types);
        conditions.push(format!("r.resource_type = ANY({type_names})"));
        type_names
    };
    // Drawn from an index, `r` has only the key columns of a resource.
    let key = if drawn_from_index {
        ResourceKey::owner_of("r")
    } else {
        ResourceKey::row("r")
    };
    // The criteria met by index rows that could draw the page, and the others met by index
    // rows that could not, each as an `EXISTS` at the end.
    let mut drawable: Vec<IndexRows> = Vec::new();
    let mut other_rows: Vec<IndexRows> = Vec::new();
    // Criteria on a single-point date parameter, by parameter, tested on its one row at once.
    let mut point_dates: Vec<(ParamRef, Vec<&SearchValue>)> = Vec::new();
    for criterion in &query.criteria {
        if let Some((param, value)) =
            single_type.and_then(|resource_type| point_date_value(criterion, resource_type))
        {
            match point_dates
                .iter_mut()
                .find(|(seen, _)| seen.code() == param.code())
            {
                Some((_, values)) => values.push(value),
                None => point_dates.push((param, vec![value])),
            }
            continue;
        }
        match sql::index_rows(sql, criterion) {
            Some(rows) if draws_pages(criterion) => drawable.push(rows),
            _ => conditions.push(sql::criterion(sql, &key, criterion)),
        }
    }
    for (param, values) in &point_dates {
        other_rows.push(sql::single_point_date(sql, *param, values));
    }
    let mut source = "resource".to_owned();
    if drawn_from_index && !drawable.is_empty() {
        source = drawable.remove(0).owners(&type_name);
    }
    for rows in drawable.iter().chain(&other_rows) {
        conditions.push(rows.exist_for(&key));
    }
    Filter {
        drawn_from_index,
        source,
        condition: conditions.join(" AND "),
    }
}

/// Whether `criterion`'s index rows may draw a page: chains (see `filter`).
fn draws_pages(criterion: &Criterion) -> bool {
    matches!(criterion, Criterion::Chain { .. })
}

/// The one value of `criterion` if it is a plain date criterion (no modifier, no OR, not
/// `ne`) on a parameter with at most one point value per resource of `resource_type`.
fn point_date_value(
    criterion: &Criterion,
    resource_type: ResourceType,
) -> Option<(ParamRef, &SearchValue)> {
    let Criterion::Values {
        param,
        modifier: Modifier::None,
        values,
    } = criterion
    else {
        return None;
    };
    let [value @ SearchValue::Date { prefix, .. }] = values.as_slice() else {
        return None;
    };
    (*prefix != Prefix::Ne && param.is_single_point_date(resource_type)).then_some((*param, value))
}
