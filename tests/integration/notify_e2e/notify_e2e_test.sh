#!/usr/bin/env bash
# notify_e2e_test.sh — issue 3 end to end: Debian's Dovecot (LMTP) with the Sieve plugin
# vnd.mailward.webhook, mailward-notifyd and an HTTPS receiver (tests/integration/notify/receiver.py),
# all in the harness namespace (tests/integration/lib/stack.sh, not edited: mw_dovecot_write is
# wrapped after sourcing, as tests/integration/webhook does).
#
#   1. one message delivered over LMTP -> exactly one request per target at the receiver with the
#      right payload: generic (event JSON, Idempotency-Key = event id, valid X-Mailward-Signature)
#      and ntfy (subject as body, Title/Priority/Tags, Authorization from the token file)
#   2. receiver down while 12 messages are delivered -> all 12 arrive after it comes back, none twice
#   3. notifyd SIGKILLed while a stream of 60 deliveries is being sent, restarted -> nothing lost
#      (an event sent but not yet deleted may be resent, always with the same Idempotency-Key);
#      the events wait in slots (slots/, written in place) or in new/, and none is left after
#   3b. a prepared slot left by a delivery process that died (written, never committed, lock gone)
#      is sent after notifyd's restart (dovecot-plugins/notifyd/README.md, "Event slots")
#   4. the signing secret and the ntfy token are in no log line, Sieve log, spool, state or dead
#      file; nothing in the spool is readable by other users
#
# Usage: notify_e2e_test.sh PLUGIN_SO NOTIFYD [STATE_DIR]   (root; never skips: missing parts fail)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../lib/stack.sh"

PLUGIN="${1:-}"
NOTIFYD="${2:-}"
MW_STATE="${3:-}"
unset MAILWARD_MILTER
fail() { echo "notify_e2e: FAIL: $*" >&2; exit 1; }
say() { echo "[notify_e2e] $*" >&2; }

RECEIVER="$HERE/../notify/receiver.py"
LOAD="$HERE/../../../bench/notify/lmtp_load.py"
[ -n "$PLUGIN" ] && [ -f "$PLUGIN" ] || fail "plugin not built: '$PLUGIN' (target sieve_mailward_plugin)"
[ -n "$NOTIFYD" ] && [ -x "$NOTIFYD" ] || fail "notifyd not built: '$NOTIFYD' (target mailward-notifyd)"
[ -f "$RECEIVER" ] || fail "test receiver missing: $RECEIVER"
for c in openssl python3 swaks setpriv; do command -v "$c" >/dev/null 2>&1 || fail "missing command $c"; done

MAIL_UID=65534            # the harness's userdb: every user is uid/gid 65534 (nobody/nogroup)
RECV_IP=127.0.0.70        # receiver address inside the namespace
SECRET="e2e-sign-$RANDOM$RANDOM$RANDOM-secret"
TOKEN="e2e-ntfy-$RANDOM$RANDOM$RANDOM-token"

eval "mw_e2e_orig_dovecot_write() $(declare -f mw_dovecot_write | tail -n +2)"
mw_dovecot_write() {
  mw_e2e_orig_dovecot_write
  E="$S/e2e"; SPOOL="$E/spool"; MWCONF="$E/mailward.conf"
  mkdir -p "$E/plugins" "$E/secrets" "$SPOOL/tmp" "$SPOOL/new"
  cp "$PLUGIN" "$E/plugins/"
  chmod 0755 "$E" "$E/plugins"; chmod 0644 "$E/plugins/"*
  # Spool as documented: group shared by the mail user and notifyd (both nobody/nogroup here).
  chown 65534:65534 "$SPOOL" "$SPOOL/tmp" "$SPOOL/new"
  chmod 0750 "$SPOOL"; chmod 2770 "$SPOOL/tmp" "$SPOOL/new"
  printf '%s\n' "$SECRET" >"$E/secrets/sign"
  printf '%s\n' "$TOKEN" >"$E/secrets/ntfy"
  chown -R 65534:65534 "$E/secrets"; chmod 0700 "$E/secrets"; chmod 0600 "$E/secrets/"*
  cat >"$MWCONF" <<CONF
[notify]
spool = $SPOOL
user = nobody
log = $E/notifyd.log
log_level = debug
rescan_interval = 2s
[target.generic]
url = https://$RECV_IP:8443/generic
secret_file = $E/secrets/sign
ca_file = $E/ca.pem
users = *
max_attempts = 50
timeout = 3s
[target.ntfy]
url = https://$RECV_IP:8443/ntfy
format = ntfy
token_file = $E/secrets/ntfy
ca_file = $E/ca.pem
users = *
max_attempts = 50
timeout = 3s
CONF
  chmod 0644 "$MWCONF"
  cat >>"$MW_DOVECOT_CONF" <<CONF
# notify_e2e (appended)
plugin {
  sieve_plugin_dir = $E/plugins
  sieve_plugins = sieve_mailward
  sieve_extensions = +vnd.mailward.webhook
  mailward_config = $MWCONF
}
CONF
}

