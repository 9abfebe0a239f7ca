-- The fact table. One row per tenant × date × platform × account × campaign × ad group × ad;
-- a re-delivered key replaces the earlier row (highest version wins), and queries read FINAL.
-- Money and conversions are integer millionths so sums are exact.
CREATE TABLE IF NOT EXISTS ad_metrics
(
    tenant             LowCardinality(String),
    date               Date,
    platform           LowCardinality(String),
    account_id         String,
    campaign_id        String,
    campaign_name      String,
    ad_group_id        String,
    ad_id              String,
    currency           LowCardinality(String),
    impressions        Int64,
    clicks             Int64,
    cost_micros        Int64,
    conversions_micros Int64,
    revenue_micros     Int64,
    version            UInt64,
    ingested_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (tenant, date, platform, account_id, campaign_id, ad_group_id, ad_id);
