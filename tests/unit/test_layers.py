"""The layering the code is reviewed against, checked on every module so a new import that breaks
it fails here rather than in a review: use cases, domain and storage know nothing of gRPC, and
only the process entry points reach for the composition root, each for its own process's build."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "server" / "adpulse" / "server"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((SERVER / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["usecases", "domain", "storage"])
def test_inner_layers_do_not_import_grpc(package: str) -> None:
    offenders = {
        str(path.relative_to(SERVER)): sorted(
            n for n in _imports(path) if n == "grpc" or n.startswith("grpc.")
        )
        for path in _modules(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_entry_points_import_the_composition_root() -> None:
    root = "adpulse.server.wiring"
    importers = {
        str(path.relative_to(SERVER)): sorted(n for n in _imports(path) if n.startswith(root))
        for path in SERVER.rglob("*.py")
        if not path.is_relative_to(SERVER / "wiring")
    }
    assert {k: v for k, v in importers.items() if v} == {
        "main.py": [root, f"{root}.server"],
        "worker_main.py": [f"{root}.worker", f"{root}.worker.build_worker_runtime"],
    }


def test_the_worker_wiring_loads_no_grpc() -> None:
    """A worker builds its runtime without the servicers, the call pipeline, the server's build,
    the client or grpc itself (a worker speaks to brokers and stores only); a fresh interpreter
    shows what the import really pulls in, transitively."""
    probe = (
        "import sys, adpulse.server.wiring.worker; "
        "print(sorted(m for m in sys.modules if m.startswith(('adpulse.server.transport', "
        "'adpulse.server.wiring.server', 'adpulse.client', 'adpulse.v1', 'grpc'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert loaded.strip() == "[]"
