-- Token and reference lookups by equality (`code=system|code`, `subject=Patient/1`) also
-- return their resources in id order, the order of a search's pages: with the resource id as
-- the last column, PostgreSQL merges the index with the resource's primary key and stops
-- after a page, instead of reading every match and sorting. At a million resources a LOINC
-- code held by 24,000 Observations went from 118 ms to 2 ms for the first page
-- (docs/benchmarks.md, "Search at a million resources"). The id makes each entry wider,
-- which writes pay for; measured there too.
CREATE INDEX search_token_code_id ON search_token (tenant_key, resource_type, param, code, system, id);
DROP INDEX search_token_code;
CREATE INDEX search_reference_target_id ON search_reference (tenant_key, resource_type, param, target_id, target_type, id);
DROP INDEX search_reference_target;
