"""Alerts that reach people: webhook subscriptions per tenant and their signed deliveries."""
