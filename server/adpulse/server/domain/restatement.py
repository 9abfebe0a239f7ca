"""How long each platform keeps restating a day (late conversions): data inside the window is
provisional, since a later delivery may still replace it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

# Attribution windows after which the platforms stop revising a day's numbers.
DEFAULT_WINDOW_DAYS: Mapping[str, int] = {
    "google_ads": 14,
    "meta_ads": 28,
    "tiktok_ads": 3,
    "linkedin_ads": 7,
}
FALLBACK_WINDOW_DAYS = 7


@dataclass(frozen=True)
class RestatementWindows:
    """Days of restatement per platform; `overrides` (e.g. LinkedIn's) win over the defaults."""

    overrides: Mapping[str, int] = field(default_factory=dict)

    def days(self, platform: str) -> int:
        return self.overrides.get(platform, DEFAULT_WINDOW_DAYS.get(platform, FALLBACK_WINDOW_DAYS))

    def provisional_from(self, platform: str, today: dt.date) -> dt.date:
        """The first data date of `platform` that may still be restated as of `today`."""
        return today - dt.timedelta(days=self.days(platform))

    @classmethod
    def parse(cls, text: str) -> RestatementWindows:
        """`platform=days,…`, as in ADPULSE_RESTATEMENT_DAYS."""
        overrides = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            platform, sep, days = part.partition("=")
            if not sep or not days.strip().isdigit():
                raise ValueError(f"restatement window {part!r} is not platform=days")
            overrides[platform.strip()] = int(days)
        return cls(overrides)
