//! The WHERE condition of a search and the rows its page is drawn from: every resource of
//! the scope, or, when a criterion needs an index row, that criterion's index rows.
//! Spec: https://hl7.org/fhir/R4/search.html
//! Measurements: docs/benchmarks.md, "Search at a million resources".

use engine::definitions::SearchParamType;
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
    /// For `Draw::Intersection` and `Draw::Range`, the condition (on no row) under which the
    /// drawn page is exact: the drawn criterion's rows are within `INTERSECTION_BUDGET` or
    /// `RANGE_BUDGET`.
    pub(crate) exact_when: Option<String>,
}

/// Where a search's page is drawn from.
///
/// Drawn from an index, a criterion's matches are all read and sorted for a page, where
/// walking `resource` in page order can stop after a page. For a common criterion that is
/// far worse (`Observation?status=final` at a million resources: 258 ms drawn, 1.1 ms
/// walked; `Observation?date=ge2000-01-01` 161 ms against 1.5 ms). For a rare one it is
/// better: PostgreSQL's plan for the walk computes the same matches and then looks up each
/// one's resource row, or hashes them and scans every resource of the type (a chain by
/// family name: 27 ms walked, 8.5 ms drawn; `Patient?name=thomas`: 8.2 ms walked, scanning
/// all 26,645 Patients). So a page is drawn from an index only where the matches are known
/// to be few: see `Draw::Chain` and `Draw::Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Draw {
    /// Every resource of the scope: counts, sorted searches, and the fallbacks.
    Walk,
    /// Every resource of the scope, each criterion tested per resource by index lookups
    /// (`sql::tested_per_row`): the probe of a chain of two levels or more, or of a `_has`.
    PerRow,
    /// The reference rows of the first chain, once the probe found the chain's matches rare.
    Chain,
    /// The rows of the first string or date criterion of a search with no token, reference
    /// or uri criterion, when fewer than `RANGE_BUDGET` match; else no rows at all, and the
    /// page is then walked. The check costs a common range about half its throughput
    /// (`Observation?date=ge2000-01-01`: 2,700 searches/s walked, 1,400 checked first) and
    /// doubles that of a mid-sized one (`Patient?name=thomas`: 440 against 1,000).
    Range,
    /// The rows of the one criterion of a search that has nothing else: a single token
    /// value with a code, or a single reference to `Type/id`. The token and reference
    /// indexes list one value's resources in id order, so the page is its first rows, read
    /// in page order and stopped after a page, however common the value. Walked instead, a
    /// common value was tested on each resource in id order and a rarer one had all its
    /// matches looked up and sorted (`Observation?code=…` at 10,000 resources: 217 matches
    /// looked up for a page of 50; `Encounter?service-provider=Organization/…` at a million:
    /// 5,800 Encounters tested, 37 to 74 ms).
    OneValue,
    /// The rows of one value of a search whose criteria are all single values
    /// (`is_one_value`; two or more, or one with a `_sort`): the first reference value's,
    /// else the first token value's, the others tested on each drawn row by one lookup of
    /// their value and the row's id; a sort orders the drawn rows. Exact only while the
    /// drawn value has fewer than `INTERSECTION_BUDGET` rows (`Filter::exact_when`); beyond,
    /// an unsorted page is walked from the drawn rows in id order as long as it fills up
    /// within `INTERSECTION_WALK` of them. Otherwise PostgreSQL plans the search for its
    /// values, and starts from the rarer value (a Patient's dozen Observations, not a
    /// code's 24,000).
    Intersection,
}

/// The most index rows a `Draw::Intersection` page walks: a Patient's Observations are a
/// few dozen, an Organization's Encounters at a million resources about 5,800.
pub(crate) const INTERSECTION_BUDGET: i64 = 1_000;

/// Over `INTERSECTION_BUDGET`, the most drawn rows an unsorted `Draw::Intersection` page
/// walks in id order to find a full page before PostgreSQL plans the search for its values:
/// a page of 50 is found within it as long as about one drawn row in 40 meets the other
/// values (`Encounter?service-provider=Organization/…&status=finished` at a million
/// resources: 5,900 Encounters, nearly all finished; 54 ms planned for the values).
pub(crate) const INTERSECTION_WALK: i64 = 2_000;