mw_up
W="$MW_STATE/work"; mkdir -p "$W"; chmod 0755 "$W"
ip netns exec "$MW_NS" ip addr add "$RECV_IP/32" dev lo

# --- receiver certificate (IP SAN), receiver, notifyd -----------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=notify e2e CA" \
  -keyout "$W/ca.key" -out "$E/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$RECV_IP" -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:%s\n' "$RECV_IP" >"$W/ext"
openssl x509 -req -in "$W/srv.csr" -CA "$E/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/ext" -out "$W/srv.pem" 2>/dev/null
chmod 0644 "$E/ca.pem"
REQ="$W/requests.jsonl"
echo '{"status": 200}' >"$W/control"
RECV_PID=""; NOTIFYD_PID=""
start_receiver() {
  ip netns exec "$MW_NS" python3 "$RECEIVER" --bind "$RECV_IP:8443" --cert "$W/srv.pem" \
    --key "$W/srv.key" --log "$REQ" --control "$W/control" >"$W/receiver.out" 2>&1 &
  RECV_PID=$!
  for _ in $(seq 50); do grep -q ready "$W/receiver.out" 2>/dev/null && return 0; sleep 0.1; done
  fail "receiver did not start: $(cat "$W/receiver.out")"
}
stop_receiver() { kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null || true; RECV_PID=""; : >"$W/receiver.out"; }
start_notifyd() {
  ip netns exec "$MW_NS" "$NOTIFYD" --config "$MWCONF" 2>>"$E/notifyd.stderr" &
  NOTIFYD_PID=$!
  sleep 0.3
  kill -0 "$NOTIFYD_PID" 2>/dev/null || fail "notifyd exited: $(cat "$E/notifyd.stderr" "$E/notifyd.log" 2>/dev/null | tail -5)"
}
"$NOTIFYD" --config "$MWCONF" --check >"$W/check.out" 2>&1 || fail "notifyd --check: $(cat "$W/check.out")"
start_receiver
start_notifyd

# --- the user's script --------------------------------------------------------------------------
home="$MW_MAIL/${MW_RCPT#*@}/${MW_RCPT%@*}"
mkdir -p "$home/sieve"
cat >"$home/sieve/notify.sieve" <<'SIEVE'
require ["vnd.mailward.webhook", "variables"];
if header :matches "subject" "*" { set "subject" "${1}"; }
webhook :title "New mail" :message "${subject}" :field "via" "e2e" "generic";
webhook :title "New mail" :message "${subject}" "ntfy";
SIEVE
ln -sfn sieve/notify.sieve "$home/.dovecot.sieve"
chown -R "$MAIL_UID:$MAIL_UID" "$MW_MAIL"

# count_mid PREFIX: requests (2xx) whose payload belongs to a message whose Message-ID starts so
ok_total() { python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["status"] < 300))' "$REQ" 2>/dev/null || echo 0; }
wait_total() { # N SECONDS
  local i
  for i in $(seq $(($2 * 10))); do [ "$(ok_total)" -ge "$1" ] && return 0; sleep 0.1; done
  fail "expected $1 requests at the receiver within $2 s, have $(ok_total) (notifyd log: $(tail -3 "$E/notifyd.log" 2>/dev/null))"
}
# pending_slots: slots holding an event (state byte P or R), i.e. not yet sent and freed
pending_slots() {
  python3 - "$SPOOL/slots" <<'PY'
import os, sys
d = sys.argv[1]
n = 0
for name in os.listdir(d) if os.path.isdir(d) else []:
    with open(os.path.join(d, name), "rb") as f:
        head = f.read(9)
    n += head[:8] == b"mwslot1\n" and head[8:9] in (b"P", b"R")
print(n)
PY
}
load() { # PREFIX COUNT CONNS
  ip netns exec "$MW_NS" python3 "$LOAD" --server "$MW_IP_DOVECOT" --source "$MW_IP_GOOD" --rcpt "$MW_RCPT" \
    --prefix "$1" --count "$2" --conns "$3" --out "$W/$1.jsonl" >"$W/$1.summary" 2>&1 \
    || fail "LMTP load $1 failed: $(cat "$W/$1.summary")"
}

