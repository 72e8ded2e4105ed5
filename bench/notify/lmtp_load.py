#!/usr/bin/env python3
"""lmtp_load.py — LMTP load client for the notification benchmark and the end-to-end test.

Delivers COUNT messages to one recipient over CONNS persistent LMTP connections (one thread each,
messages i, i+CONNS, ... on connection i % CONNS), one transaction after another on each connection
(RFC 2033 §4.2: after DATA one reply per accepted recipient). For every message it writes one JSON
line {"mid", "status", "start", "done"} to --out: "start" is time.time() before MAIL FROM, "done"
right after the final reply was read (the end of LMTP delivery for that message). Prints a summary line with the elapsed
wall time from the first command to the last reply and messages/s. Exit status 1 when any message
was not answered 250.

Usage: lmtp_load.py --server IP [--port 24] --rcpt ADDR --count N [--conns P] --prefix TAG --out FILE
"""
import argparse
import json
import socket
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--server", required=True)
ap.add_argument("--port", type=int, default=24)
ap.add_argument("--source", default=None, help="local address to bind")
ap.add_argument("--rcpt", required=True)
ap.add_argument("--sender", default="alice@aligned.example")
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--conns", type=int, default=1)
ap.add_argument("--prefix", required=True, help="Message-IDs are <PREFIX-i@bench.mailward>")
ap.add_argument("--out", required=True)
ap.add_argument("--body-lines", type=int, default=20)
args = ap.parse_args()

BODY = "".join("Line %02d of the benchmark message body, some ordinary text to carry.\r\n" % k
               for k in range(args.body_lines))


def message(i):
    mid = "<%s-%d@bench.mailward>" % (args.prefix, i)
    head = ("From: Alice Sender <%s>\r\nTo: <%s>\r\nSubject: bench %s %d\r\n"
            "Date: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            % (args.sender, args.rcpt, args.prefix, i,
               time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), mid))
    return mid, (head + BODY).encode()


class Conn:
    def __init__(self):
        src = (args.source, 0) if args.source else None
        self.s = socket.create_connection((args.server, args.port), timeout=120, source_address=src)
        self.f = self.s.makefile("rb")
        self.reply()  # greeting
        self.cmd("LHLO bench.mailward")

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("connection closed by server")
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), lines[-1]

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def deliver(self, data):
        code, line = self.cmd("MAIL FROM:<%s>" % args.sender)
        if code != 250:
            return line
        code, line = self.cmd("RCPT TO:<%s>" % args.rcpt)
        if code != 250:
            self.cmd("RSET")
            return line
        code, line = self.cmd("DATA")
        if code != 354:
            return line
        # dot-stuffing: no body line starts with "." in our messages
        self.s.sendall(data + b".\r\n")
        code, line = self.reply()
        return line


results = []
lock = threading.Lock()
failed = []


def worker(k):
    try:
        c = Conn()
        for i in range(k, args.count, args.conns):
            mid, data = message(i)
            start = time.time()
            line = c.deliver(data)
            done = time.time()
            with lock:
                results.append({"mid": mid, "status": line, "start": start, "done": done})
        c.cmd("QUIT")
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        with lock:
            failed.append("connection %d: %r" % (k, e))


t0 = time.time()
threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
t1 = time.time()
with open(args.out, "w") as f:
    for r in sorted(results, key=lambda r: r["done"]):
        f.write(json.dumps(r) + "\n")
bad = [r for r in results if not r["status"].startswith("250")]
print(json.dumps({"count": len(results), "ok": len(results) - len(bad), "elapsed": t1 - t0,
                  "per_s": len(results) / (t1 - t0) if t1 > t0 else 0.0, "t0": t0, "t1": t1}))
for e in failed:
    print("lmtp_load: " + e, file=sys.stderr)
for r in bad[:5]:
    print("lmtp_load: %s answered %s" % (r["mid"], r["status"]), file=sys.stderr)
sys.exit(1 if bad or failed or len(results) != args.count else 0)
