-- Ingestion runs: one per ingest stream, with its counts, drift and outcome. A run is
-- 'running' until its stream ends; one whose server stopped heartbeating reads as abandoned.
CREATE TABLE IF NOT EXISTS ingestion_runs (
    tenant          text        NOT NULL,
    run_id          text        NOT NULL,
    source          text        NOT NULL,
    stream_id       text        NOT NULL DEFAULT '',
    state           text        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
    owner           text        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    batches         bigint      NOT NULL DEFAULT 0,
    rows_accepted   bigint      NOT NULL DEFAULT 0,
    rows_rejected   bigint      NOT NULL DEFAULT 0,
    rows_duplicate  bigint      NOT NULL DEFAULT 0,
    bytes           bigint      NOT NULL DEFAULT 0,
    ignored_columns text[]      NOT NULL DEFAULT '{}',
    missing_columns text[]      NOT NULL DEFAULT '{}',
    platforms       text[]      NOT NULL DEFAULT '{}',
    oldest_date     date,
    newest_date     date,
    error           text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, run_id)
);
CREATE INDEX IF NOT EXISTS ingestion_runs_by_start ON ingestion_runs (tenant, started_at DESC, run_id);

-- Where each named stream got to, so a restarted loader resumes after its last batch.
CREATE TABLE IF NOT EXISTS ingest_streams (
    tenant            text        NOT NULL,
    stream_id         text        NOT NULL,
    last_batch_id     text        NOT NULL,
    committed_batches bigint      NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, stream_id)
);

-- Live server processes; a run whose owner stopped heartbeating was abandoned.
CREATE TABLE IF NOT EXISTS server_instances (
    instance_id  text        PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE ingest_batches ADD COLUMN IF NOT EXISTS run_id text;