/// The most index rows a `Draw::Range` page reads: at a million resources a family name has
/// 700 to 2,000 name rows, a year of birth dates about 300. Checking the budget reads up to
/// this many rows before a common criterion's page is walked instead.
pub(crate) const RANGE_BUDGET: i64 = 2_500;

/// Whether `query` draws its page from an index as `draw` says (`Draw::Chain` or
/// `Draw::Range`): a search of one type with a criterion of that kind and, for ranges, no
/// equality criterion. Otherwise `filter` with that `draw` walks `resource`.
pub(crate) fn draws_from_index(query: &SearchQuery, draw: Draw) -> bool {
    let [single_type] = query.scope.types()[..] else {
        return false;
    };
    match draw {
        Draw::Walk | Draw::PerRow => false,
        Draw::OneValue => {
            matches!(&query.criteria[..], [criterion] if draws_pages(draw, criterion))
        }
        // One value alone and unsorted is `Draw::OneValue`'s.
        // Drawn rows hold a resource's key only: `_lastUpdated` is on the resource row.
        Draw::Intersection => {
            let enough = query.criteria.len() >= 2 || !query.sort.is_empty();
            enough
                && !query.criteria.is_empty()
                && (query.criteria.iter().all(is_one_value) || sorted_with_one_value(query))
                && query
                    .sort
                    .iter()
                    .all(|key| key.param.code() != "_lastUpdated")
        }
        Draw::Chain => query
            .criteria
            .iter()
            .any(|criterion| draws_pages(draw, criterion)),
        // Unsorted, with an equality criterion PostgreSQL walks that criterion's id-ordered
        // index, and a range has nothing to add (`Observation?patient=…&date=ge…`); sorted,
        // see `sorted_with_one_value`. But a common token beside a range of a one-date
        // parameter (`Encounter?status=finished&date=ge2019-01&date=lt2019-02`) had every
        // one of its resources tested (1.3 s at a million): that range, bounded at both ends,
        // is drawn within its budget, unless a reference to one resource is the rarer side.
        Draw::Range => {
            let one_date_beside_tokens = query.sort.is_empty()
                && !query.criteria.iter().any(is_one_reference)
                && query
                    .criteria
                    .iter()
                    .any(|criterion| single_date_value(criterion, single_type).is_some());
            (!query.criteria.iter().any(is_equality)
                || sorted_with_one_value(query)
                || one_date_beside_tokens)
                && query.criteria.iter().any(|criterion| {
                    draws_pages(draw, criterion)
                        || single_date_value(criterion, single_type).is_some()
                })
        }
    }
}

/// Whether `query` is sorted and has a single value (`is_one_value`) among other criteria
/// that are met by an index row (`Observation?category=laboratory&date=ge2020-01-01&_sort=-date`):
/// drawn from that value, its page is exact within `INTERSECTION_BUDGET`, and past it the
/// value is known to be common and the sort is walked (`sorted_walk::page_with_criteria`).
/// Such a search was sorted whole (0.5 s for that one at a million resources). Unsorted,
/// PostgreSQL's own plan walks it in id order already.
pub(crate) fn sorted_with_one_value(query: &SearchQuery) -> bool {
    !query.sort.is_empty()
        && query.criteria.iter().any(is_one_value)
        && query.criteria.iter().all(met_by_own_index_row)
}

/// Whether a `Draw::Range` page of `query` has no condition but its drawn criterion: the
/// search has one criterion, or only plain date criteria on a single one-date parameter
/// (tested on its one row at once). The page is then at most `RANGE_BUDGET` rows of one
/// index range whatever the values, and its plan can be kept across searches (`plans.rs`).
/// Another criterion would be a semi-join whose best plan depends on how common its value
/// is.
pub(crate) fn range_draw_alone(query: &SearchQuery) -> bool {
    let [single_type] = query.scope.types()[..] else {
        return false;
    };
    match &query.criteria[..] {
        [_] => true,
        [first, rest @ ..] => single_date_value(first, single_type).is_some_and(|(param, _)| {
            rest.iter().all(|criterion| {
                single_date_value(criterion, single_type)
                    .is_some_and(|(other, _)| other.code() == param.code())
            })
        }),
        [] => false,
    }
}

