"""Storage adapters behind the ports: Postgres for bookkeeping, ClickHouse for facts."""
