-- A token criterion tested for one resource (`Patient?_has:Observation:subject:code=…` tests
-- each Observation of each candidate Patient) needs that resource's index row with that code.
-- With the id right after the code it is one index-only lookup, whatever the system; with the
-- system between them a bare code could not reach the id, and PostgreSQL read the resource's
-- token rows through the unique key and the table (ten rows filtered out per Observation).
-- A code alone now lists its resources in id order across systems too; `system|code` tests
-- the system in the index entry. Same columns, same size (500 MB at a million resources);
-- `_has` went from 425-429 to 520-541 searches/s at 16 clients, the other token shapes did
-- not change (docs/benchmarks.md, "Token index rows ordered by id after the code").
CREATE INDEX search_token_code_then_id ON search_token (tenant_key, resource_type, param, code, id) INCLUDE (system);
DROP INDEX search_token_code_id;