# === 1. one delivery -> one request per target, right payload ===================================
say "1: one delivery, generic + ntfy"
marker="e2e1-$RANDOM$RANDOM"
mw_message "$W/m1.eml" "Alice Sender <alice@aligned.example>" "Bob <$MW_RCPT>" "Lunch & <you>? $marker" "$marker"
ns swaks --protocol LMTP --server "$MW_IP_DOVECOT" --port 24 --local-interface "$MW_IP_GOOD" \
  --helo mail.aligned.example --from alice@aligned.example --to "$MW_RCPT" --data "@$W/m1.eml" \
  --timeout 60 >"$W/m1.out" 2>&1 || fail "LMTP delivery failed: $(mw_smtp_last "$W/m1.out")"
mw_smtp_replies "$W/m1.out" | mw_has "^250 .*Saved" || fail "LMTP did not answer 250 Saved: $(mw_smtp_replies "$W/m1.out" | tail -2)"
wait_total 2 15
sleep 1.5   # a duplicate would show up now
python3 - "$REQ" "$marker" "$SECRET" "$TOKEN" "$MW_RCPT" <<'PY' || fail "payload check failed (requests: $(cat "$REQ"))"
import hashlib, hmac, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
marker, secret, token, rcpt = sys.argv[2:6]
subject = "Lunch & <you>? " + marker
bad = []
if len(reqs) != 2:
    bad.append(f"{len(reqs)} requests, want exactly 2 (one per target)")
gen = [r for r in reqs if r["path"] == "/generic"]
nt = [r for r in reqs if r["path"] == "/ntfy"]
if len(gen) != 1 or len(nt) != 1:
    bad.append(f"generic {len(gen)}, ntfy {len(nt)} requests; want 1 each")
else:
    g, n = gen[0], nt[0]
    body = json.loads(g["body"])
    want = {"version": 1, "user": rcpt, "target": "generic", "mailbox": "INBOX",
            "envelope_from": "alice@aligned.example",
            "header_from": "Alice Sender <alice@aligned.example>", "to": "Bob <%s>" % rcpt,
            "subject": subject, "message_id": "<%s@mailward.test-harness>" % marker,
            "title": "New mail", "message": subject, "priority": "normal",
            "fields": [{"name": "via", "value": "e2e"}]}
    bad += [f"generic {k} = {body.get(k)!r}, want {v!r}" for k, v in want.items() if body.get(k) != v]
    if not (isinstance(body.get("size"), int) and body["size"] > 200): bad.append(f"size {body.get('size')!r}")
    if g["method"] != "POST": bad.append("generic method " + g["method"])
    if g["headers"].get("Content-Type") != "application/json": bad.append("generic content type")
    if g["headers"].get("Idempotency-Key") != body.get("id"): bad.append("Idempotency-Key is not the event id")
    sig = dict(p.split("=", 1) for p in g["headers"].get("X-Mailward-Signature", "").split(",") if "=" in p)
    mac = hmac.new(secret.encode(), (sig.get("t", "") + "." + g["body"]).encode(), hashlib.sha256).hexdigest()
    if sig.get("v1") != mac: bad.append("X-Mailward-Signature does not verify with the secret")
    h = n["headers"]
    if n["body"] != subject: bad.append(f"ntfy body {n['body']!r}")
    for k, v in {"Content-Type": "text/plain; charset=utf-8", "Title": "New mail", "Priority": "3",
                 "Tags": "email", "Authorization": "Bearer " + token}.items():
        if h.get(k) != v: bad.append(f"ntfy header {k} = {h.get(k)!r}, want {v!r}")
    if "X-Mailward-Signature" in h: bad.append("ntfy signed although it has no secret_file")
    if h.get("Idempotency-Key") == g["headers"].get("Idempotency-Key"): bad.append("both targets share one event id")
