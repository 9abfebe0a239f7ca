"""The `adpulse` command line."""
