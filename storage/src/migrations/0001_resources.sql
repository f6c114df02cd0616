-- Ember schema 1: tenants, current resources, and every version of every resource.
-- See docs/storage.md for the layout, a worked example and the write order.

CREATE TABLE tenant (
    tenant_key integer PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenant (tenant_key, name) VALUES (1, 'default');

-- The current version of each resource: what read, search and conditional checks see.
-- A deleted resource keeps its row (deleted, body NULL) so a read can answer 410, not 404.
-- fillfactor leaves room on each page so an update can be a HOT update: the primary key
-- does not change, so no index entry is rewritten and the old tuple is pruned in place.
CREATE TABLE resource (
    tenant_key    integer     NOT NULL,
    resource_type text        NOT NULL,
    id            text        NOT NULL,
    version_id    bigint      NOT NULL,
    last_updated  timestamptz NOT NULL,
    deleted       boolean     NOT NULL,
    body          bytea,
    PRIMARY KEY (tenant_key, resource_type, id),
    CHECK (deleted = (body IS NULL))
) WITH (fillfactor = 85);

-- Every version, including the current one: vread and history read only this table.
-- Rows are only ever inserted, never updated, so this table produces no dead tuples.
-- seq orders versions written in the same microsecond, and is the tie-breaker of the
-- history paging cursor (last_updated, seq).
CREATE TABLE resource_version (
    tenant_key    integer     NOT NULL,
    resource_type text        NOT NULL,
    id            text        NOT NULL,
    version_id    bigint      NOT NULL,
    last_updated  timestamptz NOT NULL,
    method        text        NOT NULL CHECK (method IN ('POST', 'PUT', 'DELETE')),
    -- The status the write was answered with (201, 200, 204): history shows it per entry, and
    -- a PUT that re-creates a deleted resource answered 201 although it is not version 1.
    status        smallint    NOT NULL,
    body          bytea,
    seq           bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (tenant_key, resource_type, id, version_id),
    CHECK ((method = 'DELETE') = (body IS NULL))
);

-- Type-level and system-level history, newest first, with _since as an index range.
CREATE INDEX resource_version_type_history
    ON resource_version (tenant_key, resource_type, last_updated DESC, seq DESC);
CREATE INDEX resource_version_system_history
    ON resource_version (tenant_key, last_updated DESC, seq DESC);
