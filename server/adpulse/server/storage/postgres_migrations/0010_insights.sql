-- Insights found by GenerateInsights. The id is stable (derived from what the insight is
-- about), so finding the same thing again updates its numbers but keeps the reader's status
-- and feedback: a dismissed insight stays dismissed.
CREATE TABLE IF NOT EXISTS insights (
    tenant             text        NOT NULL,
    id                 text        NOT NULL,
    type               text        NOT NULL,
    severity           smallint    NOT NULL CHECK (severity BETWEEN 1 AND 4),
    title              text        NOT NULL,
    body               text        NOT NULL,
    impact_micros      bigint,
    currency           text        NOT NULL,
    period_start       date        NOT NULL,
    period_end         date        NOT NULL,
    subject            jsonb       NOT NULL,
    evidence           jsonb       NOT NULL,
    recommended_action text        NOT NULL,
    priority           double precision NOT NULL,
    status             text        NOT NULL DEFAULT 'new'
                                   CHECK (status IN ('new', 'acknowledged', 'dismissed')),
    feedback           text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);

CREATE INDEX IF NOT EXISTS insights_by_priority ON insights (tenant, priority DESC, period_end DESC, id);
