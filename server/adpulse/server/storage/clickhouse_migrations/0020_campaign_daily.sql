-- A daily rollup per campaign and currency, derived from ad_metrics by the backfill and the
-- daily scan (never written by ingest). A rebuild of a day writes every campaign of that day
-- with a new version and a tombstone (is_deleted = 1) for each campaign the day no longer
-- has, so reading FINAL gives exactly the facts' sums of the last rebuild.
CREATE TABLE IF NOT EXISTS campaign_daily
(
    tenant             LowCardinality(String),
    date               Date,
    platform           LowCardinality(String),
    account_id         String,
    campaign_id        String,
    currency           LowCardinality(String),
    campaign_name      String,
    ads                UInt64,
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
PARTITION BY toYYYYMM(date)
ORDER BY (tenant, date, platform, account_id, campaign_id, currency);
