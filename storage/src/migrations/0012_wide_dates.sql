-- Date index rows wider than any single date, dateTime or instant (366 days, engine's
-- DateRange::WIDEST_POINT): Periods over a year, and open-ended ones. A search on a
-- parameter with one date per resource bounds `low` from a bound on `high` and back, which
-- only holds for narrower rows; the wide ones are read from this index beside that range
-- (storage/src/search/wide_dates.rs). Most Periods are a visit or a stay, so it stays small.
-- The predicate is written `high > low + …`, not `high - low > …`: an open Period is
-- [i64::MIN, i64::MAX], whose difference overflows. Searches state it word for word, or
-- PostgreSQL cannot use the index.
CREATE INDEX IF NOT EXISTS search_date_wide ON search_date (tenant_key, resource_type, param, low)
    INCLUDE (high, id)
    WHERE high > low + 31622400000000;
