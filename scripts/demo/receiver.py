#!/usr/bin/env python3
"""receiver.py — the demo's stand-in webhook receiver (scripts/demo.sh): plain HTTP on one address,
answers 200 to every request and keeps each one as a file DIR/NNNN-<last path segment>.json holding
the method, path, headers and the body (parsed when it is JSON), so the demo can show what
mailward-notifyd sent. Not a test tool: it checks nothing.

usage: receiver.py --bind ADDRESS:PORT --dir DIR
"""
import argparse
import itertools
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--bind", required=True, help="ADDRESS:PORT")
ap.add_argument("--dir", required=True, help="where each request is written")
args = ap.parse_args()
os.makedirs(args.dir, exist_ok=True)
counter = itertools.count(1)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        name = (self.path.rstrip("/").rsplit("/", 1)[-1] or "root").replace(".", "_")
        with lock:
            n = next(counter)
            path = os.path.join(args.dir, "%04d-%s.json" % (n, name))
            with open(path + ".tmp", "w") as f:
                json.dump({"method": self.command, "path": self.path,
                           "headers": dict(self.headers.items()), "body": body}, f, indent=2)
                f.write("\n")
            os.rename(path + ".tmp", path)
        reply = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = do_PUT = do_GET = handle_any


host, port = args.bind.rsplit(":", 1)
server = ThreadingHTTPServer((host, int(port)), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
