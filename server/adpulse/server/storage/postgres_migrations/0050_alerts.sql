-- Alert subscriptions and the delivery ledger. The signing secret is stored sealed (AES-GCM
-- under the server's alert key, bound to tenant and id), never in the clear: the server must
-- read it back to sign, and a copy of the database alone must not let anyone forge deliveries.
CREATE TABLE IF NOT EXISTS alert_subscriptions (
    tenant         text        NOT NULL,
    id             text        NOT NULL,
    display_name   text        NOT NULL,
    url            text        NOT NULL,
    trigger        text        NOT NULL CHECK (trigger IN ('incident', 'daily_digest')),
    min_severity   smallint    NOT NULL CHECK (min_severity BETWEEN 1 AND 4),
    payload_format text        NOT NULL CHECK (payload_format IN ('json', 'slack')),
    sealed_secret  bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);

CREATE INDEX IF NOT EXISTS alert_subscriptions_by_trigger ON alert_subscriptions (trigger, tenant);

-- One row per event sent to a subscription. UNIQUE (tenant, subscription_id, subject) is what
-- makes an incident alert once, however often detection finds it again; the state moves
-- pending -> sending -> delivered (never sent again), or back to pending with a later
-- next_attempt_at, or to failed / cancelled. Rows outlive their subscription, as history.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    tenant           text        NOT NULL,
    id               text        NOT NULL,
    subscription_id  text        NOT NULL,
    event            text        NOT NULL CHECK (event IN ('incident', 'daily_digest', 'test')),
    subject          text        NOT NULL,
    body             bytea       NOT NULL,
    state            text        NOT NULL DEFAULT 'pending'
                                 CHECK (state IN ('pending', 'sending', 'delivered', 'failed', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0,
    last_status_code integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    delivered_at     timestamptz,
    PRIMARY KEY (id),
    UNIQUE (tenant, subscription_id, subject)
);

CREATE INDEX IF NOT EXISTS alert_deliveries_newest ON alert_deliveries (tenant, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE state IN ('pending', 'sending');
