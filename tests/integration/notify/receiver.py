#!/usr/bin/env python3
"""HTTPS receiver for the mailward-notifyd integration test.

Logs every request as one JSON line {time, path, method, headers, body, duplicate} to --log, where
"duplicate" says the Idempotency-Key was seen before (a receiver honouring the key would drop it).
Behaviour is read per request from --control (a small JSON file the test rewrites):
  {"status": 200, "retry_after": null, "delay_ms": 0}
Path /gone always answers 404 (a permanent failure).
"""
import argparse
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--bind", action="append", required=True, help="ADDRESS:PORT (repeatable)")
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--control", required=True)
ap.add_argument("--plain", action="store_true", help="plain HTTP, no TLS (benchmark comparison)")
ap.add_argument("--keepalive", action="store_true", help="HTTP/1.1 persistent connections (benchmark)")
args = ap.parse_args()

lock = threading.Lock()
seen = set()


def control():
    try:
        with open(args.control) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


class Handler(BaseHTTPRequestHandler):
    if args.keepalive:
        protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        c = control()
        if c.get("delay_ms"):
            time.sleep(c["delay_ms"] / 1000.0)
        status = 404 if self.path == "/gone" else int(c.get("status", 200))
        key = self.headers.get("Idempotency-Key")
        with lock:
            dup = status < 300 and key in seen
            if status < 300 and key:
                seen.add(key)
            with open(args.log, "a") as f:
                f.write(json.dumps({"time": time.time(), "path": self.path, "method": self.command,
                                    "host": self.headers.get("Host"), "status": status,
                                    "headers": {k: v for k, v in self.headers.items()},
                                    "body": body, "duplicate": dup}) + "\n")
        reply = b'{"ok":true}' if status < 300 else b'{"error":"test says no"}'
        self.send_response(status)
        if status in (429, 503) and c.get("retry_after") is not None:
            self.send_header("Retry-After", str(c["retry_after"]))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = do_PUT = do_GET = handle_any


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
servers = []
for b in args.bind:
    host, port = b.rsplit(":", 1)
    s = ThreadingHTTPServer((host, int(port)), Handler)
    s.daemon_threads = True
    if not args.plain:
        s.socket = ctx.wrap_socket(s.socket, server_side=True)
    servers.append(s)
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
