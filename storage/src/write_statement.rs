//! The one SQL statement that writes a batch: versions, current rows and search index rows,
//! atomically and in a single round trip.

use tokio_postgres::types::ToSql;

use crate::index_rows::{AmountColumns, Common, IndexRows};

/// Parameters `$1` to `$9`: the resource columns; the index tables' arrays follow in the
/// order [`IndexRows::parameters`] pushes them.
///
/// Each index table gets three parts: its incoming rows, a DELETE of the replaced resources'
/// rows whose hash is no longer among them, and an INSERT that skips rows already present.
pub(crate) const WRITE_BATCH: &str = "WITH written AS (
        INSERT INTO resource_version (tenant_key, resource_type, id, version_id, last_updated, method, status, body)
        SELECT $1, $2, * FROM unnest($3::text[], $4::int8[], $5::timestamptz[], $6::text[], $7::int2[], $8::bytea[])
        RETURNING id, version_id, last_updated, body
    ),
    current_rows AS (
        INSERT INTO resource (tenant_key, resource_type, id, version_id, last_updated, deleted, body)
        SELECT DISTINCT ON (id) $1, $2, id, version_id, last_updated, body IS NULL, body
        FROM written ORDER BY id, version_id DESC
        ON CONFLICT (tenant_key, resource_type, id) DO UPDATE
        SET version_id = excluded.version_id, last_updated = excluded.last_updated,
            deleted = excluded.deleted, body = excluded.body
        RETURNING 1
    ),
    string_rows AS (SELECT * FROM unnest($10::text[], $11::text[], $12::int2[], $13::int2[], $14::int8[], $15::text[], $16::text[])
        AS t(id, param, composite_component, composite_element, entry_hash, folded, exact)),
    string_gone AS (DELETE FROM search_string s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM string_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    string_new AS (INSERT INTO search_string SELECT $1, $2, n.* FROM string_rows n ON CONFLICT DO NOTHING),
    token_rows AS (SELECT * FROM unnest($17::text[], $18::text[], $19::int2[], $20::int2[], $21::int8[], $22::text[], $23::text[], $24::text[])
        AS t(id, param, composite_component, composite_element, entry_hash, system, code, display)),
    token_gone AS (DELETE FROM search_token s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM token_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    token_new AS (INSERT INTO search_token SELECT $1, $2, n.* FROM token_rows n ON CONFLICT DO NOTHING),
    date_rows AS (SELECT * FROM unnest($25::text[], $26::text[], $27::int2[], $28::int2[], $29::int8[], $30::int8[], $31::int8[])
        AS t(id, param, composite_component, composite_element, entry_hash, low, high)),
    date_gone AS (DELETE FROM search_date s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM date_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    date_new AS (INSERT INTO search_date SELECT $1, $2, n.* FROM date_rows n ON CONFLICT DO NOTHING),
    number_rows AS (SELECT * FROM unnest($32::text[], $33::text[], $34::int2[], $35::int2[], $36::int8[], $37::text[], $38::int4[], $39::text[], $40::text[])
        AS t(id, param, composite_component, composite_element, entry_hash, value, exponent, range_low, range_high)),
    number_gone AS (DELETE FROM search_number s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM number_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    number_new AS (INSERT INTO search_number
        SELECT $1, $2, n.id, n.param, n.composite_component, n.composite_element, n.entry_hash, n.value::numeric,
               CASE WHEN n.value IS NULL THEN n.range_low::numeric ELSE n.value::numeric - 0.5 * power(10::numeric, n.exponent) END,
               CASE WHEN n.value IS NULL THEN n.range_high::numeric ELSE n.value::numeric + 0.5 * power(10::numeric, n.exponent) END
        FROM number_rows n ON CONFLICT DO NOTHING),
    quantity_rows AS (SELECT * FROM unnest($41::text[], $42::text[], $43::int2[], $44::int2[], $45::int8[], $46::text[], $47::int4[], $48::text[], $49::text[], $50::text[], $51::text[], $52::text[])
        AS t(id, param, composite_component, composite_element, entry_hash, value, exponent, range_low, range_high, system, code, unit)),
    quantity_gone AS (DELETE FROM search_quantity s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM quantity_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    quantity_new AS (INSERT INTO search_quantity
        SELECT $1, $2, n.id, n.param, n.composite_component, n.composite_element, n.entry_hash, n.value::numeric,
               CASE WHEN n.value IS NULL THEN n.range_low::numeric ELSE n.value::numeric - 0.5 * power(10::numeric, n.exponent) END,
               CASE WHEN n.value IS NULL THEN n.range_high::numeric ELSE n.value::numeric + 0.5 * power(10::numeric, n.exponent) END,
               n.system, n.code, n.unit
        FROM quantity_rows n ON CONFLICT DO NOTHING),
    reference_rows AS (SELECT * FROM unnest($53::text[], $54::text[], $55::int2[], $56::int2[], $57::int8[], $58::text[], $59::text[], $60::text[], $61::text[])
        AS t(id, param, composite_component, composite_element, entry_hash, target_type, target_id, url, version)),
    reference_gone AS (DELETE FROM search_reference s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM reference_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    reference_new AS (INSERT INTO search_reference SELECT $1, $2, n.* FROM reference_rows n ON CONFLICT DO NOTHING),
    uri_rows AS (SELECT * FROM unnest($62::text[], $63::text[], $64::int2[], $65::int2[], $66::int8[], $67::text[])
        AS t(id, param, composite_component, composite_element, entry_hash, value)),
    uri_gone AS (DELETE FROM search_uri s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM uri_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    uri_new AS (INSERT INTO search_uri SELECT $1, $2, n.* FROM uri_rows n ON CONFLICT DO NOTHING),
    text_rows AS (SELECT * FROM unnest($68::text[], $69::text[], $70::int2[], $71::int2[], $72::int8[], $73::text[])
        AS t(id, param, composite_component, composite_element, entry_hash, words)),
    text_gone AS (DELETE FROM search_text s WHERE s.tenant_key = $1 AND s.resource_type = $2 AND s.id = ANY($9::text[])
        AND NOT EXISTS (SELECT 1 FROM text_rows n WHERE n.id = s.id AND n.entry_hash = s.entry_hash)),
    text_new AS (INSERT INTO search_text
        SELECT $1, $2, n.id, n.param, n.entry_hash, to_tsvector('simple', n.words)
        FROM text_rows n ON CONFLICT DO NOTHING)
    SELECT count(*) FROM current_rows";

impl IndexRows {
    /// Appends `$9` onwards to `params`, matching [`WRITE_BATCH`].
    pub(crate) fn parameters<'a>(&'a self, params: &mut Vec<&'a (dyn ToSql + Sync)>) {
        params.push(&self.replaced_ids);
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
