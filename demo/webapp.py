#!/usr/bin/env python3
"""A tiny web service for the local demo game day (standard library only).

GET  /health  -> 200 "ok", or 503 while broken
POST /break   -> breaks the service; it heals by itself after --heal-after seconds (0: never)
POST /fix     -> heals it at once (the fault's revert)
Listens on 127.0.0.1 only.
"""
import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"broken_at": None}
lock = threading.Lock()


def healthy(heal_after):
    with lock:
        t = state["broken_at"]
    return t is None or (heal_after > 0 and time.monotonic() - t >= heal_after)


def make_handler(heal_after):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, code, body):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/health":
                if healthy(heal_after):
                    self._send(200, "ok\n")
                else:
                    self._send(503, "broken\n")
            else:
                self._send(404, "not found\n")

        def do_POST(self):
            if self.path == "/break":
                with lock:
                    state["broken_at"] = time.monotonic()
                self._send(200, "broken\n")
            elif self.path == "/fix":
                with lock:
                    state["broken_at"] = None
                self._send(200, "fixed\n")
            else:
                self._send(404, "not found\n")

        def log_message(self, *args):
            pass

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=18080)
    p.add_argument("--heal-after", type=float, default=2.0)
    a = p.parse_args()
    ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(a.heal_after)).serve_forever()


if __name__ == "__main__":
    main()