/// The filter of `query`, its page drawn as `draw` says where `draws_from_index` allows it,
/// else walked.
pub(crate) fn filter(sql: &mut SqlBuilder, query: &SearchQuery, draw: Draw) -> Filter {
    let scope_types = query.scope.types();
    let single_type = match scope_types[..] {
        [resource_type] => Some(resource_type),
        _ => None,
    };
    let drawn_from_index = draws_from_index(query, draw);
    sql.per_row = matches!(draw, Draw::PerRow | Draw::Intersection);
    let intersection_drawn = (drawn_from_index && draw == Draw::Intersection)
        .then(|| intersection_drawn(query))
        .flatten();
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
    // Criteria on a one-date parameter, by parameter, tested on its one row at once.
    let mut single_dates: Vec<(ParamRef, Vec<&SearchValue>)> = Vec::new();
    for (index, criterion) in query.criteria.iter().enumerate() {
        if intersection_drawn == Some(index) {
            drawable.extend(sql::index_rows(sql, criterion));
            continue;
        }
        if let Some((param, value)) =
            single_type.and_then(|resource_type| single_date_value(criterion, resource_type))
        {
            match single_dates
                .iter_mut()
                .find(|(seen, _)| seen.code() == param.code())
            {
                Some((_, values)) => values.push(value),
                None => single_dates.push((param, vec![value])),
            }
            continue;
        }
        match sql::index_rows(sql, criterion) {
            Some(rows) if draws_pages(draw, criterion) => drawable.push(rows),
            _ => conditions.push(sql::criterion(sql, &key, criterion)),
        }
    }
    // Only a search of one type has them.
    if let Some(resource_type) = single_type {
        for (param, values) in &single_dates {
            let rows = sql::single_date(sql, resource_type, *param, values);
            if draw == Draw::Range {
                drawable.push(rows);
            } else {
                other_rows.push(rows);
            }
        }
    }
    let mut source = "resource".to_owned();
    let mut exact_when = None;
    // `draws_from_index` found the criterion that put rows in `drawable`.
    if drawn_from_index && !drawable.is_empty() {
        let rows = drawable.remove(0);
        // Planned for the whole range, a common one's plan gathered its rows in parallel and
        // hashed them: 30 ms to start the worker with its generic plan, 0.5 s to set up the
        // hash planned for the values, though the budget check stopped it at once. So a
        // sorted range, and a value drawn for a sort among other criteria, read at most
        // their budget's rows; the others keep the plans measured without it.
        let sorted_range = draw == Draw::Range && !query.sort.is_empty();
        let value_among_others =
            draw == Draw::Intersection && !query.criteria.iter().all(is_one_value);
        source = if sorted_range {
            rows.owners_within(&type_name, RANGE_BUDGET)
        } else if value_among_others {
            rows.owners_within(&type_name, INTERSECTION_BUDGET)
        } else {
            rows.owners(&type_name)
        };
        // Drawn rows hold only a resource's key.
        source = super::sort::with_last_updated(source, &query.sort);
        match draw {
            Draw::Range => {
                exact_when = Some(rows.fewer_than(&type_name, &sql.bind(RANGE_BUDGET)));
            }
            Draw::Intersection => {
                exact_when = Some(rows.fewer_than(&type_name, &sql.bind(INTERSECTION_BUDGET)));
            }
            _ => {}
        }
    }
    for rows in drawable.iter().chain(&other_rows) {
        // Tested per row, as `sql::criterion` writes the other criteria then: planned as a
        // semi-join, a common birth-date range was hashed whole before a walk of 2,000
        // Patients used 51 of them (`Patient?birthdate=ge1990-01-01&_sort=-birthdate`).
        conditions.push(if matches!(draw, Draw::PerRow | Draw::Intersection) {
            rows.exist_for_each(&key)
        } else {
            rows.exist_for(&key)
        });
    }
    sql.per_row = false;
    Filter {
        source,
        condition: conditions.join(" AND "),
        exact_when,
    }
}

