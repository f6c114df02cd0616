-- A string criterion's matches in id order, one run per distinct folded value: with the id
-- as a key column after the folded value (it was an INCLUDE column, unordered), the rows of
-- one value are listed in id order, so a page of `Patient?name=smith` is the first rows of
-- each value in the prefix range, merged (`search/runs.rs`), instead of every row of the
-- range read and sorted. Same columns, same size; index-only scans of a range are as before.
-- At a million resources a family name has about 700 rows: docs/benchmarks.md, "A string
-- criterion paged from its runs".
CREATE INDEX search_string_folded_then_id ON search_string (tenant_key, resource_type, param, folded, id);
DROP INDEX search_string_value_covering;
