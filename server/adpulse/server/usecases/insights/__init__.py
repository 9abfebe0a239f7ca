"""GenerateInsights and the stored insights and budgets.

One fetch of daily sums per campaign feeds everything: the kernel detects anomalies in eight
metrics, explains each incident by the campaign's ad groups and ads, ranks movers, judges
campaigns against their account, reallocates spend by marginal ROAS and paces budgets. This
package chooses, words and prices what the kernel found; it computes nothing heavier than a
product of two numbers.
"""

from adpulse.server.usecases.insights.campaigns import ACCOUNT_KEYS, AD_KEYS, CAMPAIGN_KEYS
from adpulse.server.usecases.insights.clusters import DETECT_METRICS
from adpulse.server.usecases.insights.context import WINDOW_DAYS
from adpulse.server.usecases.insights.incidents import Story
from adpulse.server.usecases.insights.reallocation import MIN_REALLOCATION_DAYS
from adpulse.server.usecases.insights.underperformers import MIN_SHARE_OF_ACCOUNT, UNDERPERFORMANCE
from adpulse.server.usecases.insights.usecase import InsightsReport, InsightsRun, InsightsUseCase
from adpulse.server.usecases.insights.wording import money, percent, span

__all__ = [
    "ACCOUNT_KEYS",
    "AD_KEYS",
    "CAMPAIGN_KEYS",
    "DETECT_METRICS",
    "MIN_REALLOCATION_DAYS",
    "MIN_SHARE_OF_ACCOUNT",
    "UNDERPERFORMANCE",
    "WINDOW_DAYS",
    "InsightsReport",
    "InsightsRun",
    "InsightsUseCase",
    "Story",
    "money",
    "percent",
    "span",
]
