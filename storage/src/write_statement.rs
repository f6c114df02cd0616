//! The one SQL statement that writes a batch: versions, current rows and search index rows,
//! atomically and in a single round trip.
//!
//! The statement is generated once from the list of index tables below, in two variants:
//! one for batches that only write resources for the first time, and one that also removes
//! the index rows of resources that existed before and whose values changed.

use std::fmt::Write as _;
use std::sync::LazyLock;

use tokio_postgres::types::ToSql;

use crate::index_rows::{AmountColumns, Common, IndexRows};

/// The resource columns, `$1` to `$8`; the versions and the current rows come from them.
const WRITE_VERSIONS: &str = "written AS (
        INSERT INTO resource_version (tenant_key, resource_type, id, version_id, last_updated, method, status, body)
        SELECT $1, $2, * FROM unnest($3::text[], $4::int8[], $5::timestamptz[], $6::text[], $7::int2[], $8::bytea[])
        RETURNING id, version_id, last_updated, body
    ),
    current_rows AS (
        INSERT INTO resource (tenant_key, resource_type, id, version_id, last_updated, deleted, body)
        SELECT DISTINCT ON (id) $1, $2, id, version_id, last_updated, body IS NULL, body
        FROM written ORDER BY id, version_id DESC
        {on_conflict}
        RETURNING 1
    )";

/// Only when the batch writes resources that existed before it; a batch of new resources
/// cannot conflict, and without `ON CONFLICT` PostgreSQL skips the probe of the unique index
/// it makes before each speculative insert.
const REPLACE_CURRENT: &str = "ON CONFLICT (tenant_key, resource_type, id) DO UPDATE
        SET version_id = excluded.version_id, last_updated = excluded.last_updated,
            deleted = excluded.deleted, body = excluded.body";

/// One index table: the columns its rows arrive in (after the tenant and type, which are
/// `$1` and `$2`), and what is inserted from them.
struct IndexTable {
    table: &'static str,
    arriving: &'static [(&'static str, &'static str)],
    inserted: &'static str,
}

const COMMON: [(&str, &str); 5] = [
    ("id", "text"),
    ("param", "text"),
    ("composite_component", "int2"),
    ("composite_element", "int2"),
    ("entry_hash", "int8"),
];

/// Decimals arrive as text with the exponent of their last digit; the bounds of their
/// implicit precision are computed here, so no decimal arithmetic happens in Rust.
const AMOUNT_BOUNDS: &str = "n.value::numeric,
        CASE WHEN n.value IS NULL THEN n.range_low::numeric ELSE n.value::numeric - 0.5 * power(10::numeric, n.exponent) END,
        CASE WHEN n.value IS NULL THEN n.range_high::numeric ELSE n.value::numeric + 0.5 * power(10::numeric, n.exponent) END";

/// In the order [`IndexRows::parameters`] binds their columns.
const INDEX_TABLES: &[IndexTable] = &[
    IndexTable {
        table: "search_string",
        arriving: &[("folded", "text"), ("exact", "text")],
        inserted: "n.*",
    },
    IndexTable {
        table: "search_token",
        arriving: &[("system", "text"), ("code", "text"), ("display", "text")],
        inserted: "n.*",
    },
    IndexTable {
        table: "search_date",
        arriving: &[("low", "int8"), ("high", "int8")],
        inserted: "n.*",
    },
    IndexTable {
        table: "search_number",
        arriving: &[("value", "text"), ("exponent", "int4"), ("range_low", "text"), ("range_high", "text")],
        inserted: "n.id, n.param, n.composite_component, n.composite_element, n.entry_hash, {amount}",
    },
    IndexTable {
        table: "search_quantity",
        arriving: &[
            ("value", "text"),
            ("exponent", "int4"),
            ("range_low", "text"),
            ("range_high", "text"),
            ("system", "text"),
            ("code", "text"),
            ("unit", "text"),
        ],
        inserted: "n.id, n.param, n.composite_component, n.composite_element, n.entry_hash, {amount}, n.system, n.code, n.unit",
    },
    IndexTable {
        table: "search_reference",
        arriving: &[
            ("target_type", "text"),
            ("target_id", "text"),
            ("url", "text"),
            ("version", "text"),
            ("token_signature", "int8"),
            ("token_signature_high", "int8"),
        ],
        inserted: "n.*",
    },
    IndexTable {
        table: "search_uri",
        arriving: &[("value", "text")],
        inserted: "n.*",
    },
    IndexTable {
        table: "search_text",
        arriving: &[("words", "text")],
        inserted: "n.id, n.param, n.entry_hash, to_tsvector('simple', n.words)",
    },
];

/// For batches in which every resource is written for the first time: nothing to remove.
pub(crate) static WRITE_NEW: LazyLock<String> = LazyLock::new(|| generate(false));

