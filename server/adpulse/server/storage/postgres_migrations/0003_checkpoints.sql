-- Incremental loaders' checkpoints: an opaque cursor and the newest data date loaded.
CREATE TABLE IF NOT EXISTS ingest_checkpoints (
    tenant      text        NOT NULL,
    source      text        NOT NULL,
    name        text        NOT NULL,
    cursor      text        NOT NULL DEFAULT '',
    newest_date date,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, source, name)
);
