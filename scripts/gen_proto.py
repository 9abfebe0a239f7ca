"""Generates every client's code from proto/ with `buf generate` (buf.gen.yaml); `--check` only
compares.

The generated Python, Go and TypeScript are committed so that each client installs without a
protobuf toolchain; `make lint` runs the check so that none of them drifts from the protos. The
plugins are local (see buf.gen.yaml): `make proto` puts them where PATH below finds them.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto" / "adpulse" / "v1"
PYTHON_DIR = Path("clients/python/adpulse/v1")
# What the generation owns: these folders hold generated files only, except the Python package's
# hand-written __init__.py.
GENERATED_DIRS = (PYTHON_DIR, Path("clients/go/gen"), Path("clients/typescript/src/gen"))
HAND_WRITTEN = {PYTHON_DIR / "__init__.py"}
TOOL_DIRS = (Path(sys.executable).parent, ROOT / "clients" / "typescript" / "node_modules" / ".bin")


def generate(out_root: Path) -> None:
    path = os.pathsep.join([*map(str, TOOL_DIRS), os.environ.get("PATH", "")])
    buf = shutil.which("buf", path=path)
    if buf is None:
        raise SystemExit("buf is not installed (`make proto` installs it)")
    subprocess.run(
        [buf, "generate", "--output", str(out_root)], cwd=ROOT, check=True, env={**os.environ, "PATH": path}
    )
    drop_empty_grpc_stubs(out_root)


def drop_empty_grpc_stubs(root: Path) -> None:
    """mypy-protobuf writes a gRPC typing stub even for a proto without services; those stay out,
    like the stub modules themselves (scripts/protoc_gen_python.py)."""
    for proto in PROTO_DIR.glob("*.proto"):
        if not re.search(r"^service ", proto.read_text(), re.MULTILINE):
            (root / PYTHON_DIR / f"{proto.stem}_pb2_grpc.pyi").unlink(missing_ok=True)


def generated_files(root: Path) -> set[Path]:
    files = {
        p.relative_to(root)
        for folder in GENERATED_DIRS
        if (root / folder).exists()
        for p in (root / folder).rglob("*")
    }
    return {
        p for p in files if (root / p).is_file() and p not in HAND_WRITTEN and "__pycache__" not in p.parts
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code differs")
    check = parser.parse_args().check
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp)
        generate(fresh_root)
        fresh = generated_files(fresh_root)
        committed = generated_files(ROOT)
        stale = sorted(
            str(p)
            for p in fresh | committed
            if p not in fresh
            or p not in committed
            or not filecmp.cmp(fresh_root / p, ROOT / p, shallow=False)
        )
        if check:
            if stale:
                print("generated code differs from proto/ (run `make proto`):", *stale, sep="\n  ")
                return 1
            return 0
        for rel in committed - fresh:
            (ROOT / rel).unlink()
        for rel in fresh:
            (ROOT / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh_root / rel, ROOT / rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
