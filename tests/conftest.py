"""Shared fixtures: one real server for the session, a fresh tenant per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient
from tests.support import rabbitmq
from tests.support.server import ServerProcess, running_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test shows the tail of the server's log: an INTERNAL answer names only an incident."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    server = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(server, ServerProcess):
        report.sections.append(("server log (tail)", "".join(server.output[-60:])))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("server") / "data") as process:
        yield process


@pytest.fixture
def tenant() -> str:
    """Each test writes under its own tenant, so tests sharing a server cannot see each other."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(server: ServerProcess, tenant: str) -> Iterator[AdpulseClient]:
    """Acts for the test's tenant with the server's operator key (tests/e2e/test_access.py
    shows what tenant keys may and may not do)."""
    with AdpulseClient(server.address, tenant=tenant, api_key=server.admin_key) as c:
        yield c


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one data path of chDB in this test process: chDB refuses a second path while the first
    is open, and with xdist a worker runs files in any order, so every test that opens chDB in
    the test process (not in a server subprocess) opens it here; tables and tenants keep them
    apart."""
    path = tmp_path_factory.mktemp("chdb") / "clickhouse"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def rabbitmq_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rabbitmq.Broker]:
    """One real RabbitMQ for the session (it takes seconds to start); tests take vhosts of it."""
    if not rabbitmq.available():
        pytest.skip("rabbitmq-server is not installed (`.ci/run` installs it)")
    with rabbitmq.running_rabbitmq(tmp_path_factory.mktemp("rabbitmq")) as broker:
        yield broker
