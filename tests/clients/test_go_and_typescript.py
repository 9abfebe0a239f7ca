"""The Go and TypeScript clients against the session's real server, and the kpis example of every
language compared with `adpulse kpis --json`.

The toolchains' own test runners do the work (`go test ./...`, `node --test`); this test hands
them the server's address, the operator key and a fresh tenant. Go modules and npm packages
come from the caches `make` filled (`$(VENV)/.client-tools`), so nothing is downloaded here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
GO_DIR = ROOT / "clients" / "go"
TS_DIR = ROOT / "clients" / "typescript"
ADPULSE = str(Path(sys.executable).parent / "adpulse")
# A cold Go build of grpc takes minutes on a loaded 2-core machine; a warm one, seconds.
TOOL_SECONDS = 900


def _env(server: ServerProcess, tenant: str) -> dict[str, str]:
    return {
        **os.environ,
        "ADPULSE_TARGET": server.address,
        "ADPULSE_API_KEY": server.admin_key,
        "ADPULSE_TENANT": tenant,
    }


def _run(args: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    out = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TOOL_SECONDS, check=False
    )
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def built_typescript() -> Path:
    assert (TS_DIR / "node_modules").is_dir(), "clients/typescript has no node_modules: run `make lint`"
    _run(["node_modules/.bin/tsc", "-p", "tsconfig.json"], TS_DIR, os.environ)
    return TS_DIR / "dist"


@pytest.fixture(scope="module")
def go_kpis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("go") / "kpis"
    _run(["go", "build", "-o", str(binary), "./examples/kpis"], GO_DIR, os.environ)
    return binary


def test_go_client(server: ServerProcess, tenant: str) -> None:
    out = _run(["go", "test", "-count=1", "-v", "./..."], GO_DIR, _env(server, tenant))
    assert "--- SKIP" not in out, out
    assert out.count("--- PASS") == 4, out


def test_typescript_client(server: ServerProcess, tenant: str, built_typescript: Path) -> None:
    out = _run(["node", "--test", "test/"], TS_DIR, _env(server, tenant))
    assert "# pass 4" in out and "# skipped 0" in out, out


def _canonical(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def _rows(stdout: str) -> list[dict[str, Any]]:
    return _canonical(json.loads(line) for line in stdout.splitlines() if line.strip())


@pytest.mark.parametrize("by", [["platform"], ["campaign"], ["date", "platform"]])
def test_every_language_prints_the_rows_of_the_cli(
    server: ServerProcess, built_typescript: Path, go_kpis: Path, by: list[str]
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    env = _env(server, tenant)
    _run([ADPULSE, "ingest", str(ROOT / "examples" / "campaign_export.csv")], ROOT, env)
    flags = [f for dim in by for f in ("--by", dim)] + ["--from", "2026-03-01", "--to", "2026-03-31"]

    cli = json.loads(_run([ADPULSE, "kpis", *flags, "--json"], ROOT, env))["rows"]
    want = _canonical(cli)
    assert want and all(isinstance(r["cost"], str) for r in want)
    outputs = {
        "python": _run([sys.executable, "clients/python/examples/kpis.py", *flags], ROOT, env),
        "go": _run([str(go_kpis), *flags], ROOT, env),
        "typescript": _run(["node", "clients/typescript/examples/kpis.mjs", *flags], ROOT, env),
    }
    for language, stdout in outputs.items():
        assert _rows(stdout) == want, language
