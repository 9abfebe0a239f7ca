"""`adpulse serve`: run the server (it ships in the `adpulse` package, not the client)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the server (settings from ADPULSE_* variables)")
    serve.add_argument("--listen", help="address to listen on (ADPULSE_LISTEN, default 127.0.0.1:50051)")
    serve.add_argument(
        "--data-dir", help="where embedded stores keep data (ADPULSE_DATA_DIR, default ./.adpulse)"
    )
    serve.set_defaults(run=run, needs_client=False)


def run(args: argparse.Namespace) -> int:
    try:
        from adpulse.server.main import serve
        from adpulse.server.settings import Settings, SettingsError
    except ImportError:
        print(
            "adpulse: the server is not installed here (it ships in the `adpulse` package)", file=sys.stderr
        )
        return 1
    if args.listen:
        os.environ["ADPULSE_LISTEN"] = args.listen
    if args.data_dir:
        os.environ["ADPULSE_DATA_DIR"] = args.data_dir
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        print(f"adpulse: {err}", file=sys.stderr)
        return 1
    return serve(settings)