/// For batches that update or delete resources that existed: `$9` lists them, and each index
/// table drops their rows whose value is gone.
///
/// A row's hash covers the resource id, the parameter and the value, so "gone" is `NOT IN`
/// over one column, answered with a hashed subplan in linear time (a correlated `NOT EXISTS`
/// on (id, hash) was planned as a quadratic nested-loop anti-join). Rows whose value did not
/// change are neither deleted nor inserted again (`ON CONFLICT DO NOTHING`), so an update
/// leaves no dead index tuples for what it did not change.
///
/// Why two variants: until autovacuum first analyzes a fresh index table, the planner has no
/// column statistics and takes `tenant_key = $1 AND resource_type = $2` to match one row, and
/// so planned this DELETE as a scan of the type's whole index, even for an empty `$9` (0.1
/// to 1 s per batch at 150,000 rows, seen with auto_explain while loading a million new
/// resources). New resources, the bulk-load case, never run it.
pub(crate) static WRITE_REPLACING: LazyLock<String> = LazyLock::new(|| generate(true));

fn generate(replacing: bool) -> String {
    let on_conflict = if replacing { REPLACE_CURRENT } else { "" };
    let mut sql = format!(
        "WITH {}",
        WRITE_VERSIONS.replace("{on_conflict}", on_conflict)
    );
    // Unchanged index rows of a replaced resource stay; a new resource has none to meet.
    let keep_unchanged = if replacing {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let mut next_parameter = if replacing { 10 } else { 9 };
    for index_table in INDEX_TABLES {
        let IndexTable {
            table,
            arriving,
            inserted,
        } = index_table;
        let short = table.trim_start_matches("search_");
        let columns: Vec<(&str, &str)> = COMMON.iter().chain(arriving.iter()).copied().collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(offset, (_, kind))| format!("${}::{kind}[]", next_parameter + offset))
            .collect();
        next_parameter += columns.len();
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let _ = write!(
            sql,
            ",\n    {short}_rows AS (SELECT * FROM unnest({}) AS t({}))",
            arrays.join(", "),
            names.join(", ")
        );
        if replacing {
            let _ = write!(
                sql,
                ",\n    {short}_gone AS (DELETE FROM {table} s USING unnest($9::text[]) AS replaced(id)
        WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = replaced.id
        AND s.entry_hash NOT IN (SELECT entry_hash FROM {short}_rows))"
            );
        }
        let inserted = inserted.replace("{amount}", AMOUNT_BOUNDS);
        let _ = write!(
            sql,
            ",\n    {short}_new AS (INSERT INTO {table} SELECT $1, $2, {inserted} FROM {short}_rows n{keep_unchanged})"
        );
    }
    sql.push_str("\n    SELECT count(*) FROM current_rows");
    sql
}

impl IndexRows {
    /// Appends the index parameters to `params`, after the eight resource columns: `$9` the
    /// replaced resources when `replacing`, then every table's arrays, matching [`generate`].
    pub(crate) fn parameters<'a>(
        &'a self,
        replacing: bool,
        params: &mut Vec<&'a (dyn ToSql + Sync)>,
    ) {
        if replacing {
            params.push(&self.replaced_ids);
        }
        let strings = &self.strings;
        push_common(&strings.common, params);
        params.extend([&strings.folded as &(dyn ToSql + Sync), &strings.exact]);
        let tokens = &self.tokens;
        push_common(&tokens.common, params);
        params.extend([
            &tokens.systems as &(dyn ToSql + Sync),
            &tokens.codes,
            &tokens.displays,
        ]);
        let dates = &self.dates;
        push_common(&dates.common, params);
        params.extend([&dates.lows as &(dyn ToSql + Sync), &dates.highs]);
        push_common(&self.numbers.common, params);
        push_amounts(&self.numbers.amounts, params);
        let quantities = &self.quantities;
        push_common(&quantities.common, params);
        push_amounts(&quantities.amounts, params);
        params.extend([
            &quantities.systems as &(dyn ToSql + Sync),
            &quantities.codes,
            &quantities.units,
        ]);
        let references = &self.references;
        push_common(&references.common, params);
        params.extend([
            &references.target_types as &(dyn ToSql + Sync),
            &references.target_ids,
            &references.urls,
            &references.versions,
            &references.token_signatures_low,
            &references.token_signatures_high,
        ]);
        push_common(&self.uris.common, params);
        params.push(&self.uris.values);
        push_common(&self.texts.common, params);
        params.push(&self.texts.texts);
    }
}

fn push_common<'a>(common: &'a Common, params: &mut Vec<&'a (dyn ToSql + Sync)>) {
    params.extend([
        &common.ids as &(dyn ToSql + Sync),
        &common.params,
        &common.components,
        &common.elements,
        &common.hashes,
    ]);
}

fn push_amounts<'a>(amounts: &'a AmountColumns, params: &mut Vec<&'a (dyn ToSql + Sync)>) {
    params.extend([
        &amounts.values as &(dyn ToSql + Sync),
        &amounts.exponents,
        &amounts.range_lows,
        &amounts.range_highs,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_without_gaps_in_both_variants() {
        for (statement, last) in [(&*WRITE_NEW, 74), (&*WRITE_REPLACING, 75)] {
            let used: std::collections::BTreeSet<usize> = statement
                .split('$')
                .skip(1)
                .filter_map(|rest| {
                    rest.split(|c: char| !c.is_ascii_digit())
                        .next()?
                        .parse()
                        .ok()
                })
                .collect();
            assert_eq!(used, (1..=last).collect(), "{statement}");
        }
    }
}
