"""The README's examples work as written: its shell and Python blocks run against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.server import ServerProcess, running_server

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_KEY_FILE = ".adpulse/admin.key"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _commands() -> list[str]:
    """Lines that talk to a running server (the `make` lines are what the whole suite runs)."""
    lines = [line for block in _blocks("sh") for line in block.splitlines()]
    return [line for line in lines if line.split()[0] in {"adpulse", "grpcurl", "printf"}]


def test_every_shell_example_runs(tmp_path: Path) -> None:
    commands = _commands()
    assert len(commands) >= 8
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("ADPULSE_TENANT", None)
    # A server of its own: the README acts for the default tenant.
    with running_server(tmp_path / "data") as server:
        # As next to `make run`: the CLI finds the key the server wrote to its data dir.
        env["ADPULSE_TARGET"], env["ADPULSE_DATA_DIR"] = server.address, str(server.data_dir)
        env.pop("ADPULSE_API_KEY", None)
        key_file = str(server.data_dir / "admin.key")
        outputs = {}
        for command in commands:
            out = subprocess.run(
                [
                    "bash",
                    "-c",
                    command.replace(DEFAULT_ADDRESS, server.address).replace(DEFAULT_KEY_FILE, key_file),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert out.returncode == 0, f"{command}\n{out.stdout}\n{out.stderr}"
            assert out.stdout.strip(), command
            outputs[command] = out.stdout
        _python_example_runs(server, env)
    ingest = next(o for c, o in outputs.items() if c.startswith("adpulse ingest"))
    assert "rows: 372 new, 0 duplicate (stored before), 0 rejected" in ingest
    converted = next(o for c, o in outputs.items() if c.startswith("adpulse --tenant us-team kpis"))
    assert "USD" in converted and "EUR" not in converted
    found = next(o for c, o in outputs.items() if c.startswith('adpulse search "brand"'))
    assert "Brand Search" in found and "Brand 1" in found
    assert "Prospecting - Lookalike" in next(o for c, o in outputs.items() if "lookalike" in c)
    streamed = next(o for c, o in outputs.items() if c.startswith("printf"))
    assert '"accepted": "372"' in streamed


def _python_example_runs(server: ServerProcess, env: dict[str, str]) -> None:
    (example,) = _blocks("python")
    out = subprocess.run(
        [sys.executable, "-c", example.replace(DEFAULT_ADDRESS, server.address)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    first, *platforms = out.stdout.splitlines()
    assert first == "0 0 372"  # the shell examples stored the file already
    assert {line.split()[0] for line in platforms} == {"google_ads", "meta_ads", "tiktok_ads", "linkedin_ads"}
