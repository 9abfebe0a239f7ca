"""Fixtures of the job tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jobs.support import TENANT, big_facts
from tests.support.facts import Fact, to_csv


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, list[Fact]]:
    """A server data dir whose import directory of TENANT holds big.csv."""
    facts = big_facts()
    data = tmp_path / "data"
    (data / "imports" / TENANT).mkdir(parents=True)
    (data / "imports" / TENANT / "big.csv").write_text(to_csv(f.csv_values() for f in facts))
    return data, facts
