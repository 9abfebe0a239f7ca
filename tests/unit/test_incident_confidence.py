"""Incident confidence: above 0 for every flagged incident, rising with the score, and judged
against each metric's own band (CPC's is narrower, so the same score is surer)."""

import itertools

from adpulse.server.domain.analytics import BAND_SCALE, Metric, Sensitivity, incident_confidence


def test_confidence_is_half_at_each_metrics_high_band_and_rises_with_the_score() -> None:
    for metric in Metric:
        band = Sensitivity.HIGH.threshold * BAND_SCALE.get(metric, 1.0)
        assert abs(incident_confidence(band, metric) - 0.5) < 1e-12
        scores = [0.5, 2.0, band, 7.5, 9.5, 30.0]
        sure = [incident_confidence(s, metric) for s in scores]
        assert all(0 < a < b < 1 for a, b in itertools.pairwise(sure))
        assert incident_confidence(-7.5, metric) == incident_confidence(7.5, metric)


def test_a_cpc_score_is_surer_than_the_same_score_of_spend() -> None:
    assert incident_confidence(4.0, Metric.CPC) > incident_confidence(4.0, Metric.COST)


def test_no_score_means_no_confidence() -> None:
    for score in (None, 0.0, float("nan"), float("inf")):
        assert incident_confidence(score, Metric.COST) == 0.0
