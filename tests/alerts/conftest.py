"""Fixtures of the alert tests: a server that retries deliveries within seconds, and real
webhook receivers (tests/alerts/receiver.py) as processes that a test can kill."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adpulse.client import AdpulseClient
from tests.support.server import ServerProcess, running_server

ROOT = Path(__file__).resolve().parents[2]
# Retries within seconds, the upkeep every second, and the daily digest due at any time of day.
FAST_ALERTS = {
    "ADPULSE_ALERT_RETRY_BASE_SECONDS": "1",
    "ADPULSE_ALERT_RETRY_CAP_SECONDS": "2",
    "ADPULSE_ALERT_MAX_ATTEMPTS": "6",
    "ADPULSE_ALERT_TIMEOUT_SECONDS": "3",
    "ADPULSE_RECONCILE_SECONDS": "1",
    "ADPULSE_ALERT_DIGEST_AT": "00:00",
}


@pytest.fixture(scope="module")
def alerts_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("alerts") / "data", FAST_ALERTS) as process:
        yield process


@pytest.fixture
def alerts_client(alerts_server: ServerProcess, tenant: str) -> Iterator[AdpulseClient]:
    with AdpulseClient(alerts_server.address, api_key=alerts_server.admin_key, tenant=tenant) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    """A receiver on a fixed port: it can be killed and started again on the same port."""

    port: int
    log: Path
    secret: str = ""
    process: subprocess.Popen[str] | None = None
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/adpulse"

    def start(self, *options: str) -> None:
        assert self.secret, "set the signing secret first"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.alerts.receiver",
                str(self.port),
                str(self.log),
                self.secret,
                *options,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.started.append(self.process)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "listening"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(10)

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Callable[[], Receiver]]:
    """Makes receivers, each on its own port and log; every process they started is ended."""
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver(free_port(), tmp_path / f"received-{len(made)}.jsonl"))
        return made[-1]

    yield make
    for process in (p for r in made for p in r.started):
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.fixture
def receiver(receivers: Callable[[], Receiver]) -> Receiver:
    return receivers()
