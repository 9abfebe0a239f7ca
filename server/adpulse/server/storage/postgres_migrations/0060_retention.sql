-- How long a tenant's facts are kept (days before the daily scan's date); 0 keeps them for ever.
ALTER TABLE tenant_settings ADD COLUMN IF NOT EXISTS retention_days integer NOT NULL DEFAULT 0
    CHECK (retention_days >= 0);
