-- Ember schema 2: search index tables, one per kind of value. See docs/storage.md.
--
-- Every row carries the resource's key (tenant_key, resource_type, id), the parameter code,
-- and entry_hash: a hash of the parameter and the value, computed by Ember. An update writes
-- only the rows whose hash is new and deletes only those whose hash is gone, so updating a
-- resource without changing what it is searched by leaves no dead index tuples behind.
--
-- Parts of a composite parameter are rows of their own kind whose param is the composite's
-- code; composite_component says which part, composite_element which element of the
-- composite's expression they came from, so parts pair up within one element.
--
-- Value columns use the C collation: comparisons are byte-wise, as FHIR codes and the folded
-- search strings expect, and a btree can serve LIKE 'prefix%'. Columns joined to the
-- resource key (id, target_type, target_id) keep the database's collation, as resource does.

CREATE TABLE search_string (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    composite_component smallint,
    composite_element   smallint,
    entry_hash          bigint   NOT NULL,
    folded              text COLLATE "C" NOT NULL,
    exact               text COLLATE "C" NOT NULL,
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
CREATE INDEX search_string_value ON search_string (tenant_key, resource_type, param, folded);

CREATE TABLE search_token (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    composite_component smallint,
    composite_element   smallint,
    entry_hash          bigint   NOT NULL,
    system              text COLLATE "C",
    code                text COLLATE "C",
    -- The folded display or text, for :text.
    display             text COLLATE "C",
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
CREATE INDEX search_token_code ON search_token (tenant_key, resource_type, param, code, system);
CREATE INDEX search_token_system ON search_token (tenant_key, resource_type, param, system);

-- Dates as inclusive ranges of microseconds since 1970 (UTC); open ends are the extremes
-- of bigint, so every prefix is a plain comparison.
CREATE TABLE search_date (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    composite_component smallint,
    composite_element   smallint,
    entry_hash          bigint   NOT NULL,
    low                 bigint   NOT NULL,
    high                bigint   NOT NULL,
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
CREATE INDEX search_date_low ON search_date (tenant_key, resource_type, param, low);
CREATE INDEX search_date_high ON search_date (tenant_key, resource_type, param, high);

-- value is the decimal as written; low and high bound it by its implicit precision (or are
-- a Range's bounds, with value NULL). NULL bounds are open.
CREATE TABLE search_number (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    composite_component smallint,
    composite_element   smallint,
    entry_hash          bigint   NOT NULL,
    value               numeric,
    low                 numeric,
    high                numeric,
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
CREATE INDEX search_number_value ON search_number (tenant_key, resource_type, param, value);

CREATE TABLE search_quantity (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    composite_component smallint,
    composite_element   smallint,
    entry_hash          bigint   NOT NULL,
    value               numeric,
    low                 numeric,
    high                numeric,
    system              text COLLATE "C",
    code                text COLLATE "C",
    unit                text COLLATE "C",
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
CREATE INDEX search_quantity_value ON search_quantity (tenant_key, resource_type, param, code, value);

CREATE TABLE search_reference (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    composite_component smallint,
    composite_element   smallint,
    entry_hash          bigint   NOT NULL,
    -- The database's collation, like resource.resource_type and resource.id: chains,
    -- _include and _has join these to the resource key, and a join across collations cannot
    -- use the resource's primary key (measured: a sequential scan of a million resources).
    target_type         text,
    target_id           text,
    -- Absolute and canonical references, without the |version.
    url                 text COLLATE "C",
    version             text COLLATE "C",
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
-- Forward (subject=Patient/1, chains) and reverse (_revinclude, _has) lookups.
CREATE INDEX search_reference_target ON search_reference (tenant_key, resource_type, param, target_id, target_type);
CREATE INDEX search_reference_url ON search_reference (tenant_key, resource_type, param, url);

CREATE TABLE search_uri (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    composite_component smallint,
    composite_element   smallint,
    entry_hash          bigint   NOT NULL,
    value               text COLLATE "C" NOT NULL,
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
CREATE INDEX search_uri_value ON search_uri (tenant_key, resource_type, param, value);

-- _text (the narrative) and _content (every string), as full-text documents. The 'simple'
-- configuration: no stemming or stop words, so any language matches as written (Ember
-- folds case and accents before).
CREATE TABLE search_text (
    tenant_key          integer  NOT NULL,
    resource_type       text     NOT NULL,
    id                  text     NOT NULL,
    param               text     NOT NULL,
    entry_hash          bigint   NOT NULL,
    document            tsvector NOT NULL,
    UNIQUE (tenant_key, resource_type, id, entry_hash)
);
CREATE INDEX search_text_document ON search_text USING gin (document);

-- No index on resource.last_updated: it changes on every update, so indexing it would turn
-- every update of `resource` from a HOT update (no index entry written) into a full one.
-- `_lastUpdated` is a filter on rows found by the other criteria or by type.

-- Analyze the index tables after 2% of their rows changed rather than PostgreSQL's 10%:
-- search plans depend on their statistics, and they grow by many rows per resource.
ALTER TABLE search_string    SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE search_token     SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE search_date      SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE search_number    SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE search_quantity  SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE search_reference SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE search_uri       SET (autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE search_text      SET (autovacuum_analyze_scale_factor = 0.02);
