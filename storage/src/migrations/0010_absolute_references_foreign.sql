-- An absolute reference names a resource of this server only when it starts with this
-- server's base (engine/src/index/reference.rs, docs/search.md "Absolute references").
-- Rows written before gave every absolute URL ending in `Type/id` that local target, so
-- `subject=Patient/1` found an Observation of `http://elsewhere/fhir/Patient/1` and chains,
-- `_revinclude`, `_has` and compartments followed it to this server's Patient/1.
--
-- The database does not know the base each row's writer used, so every such row is made
-- another server's: a wrong match is worse than a missed one. A reference under this
-- server's base is local again when its resource is next written. entry_hash stays as it
-- was: Ember's hash covers the target, so that write replaces these rows.
UPDATE search_reference SET target_type = NULL, target_id = NULL
WHERE url IS NOT NULL AND target_id IS NOT NULL;
