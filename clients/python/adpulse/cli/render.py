"""Output of the CLI: aligned text tables for people, JSON for programs.

One number format for every table: integers with thousands separators, money (Decimal) to two
decimals, ratios (float) to four significant digits, percents to two decimals, never scientific
notation. One JSON shape for every command: snake_case keys, integers as numbers, money as
decimal strings (`money_text`: "12.50", at most six decimals), undefined values as null; a
protobuf field `cost_micros` is printed as `cost` in currency units.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from adpulse.client.metrics import MICROS, money_text

_INT64_TYPES = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_INT64_WRAPPERS = {"google.protobuf.Int64Value", "google.protobuf.UInt64Value"}
_MICROS_SUFFIX = "_micros"


class Percent(float):
    """A fraction shown as a percent in tables (0.1234 → 12.34%)."""


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return money_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(document: Any) -> str:
    return json.dumps(document, default=_json_default, ensure_ascii=False)


def message_json(message: Message) -> dict[str, Any]:
    """A response message in the CLI's JSON shape (see the module's doc)."""
    document = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return _plain(message.DESCRIPTOR, document)


def _plain(descriptor: Descriptor | Any, document: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in document.items():
        field = descriptor.fields_by_name.get(key)
        if field is None:
            out[key] = value
            continue
        repeated = field.is_repeated and not _is_map(field)
        plain = [_value(field, v) for v in value] if repeated else _value(field, value)
        if key.endswith(_MICROS_SUFFIX) and isinstance(plain, int):
            out[key.removesuffix(_MICROS_SUFFIX)] = money_text(Decimal(plain) / MICROS)
        else:
            out[key] = plain
    return out


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _value(field: FieldDescriptor, value: Any) -> Any:
    kind = field.message_type
    if kind is None:
        return int(value) if field.type in _INT64_TYPES else value
    if kind.full_name in _INT64_WRAPPERS:
        return int(value)
    if kind.full_name.startswith("google.protobuf.") or _is_map(field):
        return value  # timestamps, durations, structs and maps keep their JSON form
    return _plain(kind, value)


def ratio_text(value: float) -> str:
    """Four significant digits, thousands separators, no exponent: 0.04, 3.138, 12,346."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def percent_text(fraction: float) -> str:
    return f"{fraction * 100:,.2f}%"


def cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, Percent):
        return percent_text(value)
    if isinstance(value, float):
        return ratio_text(value)
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned table; numbers align right."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in texts]) for i, h in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(r) for r in texts)
    return "\n".join(s.rstrip() for s in out)


def key_values(specs: Sequence[str], flag: str) -> dict[str, str]:
    """`KEY=VALUE` flags into a mapping; a malformed one ends the command with a message."""
    out = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise SystemExit(f"adpulse: bad {flag} {spec!r}; expected KEY=VALUE")
        out[key.strip()] = value
    return out
