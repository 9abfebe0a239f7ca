-- The batch ledger: every batch id a tenant used, the digest of its content, and its outcome.
-- A claim is 'pending' until the rows are in the fact table; then 'committed'.
CREATE SEQUENCE IF NOT EXISTS fact_version_seq;

CREATE TABLE IF NOT EXISTS ingest_batches (
    tenant           text        NOT NULL,
    batch_id         text        NOT NULL,
    digest           text        NOT NULL,
    version          bigint      NOT NULL,
    state            text        NOT NULL CHECK (state IN ('pending', 'committed')),
    accepted         bigint,
    rejected         bigint,
    duplicates       bigint,
    errors           jsonb,
    errors_truncated boolean,
    ignored_columns  text[],
    claimed_at       timestamptz NOT NULL DEFAULT now(),
    committed_at     timestamptz,
    PRIMARY KEY (tenant, batch_id)
);