/// The criterion a `Draw::Intersection` page of `query` is drawn from: its first single
/// reference value, which names one resource and is usually the rarer, else its first
/// single value.
fn intersection_drawn(query: &SearchQuery) -> Option<usize> {
    let references = query.criteria.iter().position(is_one_reference);
    references.or_else(|| query.criteria.iter().position(is_one_value))
}

/// Whether `criterion` is one `Type/id` reference: usually a few resources, such as a
/// patient's Observations.
fn is_one_reference(criterion: &Criterion) -> bool {
    is_one_value(criterion)
        && matches!(criterion, Criterion::Values { param, .. } if param.kind() == SearchParamType::Reference)
}

/// Whether `criterion` is a token, reference or uri value (not `:not`): its index lists
/// the matches of one value in id order.
fn is_equality(criterion: &Criterion) -> bool {
    matches!(
        criterion,
        Criterion::Values { param, modifier, .. }
            if *modifier != Modifier::Not
                && matches!(
                    param.kind(),
                    SearchParamType::Token | SearchParamType::Reference | SearchParamType::Uri
                )
                && param.code() != "_id"
    )
}

/// Whether `criterion` is met by a row of its own index (`sql::met_by_own_index_rows`), or is
/// `:missing=false`: tested on a resource's key alone, with no column of its resource row.
pub(crate) fn met_by_own_index_row(criterion: &Criterion) -> bool {
    match criterion {
        Criterion::Values {
            param, modifier, ..
        } => sql::met_by_own_index_rows(*param, *modifier),
        // As `sql::index_rows`: a reference's value may be a token row (`:identifier`).
        Criterion::Missing { missing, param } => {
            !missing && param.kind() != SearchParamType::Reference
        }
        _ => false,
    }
}

/// Whether `criterion` is one token value with a code or one `Type/id` reference: its index
/// lists that value's resources in id order, so a resource's row is found in one lookup of
/// the value and the id.
pub(crate) fn is_one_value(criterion: &Criterion) -> bool {
    draws_pages(Draw::OneValue, criterion)
}

/// Whether `criterion`'s index rows may draw a page of kind `draw` (see `Draw`).
fn draws_pages(draw: Draw, criterion: &Criterion) -> bool {
    match (draw, criterion) {
        (Draw::Chain, Criterion::Chain { .. }) => true,
        (
            Draw::Range,
            Criterion::Values {
                param, modifier, ..
            },
        ) => {
            *modifier != Modifier::Not
                && matches!(
                    param.kind(),
                    SearchParamType::String | SearchParamType::Date
                )
                && param.code() != "_lastUpdated"
        }
        // One value: several would be as many index ranges, merged by a sort. `system|` alone
        // is no range of the code index, and a bare id no range of one target type: a
        // common one would have every match sorted.
        (
            Draw::OneValue,
            Criterion::Values {
                param,
                modifier: Modifier::None,
                values,
            },
        ) => match values.as_slice() {
            [SearchValue::Token { code: Some(_), .. }] => {
                param.kind() == SearchParamType::Token && param.code() != "_id"
            }
            [SearchValue::Reference {
                target_type: Some(_),
                ..
            }] => param.kind() == SearchParamType::Reference,
            _ => false,
        },
        _ => false,
    }
}

/// The one value of `criterion` if it is a plain date criterion (no modifier, no OR, not
/// `ne`) on a parameter with at most one date per resource of `resource_type`
/// (`ParamRef::is_single_date`).
pub(crate) fn single_date_value(
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
    (*prefix != Prefix::Ne && param.is_single_date(resource_type)).then_some((*param, value))
}
