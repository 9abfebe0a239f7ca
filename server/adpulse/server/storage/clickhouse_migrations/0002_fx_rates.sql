-- Daily exchange rates per tenant: one base_currency is `rate` quote_currency on `date`.
-- Decimal so conversions are exact to 12 decimals; the newest upsert of a key wins.
CREATE TABLE IF NOT EXISTS fx_rates
(
    tenant         LowCardinality(String),
    date           Date,
    base_currency  LowCardinality(String),
    quote_currency LowCardinality(String),
    rate           Decimal128(12),
    version        UInt64,
    updated_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, quote_currency, base_currency, date);
