-- Per-tenant settings; a tenant without a row has the defaults.
CREATE TABLE IF NOT EXISTS tenant_settings (
    tenant             text        PRIMARY KEY,
    reporting_currency text        NOT NULL DEFAULT '',
    updated_at         timestamptz NOT NULL DEFAULT now()
);
