"""A real webhook receiver for the alert tests: `python -m tests.alerts.receiver PORT LOG SECRET`.

It checks each delivery's signature with the client's `verify_signature`, appends one JSON line
per request to LOG (delivery id, event, whether the signature held, whether it answered), and
answers `--status` (with `--location` for a redirect). With `--die-after N` it answers N
requests and dies on the next one without answering, as a receiver that crashes mid-request.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
from typing import Any

from adpulse.client import WebhookSignatureError, verify_signature


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log")
    parser.add_argument("secret")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--location", default="")
    parser.add_argument("--die-after", type=int, default=-1)
    args = parser.parse_args()
    answered = 0

    def record(entry: dict[str, Any]) -> None:
        with open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            nonlocal answered
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                verify_signature(args.secret, self.headers.get("adpulse-signature", ""), body)
                signed = True
            except WebhookSignatureError:
                signed = False
            entry = {
                "delivery": self.headers.get("adpulse-delivery"),
                "event": self.headers.get("adpulse-event"),
                "signed": signed,
                "path": self.path,
                "body": json.loads(body),
            }
            if answered == args.die_after:
                record({**entry, "answered": False})
                os._exit(1)  # dies holding the request: the sender gets no answer
            record({**entry, "answered": True, "status": args.status})
            self.send_response(args.status)
            if args.location:
                self.send_header("location", args.location)
            self.send_header("content-length", "0")
            self.end_headers()
            answered += 1

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