for b in bad: print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
grep -rqF "$marker" "$home/Maildir/new" || fail "message not in bob's Maildir"
# Both events went through slots (notifyd created slots/ at start), and both slots are free again.
[ "$(grep -cF "/slots/$MAIL_UID-" "$MW_LOGS/dovecot.log")" -ge 2 ] \
  || fail "events not written into slots: $(grep -F "queued notification" "$MW_LOGS/dovecot.log" | tail -2)"
[ "$(stat -c '%a %s' "$SPOOL/slots/$MAIL_UID-0")" = "660 16384" ] || fail "slot mode/size: $(stat -c '%a %s' "$SPOOL/slots/$MAIL_UID-0")"
[ "$(pending_slots)" -eq 0 ] || fail "$(pending_slots) slots still hold an event after both were sent"
say "1: ok"

# check_stream PREFIX COUNT ALLOW_RESEND: every message of the run reached both targets; without
# ALLOW_RESEND no request twice, with it only repeats of one Idempotency-Key (same event)
check_stream() {
  python3 - "$REQ" "$1" "$2" "$3" <<'PY'
import collections, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
prefix, count, allow = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
want = {"<%s-%d@bench.mailward>" % (prefix, i) for i in range(count)}
per = collections.defaultdict(list)   # (target, message-id) -> idempotency keys of 2xx requests
for r in reqs:
    if r["status"] >= 300: continue
    if r["path"] == "/generic":
        mid = json.loads(r["body"])["message_id"]
    else:   # ntfy: the body is the subject "bench PREFIX i"
        parts = r["body"].split()
        mid = "<%s-%s@bench.mailward>" % (parts[1], parts[2]) if len(parts) == 3 else None
    if mid in want: per[(r["path"], mid)].append(r["headers"].get("Idempotency-Key"))
bad = []
for t in ("/generic", "/ntfy"):
    missing = [m for m in want if (t, m) not in per]
    if missing: bad.append(f"{t}: {len(missing)} of {count} lost, e.g. {sorted(missing)[:3]}")
resent = 0
for (t, m), keys in per.items():
    if len(set(keys)) != 1: bad.append(f"{t} {m}: {len(set(keys))} different events")
    if len(keys) > 1:
        resent += len(keys) - 1
        if not allow: bad.append(f"{t} {m}: received {len(keys)} times")
for b in bad: print("  " + b, file=sys.stderr)
print(f"{len(per)} notifications for {count} messages x 2 targets; resent with the same key: {resent}")
sys.exit(1 if bad else 0)
PY
}

# === 2. receiver down for a while ================================================================
say "2: receiver down during 12 deliveries"
base=$(ok_total)
stop_receiver
load e2edown 12 2
sleep 3
n_new=$(find "$SPOOL/new" -name '*.json' | wc -l)
[ "$n_new" -eq 24 ] || fail "expected 24 events waiting in the spool while the receiver is down, found $n_new"
start_receiver
wait_total $((base + 24)) 90
sleep 1.5
out=$(check_stream e2edown 12 0) || fail "receiver-down run: $out"
say "2: ok ($out)"

# === 3. notifyd SIGKILLed mid-stream =============================================================
say "3: SIGKILL mid-stream"
echo '{"status": 200, "delay_ms": 40}' >"$W/control"
base=$(ok_total)
ip netns exec "$MW_NS" python3 "$LOAD" --server "$MW_IP_DOVECOT" --source "$MW_IP_GOOD" --rcpt "$MW_RCPT" \
  --prefix e2ekill --count 60 --conns 1 --out "$W/e2ekill.jsonl" >"$W/e2ekill.summary" 2>&1 &
LOAD_PID=$!
for _ in $(seq 200); do [ "$(ok_total)" -ge $((base + 20)) ] && break; sleep 0.05; done
kill -9 "$NOTIFYD_PID"; wait "$NOTIFYD_PID" 2>/dev/null || true; NOTIFYD_PID=""
mid=$(( $(ok_total) - base ))
wait "$LOAD_PID" || fail "LMTP load during the kill failed: $(cat "$W/e2ekill.summary")"
[ "$mid" -lt 120 ] || fail "all 120 notifications arrived before the kill: not mid-stream"
left=$(( $(find "$SPOOL/new" -name '*.json' | wc -l) + $(pending_slots) ))
say "3: killed after $mid of 120 requests; $left events waiting (slots: $(pending_slots))"
[ "$left" -gt 0 ] || fail "no events left in the spool after the kill"
start_notifyd
wait_total $((base + 120)) 120
sleep 1.5
out=$(check_stream e2ekill 60 1) || fail "SIGKILL run: $out"
echo '{"status": 200}' >"$W/control"
[ -z "$(find "$SPOOL/new" -name '*.json')" ] || fail "events left in new/ after everything was delivered"
[ "$(pending_slots)" -eq 0 ] || fail "$(pending_slots) slots still hold an event after everything was delivered"
say "3: ok ($out)"

