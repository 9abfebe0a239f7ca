"""The one check every request passes before any work: its size and its values within the caps.

It reads the request through its descriptor, so every RPC, present and future, is covered by
the same rules, and a refusal names the field (its path in the request) and the limit:

- text: no NUL or other control characters but tab and line breaks, at most `max_text_chars`;
- dates (`date`, `*_date`: `YYYY-MM-DD`; `month`: `YYYY-MM`) between 1970-01-01 and 2149-12-31
  (what both stores can hold), and a `start…`/`end…` pair at most the span its granularity
  allows (days for daily series, weeks, months);
- lists: filter values at most `max_filter_values`, any other list `max_request_items`;
- counts: page sizes, windows, moving averages and result caps not negative, windows and
  result caps at most their limit (a page size above the maximum is cut to it, AIP-158).

Use cases still check meaning (an end before a start, a window without enough history); this
module only keeps a call from asking for more than the server will do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from adpulse.server.domain.errors import FieldViolation, InvalidArgument
from adpulse.server.settings import Settings

FIRST_DATE = dt.date(1970, 1, 1)
LAST_DATE = dt.date(2149, 12, 31)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Span pairs: (start field, end field) within one message.
_PAIRS = (
    ("start_date", "end_date"),
    ("baseline_start_date", "baseline_end_date"),
    ("current_start_date", "current_end_date"),
)
# TimeGranularity values (analytics_service.proto): unspecified and DAY are daily.
_WEEK, _MONTH_GRANULARITY = 2, 3
_COUNTS = ("window_days", "moving_average", "max_contributors", "max_insights")


@dataclass(frozen=True)
class RequestLimits:
    """The caps; each is a setting (see settings.py and the README's limits table)."""

    max_text_chars: int
    max_filter_values: int
    max_request_items: int
    max_daily_span_days: int
    max_weekly_span_days: int
    max_monthly_span_days: int
    max_window_days: int
    max_results: int

    @classmethod
    def of(cls, settings: Settings) -> RequestLimits:
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})

    def check(self, request: Message) -> None:
        """Raises InvalidArgument naming every field over a cap (the first few hundred)."""
        violations = list(self._violations(request, ""))
        if violations:
            first = violations[0]
            raise InvalidArgument(
                f"{first.field}: {first.description}"
                + (f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""),
                first.reason,
                violations=violations,
            )

    def _violations(self, message: Message, prefix: str) -> Iterator[FieldViolation]:
        kind = message.DESCRIPTOR.full_name
        if kind in _TIME_TYPES:
            yield from _TIME_TYPES[kind](message, prefix.removesuffix(".") or "request")
            return
        for field, value in message.ListFields():
            path = f"{prefix}{field.name}"
            if field.is_repeated:
                yield from self._list(message, field, value, path)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                yield from self._violations(value, f"{path}.")
            else:
                yield from self._scalar(field, value, path)
        yield from self._spans(message, prefix)

    def _list(
        self, message: Message, field: FieldDescriptor, value: Any, path: str
    ) -> Iterator[FieldViolation]:
        is_filter = field.name == "values" and message.DESCRIPTOR.name == "DimensionFilter"
        cap = self.max_filter_values if is_filter else self.max_request_items
        if len(value) > cap:
            yield FieldViolation(
                path,
                f"has {len(value)} entries, at most {cap} are allowed; split the request",
                "TOO_MANY_VALUES",
            )
            return
        if field.type == FieldDescriptor.TYPE_MESSAGE and not _is_map(field):
            for i, item in enumerate(value):
                yield from self._violations(item, f"{path}[{i}].")
        elif field.type != FieldDescriptor.TYPE_MESSAGE:
            for i, item in enumerate(value):
                yield from self._scalar(field, item, f"{path}[{i}]")
        else:
            assert field.message_type is not None  # a map field's entry type
            entry = field.message_type.fields_by_name
            for key, item in value.items():
                yield from self._scalar(entry["key"], key, f"{path}[{key!r}]")
                item_field = entry["value"]
                if item_field.type == FieldDescriptor.TYPE_STRING:
                    yield from self._scalar(item_field, item, f"{path}[{key!r}]")

    def _scalar(self, field: FieldDescriptor, value: Any, path: str) -> Iterator[FieldViolation]:
        if field.type == FieldDescriptor.TYPE_STRING:
            yield from self._text(field.name, value, path)
        elif field.name == "page_size" and value < 0:
            yield FieldViolation(path, "must not be negative", "INVALID_PAGE_SIZE")
        elif field.name in _COUNTS:
            cap = (
                self.max_window_days if field.name in {"window_days", "moving_average"} else self.max_results
            )
            if not 0 <= value <= cap:
                yield FieldViolation(path, f"must be between 0 and {cap}, got {value}", "OUT_OF_RANGE")

    def _text(self, name: str, value: str, path: str) -> Iterator[FieldViolation]:
        if len(value) > self.max_text_chars:
            yield FieldViolation(
                path, f"is {len(value)} characters long, at most {self.max_text_chars}", "TEXT_TOO_LONG"
            )
        elif _CONTROL.search(value):
            yield FieldViolation(path, "contains a control character (such as NUL)", "CONTROL_CHARACTER")
        elif value and (name in {"date", "month"} or name.endswith("_date")):
            yield from _date(value, path)

    def _spans(self, message: Message, prefix: str) -> Iterator[FieldViolation]:
        fields = message.DESCRIPTOR.fields_by_name
        granularity = getattr(message, "granularity", 0) if "granularity" in fields else 0
        unit, cap = {
            _WEEK: ("weekly", self.max_weekly_span_days),
            _MONTH_GRANULARITY: ("monthly", self.max_monthly_span_days),
        }.get(granularity, ("daily", self.max_daily_span_days))
        for start_name, end_name in _PAIRS:
            if start_name not in fields or end_name not in fields:
                continue
            start, end = _parsed(getattr(message, start_name)), _parsed(getattr(message, end_name))
            if start and end and (end - start).days + 1 > cap:
                yield FieldViolation(
                    f"{prefix}{end_name}",
                    f"{start_name} to {end_name} spans {(end - start).days + 1} days; {unit} series "
                    f"may span at most {cap} days: narrow the range or use a coarser granularity",
                    "SPAN_TOO_LONG",
                )


