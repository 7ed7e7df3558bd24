"""A stand-in for the Supervisor's discovery API, for the add-on's service tests.

Run inside a lab namespace: `python supervisor_stub.py PORT [--refuse]`. It prints `ready`, then
one JSON line per request it gets (method, path, authorization, body), and answers as the
Supervisor does: POST /discovery -> {"result": "ok", "data": {"uuid": ...}}, DELETE
/discovery/<uuid> -> ok, or with --refuse a 403 for every request, as the Supervisor answers an
add-on whose config.yaml does not list the service.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

UUID = "5c5d1c1d3a7c4d6f9d3c2b1a0f9e8d7c"
REFUSAL = "Apps must list services they provide via discovery in their config!"


class _Handler(BaseHTTPRequestHandler):
    refuse = False

    def do_POST(self) -> None:
        self._answer({"uuid": UUID})

    def do_DELETE(self) -> None:
        self._answer({})

    def _answer(self, data: dict[str, Any]) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {
            "method": self.command,
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "body": json.loads(body) if body else None,
        }
        print(json.dumps(record), flush=True)
        if self.refuse:
            self._send(403, {"result": "error", "message": REFUSAL})
        else:
            self._send(200, {"result": "ok", "data": data})

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """The JSON lines are the log."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--refuse", action="store_true")
    arguments = parser.parse_args()
    _Handler.refuse = arguments.refuse
    with HTTPServer(("127.0.0.1", arguments.port), _Handler) as server:
        print("ready", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
