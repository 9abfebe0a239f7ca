-- The monthly rollup per campaign (month is the month's first day), derived from campaign_daily;
-- name_date and name_version say which day's row its campaign_name came from.
CREATE TABLE IF NOT EXISTS campaign_monthly
(
    tenant             LowCardinality(String),
    month              Date,
    platform           LowCardinality(String),
    account_id         String,
    campaign_id        String,
    currency           LowCardinality(String),
    campaign_name      String,
    name_date          Date,
    name_version       UInt64,
    impressions        Int64,
    clicks             Int64,
    cost_micros        Int64,
    conversions_micros Int64,
    revenue_micros     Int64,
    version            UInt64,
    is_deleted         UInt8,
    rebuilt_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY toYear(month)
ORDER BY (tenant, month, platform, account_id, campaign_id, currency);
