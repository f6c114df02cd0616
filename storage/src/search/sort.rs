//! `_sort` keys as SQL expressions, and the keyset cursor that pages through sorted results
//! without OFFSET, so rows written between two page requests are neither skipped nor repeated.
//! Spec: https://hl7.org/fhir/R4/search.html#sort

use engine::definitions::SearchParamType;
use engine::search::{SearchQuery, SortKey};
use engine::ResourceType;

use super::keys::{same_resource, ResourceKey};
use super::sql::{table_for, SqlBuilder};

/// One ORDER BY key: its expression, the type it is compared as, and its direction.
#[derive(Clone)]
pub(crate) struct OrderKey {
    pub(crate) expression: String,
    pub(crate) sql_type: &'static str,
    pub(crate) descending: bool,
}

/// The expressions `_sort` orders by, then the tie-breakers that make the order total.
///
/// A parameter with several values sorts by its lowest value ascending and its highest
/// descending, as the spec suggests for dates and as clients expect for names.
pub(crate) fn order_keys(sql: &mut SqlBuilder, resource: &str, sort: &[SortKey]) -> Vec<OrderKey> {
    let mut keys = Vec::with_capacity(sort.len() + 2);
    for key in sort {
        let (expression, sql_type) = match key.param.code() {
            "_id" => (format!("{resource}.id"), "text"),
            "_lastUpdated" => (format!("{resource}.last_updated"), "timestamptz"),
            code => {
                let kind = key.param.kind();
                let alias = sql.alias("o");
                // The value a row sorts by, and the type its cursor value is compared as.
                let (column, sql_type) = match (kind, key.descending) {
                    (SearchParamType::Number | SearchParamType::Quantity, false) => {
                        (format!("COALESCE({alias}.value, {alias}.low)"), "numeric")
                    }
                    (SearchParamType::Number | SearchParamType::Quantity, true) => {
                        (format!("COALESCE({alias}.value, {alias}.high)"), "numeric")
                    }
                    _ => match indexed_column(kind, key.descending) {
                        Some(IndexedColumn { name, sql_type }) => {
                            (format!("{alias}.{name}"), sql_type)
                        }
                        None => (format!("{alias}.value"), "text"),
                    },
                };
                let aggregate = if key.descending { "max" } else { "min" };
                let code = sql.bind(code.to_owned());
                (
                    format!(
                        "(SELECT {aggregate}({column}) FROM {} {alias} WHERE {} AND {alias}.param = {code})",
                        table_for(kind),
                        same_resource(&alias, &ResourceKey::row(resource))
                    ),
                    sql_type,
                )
            }
        };
        keys.push(OrderKey {
            expression,
            sql_type,
            descending: key.descending,
        });
    }
    for column in ["resource_type", "id"] {
        keys.push(OrderKey {
            expression: format!("{resource}.{column}"),
            sql_type: "text",
            descending: false,
        });
    }
    keys
}

/// `keys`, a subquery of resource keys (drawn from index rows, or a several-key sort's
/// candidates), with each resource row's `last_updated` beside them, for `sort` keys that
/// compare it: a sort by `_lastUpdated` reads `r.last_updated`, which index rows lack.
/// `keys` unchanged when no key of `sort` is `_lastUpdated`.
pub(crate) fn with_last_updated(keys: String, sort: &[SortKey]) -> String {
    if !sort.iter().any(|key| key.param.code() == "_lastUpdated") {
        return keys;
    }
    format!(
        "(SELECT keyed.*, live.last_updated FROM {keys} keyed \
         JOIN resource live ON live.tenant_key = keyed.tenant_key \
         AND live.resource_type = keyed.resource_type AND live.id = keyed.id)"
    )
}

/// The column of a parameter's index rows that a sort by it compares, where an index of
/// that table is ordered by it right after the parameter (`sorted_walk.rs` walks it), and
/// the type its cursor value is compared as. A date sorts ascending by the start of its
/// range and descending by the end.
pub(crate) struct IndexedColumn {
    pub(crate) name: &'static str,
    pub(crate) sql_type: &'static str,
}

pub(crate) fn indexed_column(kind: SearchParamType, descending: bool) -> Option<IndexedColumn> {
    let (name, sql_type) = match (kind, descending) {
        (SearchParamType::Date, false) => ("low", "int8"),
        (SearchParamType::Date, true) => ("high", "int8"),
        (SearchParamType::String, _) => ("folded", "text"),
        (SearchParamType::Token, _) => ("code", "text"),
        (SearchParamType::Reference, _) => ("target_id", "text"),
        (SearchParamType::Uri, _) => ("value", "text"),
        _ => return None,
    };
    Some(IndexedColumn { name, sql_type })
}

/// `keys` as the columns `k0`, `k1`, … of a page (after `prefix`, such as `page.`), which
/// a page statement selects its keys as.
pub(crate) fn page_columns(keys: &[OrderKey], prefix: &str) -> Vec<OrderKey> {
    keys.iter()
        .enumerate()
        .map(|(index, key)| OrderKey {
            expression: format!("{prefix}k{index}"),
            sql_type: key.sql_type,
            descending: key.descending,
        })
        .collect()
}

