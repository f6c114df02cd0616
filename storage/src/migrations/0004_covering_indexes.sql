-- String and date criteria are ranges (`name=mill` is every folded value from "mill" up to
-- "milm"; a birth year is a range of `low` and `high`), so a search reads every matching
-- index entry, not only a page's worth. With the resource id (and, for dates, the other
-- bound) in the index, PostgreSQL answers from the index alone instead of visiting the
-- table row of each entry: at a million resources, Patient by name went from 835-908 to
-- 1,070 searches/s at 16 clients, Patient by birth year from 967-1,099 to 1,153-1,168
-- (docs/benchmarks.md, "Search at a million resources", 2026-12-04). Writes pay for the
-- wider entries; measured there too.
CREATE INDEX search_string_value_covering ON search_string (tenant_key, resource_type, param, folded) INCLUDE (id);
DROP INDEX search_string_value;
CREATE INDEX search_date_low_covering ON search_date (tenant_key, resource_type, param, low) INCLUDE (high, id);
DROP INDEX search_date_low;
CREATE INDEX search_date_high_covering ON search_date (tenant_key, resource_type, param, high) INCLUDE (low, id);
DROP INDEX search_date_high;
