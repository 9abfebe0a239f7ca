-- Tenants and their API keys. A key is stored as the SHA-256 of its secret, never the secret.
CREATE TABLE IF NOT EXISTS tenants (
    name       text        PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Calls without a tenant header act for `default`, which therefore always exists.
INSERT INTO tenants (name) VALUES ('default') ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS api_keys (
    key_id        text        PRIMARY KEY,
    name          text        NOT NULL DEFAULT '',
    -- NULL for an operator key, which stands above the tenants.
    tenant        text        REFERENCES tenants (name),
    scopes        text[]      NOT NULL,
    secret_sha256 bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    CHECK ((tenant IS NULL) = ('operator' = ANY (scopes)))
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant, created_at DESC);
