-- Long-running operations (AIP-151). The row is the whole truth about an operation: a task
-- message only names it. `checkpoint` is where the work stands, so any worker can resume it.
CREATE TABLE IF NOT EXISTS operations (
    op_id            text        PRIMARY KEY,
    tenant           text        NOT NULL,
    kind             text        NOT NULL,
    state            text        NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params           jsonb       NOT NULL,
    request_id       text,
    percent          double precision NOT NULL DEFAULT 0,
    rows_done        bigint      NOT NULL DEFAULT 0,
    rows_total       bigint      NOT NULL DEFAULT 0,
    step             text        NOT NULL DEFAULT '',
    checkpoint       jsonb       NOT NULL DEFAULT '{}',
    result           jsonb,
    error            jsonb,
    cancel_requested boolean     NOT NULL DEFAULT false,
    recoveries       integer     NOT NULL DEFAULT 0,
    owner            text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
-- AIP-155: a retried start with the same request id finds the operation of the first.
CREATE UNIQUE INDEX IF NOT EXISTS operations_request_id ON operations (tenant, kind, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS operations_by_tenant ON operations (tenant, created_at DESC, op_id DESC);
-- What the reconciler scans: the few operations not yet done.
CREATE INDEX IF NOT EXISTS operations_pending ON operations (updated_at) WHERE state IN ('queued', 'running');
