-- The search index of SearchDimensionValues: one row per account, campaign, ad group and ad of
-- a tenant (and currency), kept by every insert and backfill (storage/dimension_values.py).
-- days/costs hold the value's daily cost over the 30 days before the tenant's newest date at
-- its last refresh, so a search sums its recent cost without reading the facts; last_date is
-- the value's newest fact date (retention deletes values whose facts are all gone).
CREATE TABLE IF NOT EXISTS dimension_values
(
    tenant       LowCardinality(String),
    kind         LowCardinality(String),
    platform     LowCardinality(String),
    account_id   String,
    campaign_id  String,
    ad_group_id  String,
    ad_id        String,
    currency     LowCardinality(String),
    id           String,
    name         String,
    name_date    Date,
    name_version UInt64,
    last_date    Date,
    days         Array(Date),
    costs        Array(Int64),
    version      UInt64,
    rebuilt_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, kind, platform, account_id, campaign_id, ad_group_id, ad_id, currency);
