"""Output of the CLI: aligned text tables for people, JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def _json_default(value: object) -> object:
    # Decimals come from exact micros (at most six decimals), so the float prints the same digits.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(document: Any) -> str:
    return json.dumps(document, default=_json_default, ensure_ascii=False)


def cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
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
