#!/usr/bin/env python3
"""Checks the receiver log of notify_test.sh part 1: exactly one request per event, with the exact
payload of its preset, the Idempotency-Key, and (generic) a valid X-Mailward-Signature.
Usage: check_presets.py REQUESTS.jsonl IDS SECRET   (IDS: lines "TARGET EVENT_ID")"""
import hashlib
import hmac
import json
import sys

requests = [json.loads(l) for l in open(sys.argv[1])]
pairs = [l.split() for l in open(sys.argv[2]) if l.strip()]
secret = sys.argv[3].encode()
msg = "Lunch & <you>?"
expected = {
    "ntfy": ("text/plain; charset=utf-8", msg,
             {"Title": "New mail", "Priority": "4", "Tags": "email"}),
    "gotify": ("application/json", json.dumps({"message": msg, "priority": 8, "title": "New mail"},
                                              separators=(",", ":")), {"X-Gotify-Key": "gotify-app-key"}),
    "pushover": ("application/x-www-form-urlencoded",
                 "token=pushover-app-token&user=uQiRzpo4DXghDmr9QzzfQu27cmVRsG&title=New+mail"
                 "&message=Lunch+%26+%3Cyou%3E%3F&priority=1", {}),
    "ifttt": ("application/json", json.dumps({"value1": "New mail", "value2": msg, "value3": ""},
                                             separators=(",", ":")), {}),
    "slack": ("application/json", json.dumps({"text": "*New mail*\nLunch &amp; &lt;you&gt;?"},
                                             separators=(",", ":")), {}),
    "mattermost": ("application/json", json.dumps({"text": "**New mail**\n" + msg}, separators=(",", ":")), {}),
    "discord": ("application/json", json.dumps({"content": "**New mail**\n" + msg}, separators=(",", ":")), {}),
}
failures = []
for target, event_id in pairs:
    mine = [r for r in requests if r["headers"].get("Idempotency-Key") == event_id]
    if len(mine) != 1:
        failures.append(f"{target}: {len(mine)} requests for event {event_id}")
        continue
    r = mine[0]
    h = r["headers"]
    if r["path"] != "/" + target or r["method"] != "POST":
        failures.append(f"{target}: {r['method']} {r['path']}")
    if target == "generic":
        body = json.loads(r["body"])
        want = {"id": event_id, "user": "alice@example.org", "target": "generic", "title": "New mail",
                "message": msg, "subject": "Lunch", "priority": "high", "version": 1,
                "fields": [{"name": "k", "value": "v"}]}
        for k, v in want.items():
            if body.get(k) != v:
                failures.append(f"generic: {k} = {body.get(k)!r}, want {v!r}")
        if h.get("Content-Type") != "application/json":
            failures.append(f"generic: content type {h.get('Content-Type')}")
        sig = h.get("X-Mailward-Signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        mac = hmac.new(secret, (parts.get("t", "") + "." + r["body"]).encode(), hashlib.sha256).hexdigest()
        if parts.get("v1") != mac:
            failures.append(f"generic: signature {sig!r} does not verify")
        continue
    ctype, body, headers = expected[target]
    if h.get("Content-Type") != ctype:
        failures.append(f"{target}: content type {h.get('Content-Type')!r}")
    if r["body"] != body:
        failures.append(f"{target}: body {r['body']!r}, want {body!r}")
    for k, v in headers.items():
        if h.get(k) != v:
            failures.append(f"{target}: header {k} = {h.get(k)!r}, want {v!r}")
    if "X-Mailward-Signature" in h:
        failures.append(f"{target}: signed without a secret_file")
for f in failures:
    print("FAIL", f, file=sys.stderr)
print(f"presets: {len(pairs)} events checked, {len(failures)} problems", file=sys.stderr)
sys.exit(1 if failures else 0)