/// `ORDER BY` text; resources without a value for a key come last in either direction.
/// Read `Before` a cursor, the order is reversed (and the caller turns the rows around).
pub(crate) fn order_by(keys: &[OrderKey], direction: Direction) -> String {
    let backwards = direction == Direction::Before;
    keys.iter()
        .map(|key| {
            let descending = key.descending != backwards;
            let nulls = if backwards { "FIRST" } else { "LAST" };
            format!(
                "{} {} NULLS {nulls}",
                key.expression,
                if descending { "DESC" } else { "ASC" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a page statement is built for: the search, its order keys (`order_keys`), the values
/// of the cursor the page starts from, if any, and the way it goes from there.
#[derive(Clone, Copy)]
pub(crate) struct PagePosition<'a> {
    pub(crate) query: &'a SearchQuery,
    pub(crate) keys: &'a [OrderKey],
    pub(crate) cursor: Option<&'a [Option<String>]>,
    pub(crate) direction: Direction,
}

impl<'a> PagePosition<'a> {
    /// The one type searched, when the search has one.
    pub(crate) fn single_type(&self) -> Option<ResourceType> {
        match self.query.scope.types()[..] {
            [resource_type] => Some(resource_type),
            _ => None,
        }
    }

    /// The sort key of a search sorted by one parameter (whose order keys are that
    /// parameter's, then type and id).
    pub(crate) fn lone_sort(&self) -> Option<&'a SortKey> {
        match (&self.query.sort[..], self.keys) {
            ([sort], [_, _, _]) => Some(sort),
            _ => None,
        }
    }
}

/// Which way a page goes from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The rows after the cursor: a `next` link.
    After,
    /// The rows before it, read in reverse and turned around: a `previous` link.
    Before,
}

/// The condition selecting rows on the `direction` side of the cursor `values` (one per
/// key, as text, `None` for a missing value) in the order of `keys`.
pub(crate) fn beyond(
    sql: &mut SqlBuilder,
    keys: &[OrderKey],
    values: &[Option<String>],
    direction: Direction,
) -> String {
    let mut alternatives = Vec::new();
    let mut equal_so_far: Vec<String> = Vec::new();
    for (key, value) in keys.iter().zip(values) {
        let expression = &key.expression;
        match value {
            Some(value) => {
                let bound = format!("{}::{}", sql.bind(value.clone()), key.sql_type);
                let later = if key.descending { "<" } else { ">" };
                let earlier = if key.descending { ">" } else { "<" };
                // NULLS LAST: a row without a value comes after every row with one.
                alternatives.push(conjunction(
                    &equal_so_far,
                    &match direction {
                        Direction::After => {
                            format!("({expression} {later} {bound} OR {expression} IS NULL)")
                        }
                        Direction::Before => format!("{expression} {earlier} {bound}"),
                    },
                ));
                equal_so_far.push(format!("{expression} = {bound}"));
            }
            None => {
                if direction == Direction::Before {
                    alternatives.push(conjunction(
                        &equal_so_far,
                        &format!("{expression} IS NOT NULL"),
                    ));
                }
                equal_so_far.push(format!("{expression} IS NULL"));
            }
        }
    }
    if alternatives.is_empty() {
        return "false".to_owned();
    }
    format!("({})", alternatives.join(" OR "))
}

fn conjunction(prefix: &[String], last: &str) -> String {
    if prefix.is_empty() {
        return last.to_owned();
    }
    format!("({} AND {last})", prefix.join(" AND "))
}

/// Encodes the cursor as hex of a JSON array (the direction, then the key values): opaque to
/// clients, safe in a URL.
pub(crate) fn encode_cursor(direction: Direction, values: &[Option<String>]) -> String {
    let marker = match direction {
        Direction::After => "after",
        Direction::Before => "before",
    };
    let mut all = Vec::with_capacity(values.len() + 1);
    all.push(Some(marker.to_owned()));
    all.extend_from_slice(values);
    let json = sonic_rs::to_string(&all).unwrap_or_default();
    json.bytes().map(|byte| format!("{byte:02x}")).collect()
}

/// Decodes a cursor; `None` when it was not written by [`encode_cursor`] for `key_count` keys.
pub(crate) fn decode_cursor(
    cursor: &str,
    key_count: usize,
) -> Option<(Direction, Vec<Option<String>>)> {
    let mut values = decode_values(cursor, key_count + 1)?;
    let direction = match values.remove(0).as_deref() {
        Some("after") => Direction::After,
        Some("before") => Direction::Before,
        _ => return None,
    };
    Some((direction, values))
}

fn decode_values(cursor: &str, key_count: usize) -> Option<Vec<Option<String>>> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(cursor.get(index..index + 2)?, 16).ok())
        .collect();
    let values: Vec<Option<String>> = sonic_rs::from_slice(&bytes?).ok()?;
    (values.len() == key_count).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_including_missing_values() {
        let values = vec![
            Some("2020".to_owned()),
            None,
            Some("Patient".to_owned()),
            Some("a,b".to_owned()),
        ];
        assert_eq!(
            decode_cursor(&encode_cursor(Direction::Before, &values), 4),
            Some((Direction::Before, values))
        );
    }

    #[test]
    fn tampered_cursors_are_rejected() {
        assert_eq!(decode_cursor("zz", 1), None);
        let cursor = encode_cursor(Direction::After, &[Some("x".into())]);
        assert_eq!(decode_cursor(&cursor, 2), None);
    }
}
