-- Each tenant's data version: bumped by every change of what a query may answer (acknowledged
-- batch, exchange rates, reporting currency). Result caches key by it, so a cache in any server
-- process sees a change made through any other at once. No row means version 0.
CREATE TABLE IF NOT EXISTS tenant_data_versions (
    tenant     text        PRIMARY KEY,
    version    bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
