-- A second word of the token signature on each reference row: `token_signature_high`, three
-- more bits per (param, code) from the next three bytes of the same MD5 digest
-- (storage/src/token_signature.rs). `_has` now tests both words. With one word, the rows
-- every Observation has (status, category, the code's composites) set so many bits that a
-- searched code's three were all set in about one Observation of ten that lacked it, and
-- each such Observation cost a lookup of its token rows for nothing: 2.2 lookups per match
-- over the generator's codes at a million resources, 1.0 with both words
-- (docs/benchmarks.md, "A second word for the token signature").
--
-- `token_signature` keeps its meaning and its values, so an Ember of schema 8 still running
-- while this one upgrades the database reads and writes it as before. Its rows get the new
-- column's default, every bit set, which passes every test of the second word: they are
-- filtered by the first word alone, as before, never missed.
--
-- Filled by rebuilding the table, as migration 8 did and for its reasons (an UPDATE of every
-- row doubled the table and its indexes). entry_hash stays as it was: Ember's hash now covers
-- both words, so the next update of a resource replaces its reference rows, as after
-- migration 8.
ALTER TABLE search_reference ADD COLUMN IF NOT EXISTS token_signature_high bigint NOT NULL DEFAULT -1;
CREATE TABLE search_reference_signed (LIKE search_reference INCLUDING DEFAULTS);

-- The rows go in in the order Ember writes them, a resource's rows together, which the join
-- below would not keep. Scattered by it, the `_has` probe's reference lookups read twice the
-- buffers (959 against 443 for 105 Patients at a million resources) and ran about a fifth
-- slower (docs/benchmarks.md). The sort's memory is raised for this transaction only.
SET LOCAL work_mem = '256MB';

INSERT INTO search_reference_signed
SELECT reference.tenant_key, reference.resource_type, reference.id, reference.param,
       reference.composite_component, reference.composite_element, reference.entry_hash,
       reference.target_type, reference.target_id, reference.url, reference.version,
       reference.token_signature, coalesce(signed.signature, 0)
FROM search_reference reference
LEFT JOIN (
    SELECT token.tenant_key, token.resource_type, token.id, bit_or(bits.value) AS signature
    FROM search_token token
    CROSS JOIN LATERAL (SELECT decode(md5(token.param || chr(31) || token.code), 'hex') AS digest) hashed
    CROSS JOIN LATERAL (SELECT (1::bigint << (get_byte(hashed.digest, 3) % 64))
                             | (1::bigint << (get_byte(hashed.digest, 4) % 64))
                             | (1::bigint << (get_byte(hashed.digest, 5) % 64)) AS value) bits
    WHERE token.code IS NOT NULL
    GROUP BY token.tenant_key, token.resource_type, token.id
) signed
  ON signed.tenant_key = reference.tenant_key
 AND signed.resource_type = reference.resource_type
 AND signed.id = reference.id
ORDER BY reference.tenant_key, reference.resource_type, reference.id;

DROP TABLE search_reference;
ALTER TABLE search_reference_signed RENAME TO search_reference;
-- As migration 8 made them, the second word added to the target index's entries.
ALTER TABLE search_reference ADD UNIQUE (tenant_key, resource_type, id, entry_hash);
CREATE INDEX search_reference_target_id ON search_reference
    (tenant_key, resource_type, param, target_id, target_type, id)
    INCLUDE (token_signature, token_signature_high);
CREATE INDEX search_reference_url ON search_reference (tenant_key, resource_type, param, url);
ALTER TABLE search_reference SET (autovacuum_analyze_scale_factor = 0.02);
ANALYZE search_reference;
