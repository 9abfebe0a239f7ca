"""A real RabbitMQ server for tests: on loopback, with its own node name, ports (AMQP, Erlang
distribution, epmd) and data dir under a temporary directory, so it disturbs nothing else on
the machine. Starting takes several seconds: a session starts it once (see conftest)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import kombu
from kombu.exceptions import KombuError

# Debian's package; its /usr/sbin wrapper would switch to the rabbitmq user, this one does not.
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL = SERVER.with_name("rabbitmqctl")
STARTUP_SECONDS = 90


def available() -> bool:
    return SERVER.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A running broker; each test takes a virtual host of its own, so a message one test's
    server left behind never reaches another test's server."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self._port = port
        self._env = env

    def vhost_url(self) -> str:
        vhost = f"t-{uuid.uuid4().hex[:12]}"
        for args in (["add_vhost", vhost], ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]):
            subprocess.run([str(CTL), *args], env=self._env, capture_output=True, check=True, timeout=60)
        return f"amqp://guest:guest@127.0.0.1:{self._port}/{vhost}"


@contextlib.contextmanager
def running_rabbitmq(base: Path) -> Iterator[Broker]:
    """A fresh broker; stopped (with its epmd) afterwards."""
    amqp, dist, epmd = _free_port(), _free_port(), _free_port()
    base.mkdir(parents=True, exist_ok=True)
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{amqp}\nloopback_users = none\n")
    env = {
        **os.environ,
        "HOME": str(base),  # the Erlang cookie goes here
        "RABBITMQ_NODENAME": f"adpulse-test-{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_LOGS": str(base / "rabbit.log"),
        "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
    }
    process = subprocess.Popen(
        [str(SERVER)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_ready(f"amqp://guest:guest@127.0.0.1:{amqp}//", process)
        yield Broker(amqp, env)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        # epmd daemonizes out of the process group; it is ours (own port), so stop it by port.
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, check=False, timeout=30)


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited with {process.returncode}")
        with contextlib.suppress(OSError, KombuError), kombu.Connection(url, connect_timeout=1) as conn:
            conn.connect()
            return
        time.sleep(0.5)
    raise RuntimeError("rabbitmq-server did not accept connections in time")
