"""Helpers the tests share: a real server process, data builders, an independent reference."""
