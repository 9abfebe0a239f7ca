-- Monthly budgets per campaign, set by SetBudget; pacing insights compare spend with them.
CREATE TABLE IF NOT EXISTS budgets (
    tenant        text        NOT NULL,
    platform      text        NOT NULL,
    account_id    text        NOT NULL,
    campaign_id   text        NOT NULL,
    month         date        NOT NULL CHECK (extract(day FROM month) = 1),
    amount_micros bigint      NOT NULL CHECK (amount_micros >= 0),
    currency      text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, month, platform, account_id, campaign_id)
);