def _timestamp(message: Any, path: str) -> Iterator[FieldViolation]:
    if not 0 <= message.nanos < 1_000_000_000:
        yield FieldViolation(path, "nanos must be between 0 and 999999999", "INVALID_TIMESTAMP")
    elif not _FIRST_SECOND <= message.seconds <= _LAST_SECOND:
        yield FieldViolation(
            path, "is outside the times accepted, 1970-01-01 to 2149-12-31 (UTC)", "DATE_OUT_OF_RANGE"
        )


def _duration(message: Any, path: str) -> Iterator[FieldViolation]:
    seconds, nanos = message.seconds, message.nanos
    if abs(nanos) >= 1_000_000_000 or (seconds and nanos and (seconds < 0) != (nanos < 0)):
        yield FieldViolation(
            path, "nanos must be within a second and of the seconds' sign", "INVALID_DURATION"
        )
    elif abs(seconds) > _MAX_DURATION_SECONDS:
        yield FieldViolation(path, f"must be within {_MAX_DURATION_SECONDS} seconds", "INVALID_DURATION")


_FIRST_SECOND = 0
_LAST_SECOND = int(dt.datetime(2150, 1, 1, tzinfo=dt.UTC).timestamp()) - 1
# Ten years: no wait, key lifetime or window a request names is longer.
_MAX_DURATION_SECONDS = 3660 * 86400
_TIME_TYPES = {"google.protobuf.Timestamp": _timestamp, "google.protobuf.Duration": _duration}


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:
        return None


def _parsed(text: str) -> dt.date | None:
    day = _day(text)
    return day if day is not None and FIRST_DATE <= day <= LAST_DATE else None


def _date(text: str, path: str) -> Iterator[FieldViolation]:
    """A violation when `text` (`YYYY-MM-DD` or `YYYY-MM`) names a year outside the range; its
    calendar (a 30 February) is the use case's to judge, next to the request's other faults."""
    if not (_DAY.fullmatch(text) or _MONTH.fullmatch(text)):
        return
    if not FIRST_DATE.year <= int(text[:4]) <= LAST_DATE.year:
        yield FieldViolation(
            path,
            f"{text} is outside the dates accepted, 1970-01-01 to 2149-12-31",
            "DATE_OUT_OF_RANGE",
        )
