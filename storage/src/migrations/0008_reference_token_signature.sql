-- Each reference row carries the token signature of the resource it belongs to (the
-- referring resource): a 64-bit Bloom filter of that resource's token rows
-- (storage/src/token_signature.rs). `_has` with a token criterion tests it in the reference
-- index entry before looking up any token row, and passes over almost every referring
-- resource that lacks the code (docs/benchmarks.md, "Token signatures on reference rows").
--
-- The rows written before this version are signed by rebuilding the table rather than
-- updating it in place: an UPDATE of every row left the table and its unique index twice
-- their size, and an index built in the same transaction held an entry for each dead row
-- too (712 MB against about half that; each `_has` lookup read twice the pages). Measured at
-- a million resources: docs/benchmarks.md.
-- The default, every bit set, passes every signature test: a row written without a signature
-- (by an Ember of schema 7 still running while this one upgrades the database) is then
-- looked up as before rather than missed.
ALTER TABLE search_reference ADD COLUMN IF NOT EXISTS token_signature bigint NOT NULL DEFAULT -1;
-- Columns, collations, NOT NULL and defaults; the indexes are built after the rows are in.
CREATE TABLE search_reference_signed (LIKE search_reference INCLUDING DEFAULTS);

-- Signed as Ember signs: each (param, code) of a token row sets the bits given by the first
-- three bytes of md5(param || U+001F || code), modulo 64. A resource without token rows
-- keeps 0, which no token criterion matches, correctly. entry_hash stays as it was: the next
-- update of the resource finds Ember's hash (which covers the signature) different and
-- replaces the rows, as migration 7 describes.
INSERT INTO search_reference_signed
SELECT reference.tenant_key, reference.resource_type, reference.id, reference.param,
       reference.composite_component, reference.composite_element, reference.entry_hash,
       reference.target_type, reference.target_id, reference.url, reference.version,
       coalesce(signed.signature, 0)
FROM search_reference reference
LEFT JOIN (
    SELECT token.tenant_key, token.resource_type, token.id, bit_or(bits.value) AS signature
    FROM search_token token
    CROSS JOIN LATERAL (SELECT decode(md5(token.param || chr(31) || token.code), 'hex') AS digest) hashed
    CROSS JOIN LATERAL (SELECT (1::bigint << (get_byte(hashed.digest, 0) % 64))
                             | (1::bigint << (get_byte(hashed.digest, 1) % 64))
                             | (1::bigint << (get_byte(hashed.digest, 2) % 64)) AS value) bits
    WHERE token.code IS NOT NULL
    GROUP BY token.tenant_key, token.resource_type, token.id
) signed
  ON signed.tenant_key = reference.tenant_key
 AND signed.resource_type = reference.resource_type
 AND signed.id = reference.id;

DROP TABLE search_reference;
ALTER TABLE search_reference_signed RENAME TO search_reference;
-- As migrations 2 and 3 made them, under the same names; the signature is part of the
-- target index's entries, so the `_has` test needs no table row.
ALTER TABLE search_reference ADD UNIQUE (tenant_key, resource_type, id, entry_hash);
CREATE INDEX search_reference_target_id ON search_reference
    (tenant_key, resource_type, param, target_id, target_type, id) INCLUDE (token_signature);
CREATE INDEX search_reference_url ON search_reference (tenant_key, resource_type, param, url);
ALTER TABLE search_reference SET (autovacuum_analyze_scale_factor = 0.02);
-- A new table has no statistics until autovacuum gets to it, and without them the planner
-- takes every tenant and type condition to match one row (see write_statement.rs).
ANALYZE search_reference;
