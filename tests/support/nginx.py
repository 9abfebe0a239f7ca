"""deploy/nginx/adpulse.conf.template rendered and, where nginx is installed, run in front of a
server on loopback: the proxy that refuses a flooding caller before it reaches Python."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "adpulse.conf.template"
_VARIABLE = re.compile(r"\$\{([A-Z_]+)\}")


def render(values: Mapping[str, str]) -> str:
    """The template with each `${NAME}` filled, as envsubst fills it; a name left out is an
    error here (envsubst would leave it empty)."""
    text = TEMPLATE.read_text()
    missing = sorted(set(_VARIABLE.findall(text)) - set(values))
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return _VARIABLE.sub(lambda m: values[m.group(1)], text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def nginx_front(
    upstream: str, rate: int, burst: int, address_rate: int = 100_000, workers: int = 1
) -> Iterator[str]:
    """nginx on a free loopback port in front of `upstream`, limiting each caller to `rate`
    calls a second (bursts of `burst`) and each client address to `address_rate` (on loopback
    every caller shares one address); yields its address."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory(prefix="adpulse-nginx-") as prefix:
        listen = f"127.0.0.1:{_free_port()}"
        conf = Path(prefix) / "nginx.conf"
        conf.write_text(
            render(
                {
                    "NGINX_WORKERS": str(workers),
                    "NGINX_PREFIX": prefix,
                    "CALLER_RATE": str(rate),
                    "CALLER_BURST": str(burst),
                    "ADDRESS_RATE": str(address_rate),
                    "ADPULSE_UPSTREAM": upstream,
                    "LISTEN": listen,
                }
            )
        )
        process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", prefix, "-g", "daemon off;"], stderr=subprocess.PIPE
        )
        try:
            host, port = listen.split(":")
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 0.2):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {process.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
                time.sleep(0.05)
            yield listen
        finally:
            process.terminate()
            process.wait(10)
