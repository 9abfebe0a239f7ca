"""`adpulse serve`: start, announce the address, stop gracefully on SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from adpulse.server.observe import logs
from adpulse.server.settings import Settings, SettingsError
from adpulse.server.wiring import server as wiring

log = logging.getLogger("adpulse.server")


def serve(settings: Settings) -> int:
    logs.configure(settings.log_format, settings.log_level)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app = wiring.build(settings)
    # Tests and scripts read this line to learn the port when listening on port 0. One write per
    # line: print() writes text and newline separately, and the embedded worker's threads print
    # to the same stdout, so a banner could land inside the line.
    _announce(f"adpulse serving on {app.address}")
    if app.metrics_address:
        _announce(f"adpulse metrics on http://{app.metrics_address}/metrics")
    while not stopping.wait(1.0):
        pass
    app.stop()
    log.info("stopped")
    return 0


def _announce(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        sys.exit(f"adpulse: {err}")
    sys.exit(serve(settings))


if __name__ == "__main__":
    main()
