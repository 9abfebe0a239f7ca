"""Numbered SQL migrations shipped beside each store's adapter, applied in order on start."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load(directory: Path) -> list[Migration]:
    """Migrations of a directory in version order; each file holds `;`-terminated statements."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.fullmatch(path.name)
        if not match:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_name.sql")
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
        statements = tuple(s.strip() for s in text.split(";") if s.strip())
        migrations.append(Migration(int(match.group(1)), path.stem, statements))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory.name}")
    return migrations
