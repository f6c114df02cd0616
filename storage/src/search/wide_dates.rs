//! Date index rows wider than any single point, and how a search on a parameter with one
//! date per resource (`Encounter.period`, `Observation.effective[x]`) stays exact around them.
//! Spec: https://hl7.org/fhir/R4/search.html#date
//! Measurements: docs/benchmarks.md, "Ranges of Periods".
//!
//! `ge X` means `high >= X` and `lt Y` means `low < Y`: each alone is an index range open at
//! one end, and together (`date=ge2019-01&date=lt2019-02`) PostgreSQL read every Encounter
//! before February 2019 to keep those ending after January. For a row no wider than
//! [`DateRange::WIDEST_POINT`], `high >= X` implies `low >= X - widest`, so the month is one
//! bounded range (`values::point_date_bound`); a birth date is never wider, but a Period
//! may be, and an open one is. Migration 12 keeps those in the partial index
//! `search_date_wide`, small because most Periods are a visit or a stay, and the rows a
//! search draws or walks in sort order are the bounded range plus the wide rows outside it
//! (`bounded_or_wide`): the same rows as without the bounds, from two index ranges.
//! PostgreSQL merges the two in sort order for a walk (`sorted_walk.rs`), sorting the few
//! wide rows first. Rows tested for one resource are found by its key instead, with the
//! same rows stated as one condition (`bounded_or_is_wide`).

use engine::index::DateRange;

/// That the row `alias` of `search_date` is wider than any point: word for word the
/// predicate of `search_date_wide` (migration 12), since PostgreSQL uses a partial index only
/// for a query that states its predicate. A literal, not a bound value, for the same reason.
pub(crate) fn is_wide(alias: &str) -> String {
    format!("{alias}.high > {alias}.low + {}", DateRange::WIDEST_POINT)
}

/// `search_date` as the rows that meet `bounds` (conditions on `alias`, from
/// `values::point_date_bound`) and the wide rows that do not: to be aliased `alias`, with
/// the criteria's own conditions outside, which PostgreSQL pushes into both halves. A row
/// no wider than a point that misses a bound cannot meet the criterion the bound came from,
/// so nothing is lost; the halves are disjoint, so nothing is doubled.
pub(crate) fn bounded_or_wide(alias: &str, bounds: &[String]) -> String {
    format!(
        "(SELECT * FROM search_date {alias} WHERE {} \
         UNION ALL SELECT * FROM search_date {alias} WHERE {})",
        bounds.join(" AND "),
        wide_beyond(alias, bounds)
    )
}

/// The same rows as `bounded_or_wide` as one condition, for rows looked up by a resource's
/// key (an `EXISTS`): it leaves PostgreSQL the choice between that lookup and reading the
/// bounded range and the wide index (a `BitmapOr`) for a semi-join.
pub(crate) fn bounded_or_is_wide(alias: &str, bounds: &[String]) -> String {
    format!("(({}) OR {})", bounds.join(" AND "), is_wide(alias))
}

/// That the row `alias` is wide and misses one of `bounds`: the rows `bounds` alone would
/// wrongly leave out.
pub(crate) fn wide_beyond(alias: &str, bounds: &[String]) -> String {
    format!("{} AND NOT ({})", is_wide(alias), bounds.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wide_condition_is_the_predicate_of_the_migrations_partial_index() {
        let migration = include_str!("../migrations/0012_wide_dates.sql");
        let predicate = is_wide("x").replace("x.", "");
        assert!(
            migration.contains(&format!("WHERE {predicate};")),
            "migration 12 must index `{predicate}` for searches to use it"
        );
    }

    #[test]
    fn the_halves_are_split_by_the_bounds() {
        let table = bounded_or_wide(
            "x3",
            &["x3.low >= $5".to_owned(), "x3.high < $6".to_owned()],
        );
        assert!(table.contains("WHERE x3.low >= $5 AND x3.high < $6 UNION ALL"));
        assert!(table.contains("AND NOT (x3.low >= $5 AND x3.high < $6))"));
    }
}
