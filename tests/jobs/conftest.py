"""Fixtures of the job tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jobs.support import big_facts
from tests.support.facts import Fact, to_csv


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, list[Fact]]:
    """A server data dir whose import directory holds big.csv."""
    facts = big_facts()
    data = tmp_path / "data"
    (data / "imports").mkdir(parents=True)
    (data / "imports" / "big.csv").write_text(to_csv(f.csv_values() for f in facts))
    return data, facts
