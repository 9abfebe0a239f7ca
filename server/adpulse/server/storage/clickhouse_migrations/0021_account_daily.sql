-- Rollups are now kept by every insert as well as by backfills (see storage/rollups.py).
-- name_version is the fact version of the row campaign_name came from, so the latest name
-- over a range is chosen from the rollup exactly as from the facts: by (date, version).
ALTER TABLE campaign_daily ADD COLUMN IF NOT EXISTS name_version UInt64 AFTER campaign_name;

-- The daily rollup without campaign: tenant × date × platform × account × currency, derived
-- from campaign_daily the same way (new version per rebuild, tombstones for vanished keys).
CREATE TABLE IF NOT EXISTS account_daily
(
    tenant             LowCardinality(String),
    date               Date,
    platform           LowCardinality(String),
    account_id         String,
    currency           LowCardinality(String),
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
ORDER BY (tenant, date, platform, account_id, currency);

-- Lets a rollup refresh find the keys of one insert by its version without reading older parts.
ALTER TABLE ad_metrics ADD INDEX IF NOT EXISTS version_minmax version TYPE minmax GRANULARITY 1;
