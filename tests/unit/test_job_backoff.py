"""Retry delays of jobs whose store failed transiently."""

from __future__ import annotations

from adpulse.server.worker.celery_app import RETRY_CAP_SECONDS, backoff_seconds


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    for retries in range(12):
        ceiling = min(RETRY_CAP_SECONDS, 2.0**retries)
        delays = {backoff_seconds(retries) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered: workers that failed together spread out