# === 3b. a prepared slot whose writer died =======================================================
say "3b: prepared slot left by a dead writer"
kill -TERM "$NOTIFYD_PID"; wait "$NOTIFYD_PID" 2>/dev/null || true; NOTIFYD_PID=""
base=$(ok_total)
orphan_id=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
# The record a delivery process writes in Sieve's execute phase (state P), in a free slot of the
# mail user's, written as that user; the process then "dies" (no commit, no release).
setpriv --reuid "$MAIL_UID" --regid "$MAIL_UID" --clear-groups /usr/bin/python3 - "$SPOOL/slots" "$orphan_id" "$MW_RCPT" <<'PY'
import json, os, struct, sys, time, zlib
d, eid, user = sys.argv[1:4]
for k in range(64):
    path = os.path.join(d, "%d-%d" % (os.getuid(), k))
    if not os.path.exists(path): break
    with open(path, "rb") as f: head = f.read(9)
    if head[8:9] not in (b"P", b"R"): break
ev = {"version": 1, "id": eid, "time_ms": int(time.time() * 1000), "user": user, "mailbox": "INBOX",
      "envelope_from": "a@b.example", "header_from": "a@b.example", "to": user, "subject": "orphan",
      "message_id": "<orphan@e2e>", "size": 1, "target": "generic", "title": "t", "message": "orphan",
      "priority": "normal", "fields": []}
js = json.dumps(ev, separators=(",", ":")).encode()
ln = struct.pack("<I", len(js))
rec = b"mwslot1\n" + b"P\0\0\0" + ln + struct.pack("<I", zlib.crc32(ln + js)) + b"\0" * 12 + js
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o660)
os.pwrite(fd, rec + b"\0" * (16384 - len(rec)), 0)
os.fsync(fd); os.close(fd)
PY
[ "$(pending_slots)" -eq 1 ] || fail "the orphan record is not in a slot"
start_notifyd
wait_total $((base + 1)) 20
python3 -c 'import json,sys; sys.exit(0 if any(json.loads(l)["headers"].get("Idempotency-Key") == sys.argv[2] for l in open(sys.argv[1])) else 1)' \
  "$REQ" "$orphan_id" || fail "the orphan prepared event was not sent"
for _ in $(seq 30); do [ "$(pending_slots)" -eq 0 ] && break; sleep 0.1; done
[ "$(pending_slots)" -eq 0 ] || fail "the orphan slot was not freed after sending"
grep -qF "did not finish" "$E/notifyd.log" || fail "notifyd did not log the orphan slot"
say "3b: ok"

# === 4. secrets ===================================================================================
say "4: secret and token never logged or spooled"
logs=("$MW_LOGS" "$E/notifyd.log" "$E/notifyd.stderr" "$SPOOL" "$home/.dovecot.sieve.log")
for s in "$SECRET" "$TOKEN"; do
  hits=$(grep -rlF -- "$s" "${logs[@]}" 2>/dev/null || true)
  [ -z "$hits" ] || fail "a secret appears in: $hits"
done
world=$(find "$SPOOL" -mindepth 1 -perm /o=rwx | head -5)
[ -z "$world" ] || fail "spool entries accessible to other users: $world"
grep -q . "$E/notifyd.log" || fail "notifyd wrote no log at all (the secret check would be vacuous)"
grep -qF "queued notification" "$MW_LOGS/dovecot.log" || fail "dovecot.log shows no queued notification"
say "4: ok"

kill -TERM "$NOTIFYD_PID"; wait "$NOTIFYD_PID" 2>/dev/null || true; NOTIFYD_PID=""
stop_receiver
echo "PASS: notify end to end (Dovecot LMTP + vnd.mailward.webhook + mailward-notifyd + receiver)"
