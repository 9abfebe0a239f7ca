"""Starts the real server (`python -m adpulse.server.main`) on a free port as a subprocess."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_SECONDS = 120
# Test servers refuse gzip payloads above this much decompressed data (the default is 1 GiB),
# so a gzip bomb test needs to build only a few hundred MiB.
SESSION_DECOMPRESSED_LIMIT = 256 << 20


@dataclass
class ServerProcess:
    """A running server: its address, data dir, and everything it printed so far."""

    process: subprocess.Popen[str]
    address: str
    data_dir: Path
    output: list[str] = field(default_factory=list)

    @property
    def metrics_url(self) -> str:
        """The server's Prometheus endpoint, from the line it printed at start."""
        for line in self.output:
            if line.startswith("adpulse metrics on "):
                return line.split()[-1]
        raise LookupError("the server serves no metrics")

    @property
    def log(self) -> str:
        return "".join(self.output)

    @property
    def admin_key(self) -> str:
        """The operator key the server wrote to its data dir on its first start."""
        return (self.data_dir / "admin.key").read_text().strip()

    @property
    def key_metadata(self) -> tuple[tuple[str, str]]:
        """Call metadata with the operator key, for raw stubs."""
        return (("authorization", f"Bearer {self.admin_key}"),)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


_ANNOUNCED = re.compile(r"adpulse serving on (\S+:\d+)")


def _pump(stream: object, sink: list[str], ready: threading.Event, address: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.append(line)
        # Searched, not matched at the start: another thread's output may share the line.
        found = _ANNOUNCED.search(line)
        if found and not address:
            address.append(found.group(1))
            ready.set()
    ready.set()


def start_server(data_dir: Path, env: Mapping[str, str] | None = None) -> ServerProcess:
    full_env = {
        **os.environ,
        "ADPULSE_LISTEN": "127.0.0.1:0",
        "ADPULSE_METRICS_LISTEN": "127.0.0.1:0",
        "ADPULSE_DATA_DIR": str(data_dir),
        "ADPULSE_SHUTDOWN_GRACE_SECONDS": "20",
        "ADPULSE_MAX_DECOMPRESSED_BYTES": str(SESSION_DECOMPRESSED_LIMIT),
        # The daily scan would run at 02:00 UTC in the middle of whichever tests are running then,
        # finding incidents of their data that they do not expect; the tests of the scan turn it on.
        "ADPULSE_DAILY_SCAN_AT": "off",
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "adpulse.server.main"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    ready = threading.Event()
    address: list[str] = []
    threading.Thread(target=_pump, args=(process.stdout, output, ready, address), daemon=True).start()
    ready.wait(STARTUP_SECONDS)
    if not address:
        process.kill()
        process.wait()
        raise RuntimeError("server did not start:\n" + "".join(output))
    return ServerProcess(process, address[0], data_dir, output)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stops a Postgres the server left behind (it does when it is SIGKILLed)."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)  # fast shutdown
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)


@contextlib.contextmanager
def running_server(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[ServerProcess]:
    server = start_server(data_dir, env)
    try:
        yield server
    finally:
        try:
            server.terminate()
        except subprocess.TimeoutExpired:
            server.kill()
        stop_embedded_postgres(data_dir)


@dataclass
class WorkerProcess:
    """A running `adpulse worker` and everything it printed so far."""

    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        return "".join(self.output)


def start_worker(data_dir: Path, env: Mapping[str, str], *, beat: bool = False) -> WorkerProcess:
    """`adpulse worker` (the deployed shape's job worker) as a subprocess; `env` names at least
    the broker and the Postgres. It logs as it goes; nothing marks it ready."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("adpulse")), "worker", "--concurrency", "1"]
        + (["--beat"] if beat else []),
        env={
            **os.environ,
            "ADPULSE_DATA_DIR": str(data_dir),
            "ADPULSE_WORKER_METRICS_LISTEN": "127.0.0.1:0",
            # Under the test's own directory: a SIGKILLed worker cannot clean up after itself.
            "PROMETHEUS_MULTIPROC_DIR": str(data_dir.parent / f"worker-metrics-{uuid.uuid4().hex[:8]}"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=_pump, args=(process.stdout, output, threading.Event(), []), daemon=True).start()
    return WorkerProcess(process, output)
