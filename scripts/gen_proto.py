"""Generates the Python code of proto/adpulse into clients/python; `--check` only compares.

The generated modules are committed so that the pure-Python client installs without protoc;
`make lint` runs the check so they never drift from the protos.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import google.longrunning
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT_ROOT = ROOT / "clients" / "python"
GENERATED_DIR = Path("adpulse") / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def googleapis_protos(include_dir: Path) -> Path:
    """The googleapis-common-protos wheel ships the sources of the google/api and google/rpc protos
    under their import paths, but google/longrunning/operations.proto as `operations_proto.proto`
    (its generated module registers it as `operations.proto`); a copy under the import path
    makes it importable without vendoring googleapis into this repository."""
    wheel_dir = Path(google.longrunning.__path__[0])
    target = include_dir / "google" / "longrunning" / "operations.proto"
    target.parent.mkdir(parents=True)
    shutil.copyfile(wheel_dir / "operations_proto.proto", target)
    return wheel_dir.parent.parent


def generate(out_dir: Path, include_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / GENERATED_DIR).glob("*.proto"))
    scripts = Path(sysconfig.get_path("scripts"))
    site_packages = googleapis_protos(include_dir)
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={Path(grpc_tools.__file__).parent / '_proto'}",
        f"--proto_path={include_dir}",
        f"--proto_path={site_packages}",
        f"--plugin=protoc-gen-mypy={scripts / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={scripts / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def generated_files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in (root / GENERATED_DIR).iterdir() if p.name.endswith(SUFFIXES)}


def drop_empty_grpc_modules(root: Path) -> None:
    """protoc's grpc plugin writes a module even for a proto without services; those stay out."""
    for proto in (PROTO_ROOT / GENERATED_DIR).glob("*.proto"):
        if not re.search(r"^service ", proto.read_text(), re.MULTILINE):
            for suffix in ("_pb2_grpc.py", "_pb2_grpc.pyi"):
                (root / GENERATED_DIR / f"{proto.stem}{suffix}").unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code differs")
    check = parser.parse_args().check
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp) / "out"
        fresh_root.mkdir()
        generate(fresh_root, Path(tmp) / "include")
        drop_empty_grpc_modules(fresh_root)
        fresh = generated_files(fresh_root)
        committed = generated_files(OUT_ROOT) if (OUT_ROOT / GENERATED_DIR).exists() else set()
        stale = sorted(
            str(p)
            for p in fresh | committed
            if p not in fresh
            or p not in committed
            or not filecmp.cmp(fresh_root / p, OUT_ROOT / p, shallow=False)
        )
        if check:
            if stale:
                print("generated code differs from proto/ (run `make proto`):", *stale, sep="\n  ")
                return 1
            return 0
        (OUT_ROOT / GENERATED_DIR).mkdir(parents=True, exist_ok=True)
        for rel in committed - fresh:
            (OUT_ROOT / rel).unlink()
        for rel in fresh:
            shutil.copyfile(fresh_root / rel, OUT_ROOT / rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
