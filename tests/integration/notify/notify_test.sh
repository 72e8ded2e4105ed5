#!/usr/bin/env bash
# Integration test for mailward-notifyd (no Postfix/Dovecot): a private network namespace, an HTTPS
# receiver (receiver.py, CA and certificate made with openssl here), events written with
# `mailward notify enqueue` (test front end mailward-notify-cli), and the real daemon. Checks:
#   1. one request per event with the exact payload for every preset; signature and idempotency key
#   2. a 404 is a permanent failure: dead-lettered after one attempt
#   3. receiver down for a while, then 503 + Retry-After: everything arrives later, no duplicates
#   4. notifyd SIGKILLed mid-stream and restarted: nothing lost
#   5. user URLs: an allowed public name is delivered to the pinned address; 127.0.0.1, 10.x and
#      names resolving there, and http://, are refused (dead-lettered, never requested)
#   6. the signing secret is in no log, event or state file; spool files are not world-readable
#   6b. `mailward notify test`; SIGHUP re-reads the secret; a rate limit delays and drops nothing
#   7. Prometheus metrics on the loopback port; SIGTERM exits cleanly
# Needs root (ip netns). Never skips: a missing prerequisite is a failure that says why.
# Env: NOTIFYD (mailward-notifyd), NOTIFY_CLI (mailward-notify-cli).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
mw_has() { grep "$@" >/dev/null; }  # reads all input: `echo | grep -q` races with pipefail (SIGPIPE)
say() { printf '[notify-test] %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root (ip netns); not skipping"
for c in ip openssl python3 curl setpriv; do command -v "$c" >/dev/null || die "missing command $c"; done
[ -x "${NOTIFYD:-}" ] || die "NOTIFYD must name the mailward-notifyd binary"
[ -x "${NOTIFY_CLI:-}" ] || die "NOTIFY_CLI must name the mailward-notify-cli binary"

NS="mwnotify$$$RANDOM"
W="$(mktemp -d /tmp/mw-notify.XXXXXX)"
chmod 0755 "$W"
NOTIFYD_PID=""
RECV_PID=""
cleanup() {
  set +e
  [ -n "$NOTIFYD_PID" ] && kill "$NOTIFYD_PID" 2>/dev/null && wait "$NOTIFYD_PID" 2>/dev/null
  [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null && wait "$RECV_PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "/etc/netns/$NS"
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

# --- namespace: receiver on 127.0.0.70 (admin targets) and 203.0.113.5 (a "public" user URL host)
ip netns add "$NS"
mkdir -p "/etc/netns/$NS"
cat > "/etc/netns/$NS/hosts" <<HOSTS
127.0.0.1 localhost
127.0.0.70 receiver.example
203.0.113.5 hook.user.example
127.0.0.1 local.bad.example
10.1.2.3 ten.bad.example
203.0.113.5 mixed.bad.example
169.254.169.254 meta.bad.example
HOSTS
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip addr add 127.0.0.70/32 dev lo
ip netns exec "$NS" ip addr add 203.0.113.5/32 dev lo
ip netns exec "$NS" ip addr add 10.1.2.3/32 dev lo
nsx() { ip netns exec "$NS" "$@"; }

# --- CA and server certificate
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mailward test CA" \
  -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=receiver.example" -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:receiver.example,DNS:hook.user.example,DNS:local.bad.example,DNS:ten.bad.example,IP:127.0.0.1,IP:10.1.2.3\n' > "$W/ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/ext" -out "$W/srv.pem" 2>/dev/null
chmod 0644 "$W/ca.pem"

echo '{"status": 200}' > "$W/control"
start_receiver() {
  ip netns exec "$NS" python3 "$HERE/receiver.py" --bind 127.0.0.70:8443 --bind 203.0.113.5:8443 \
    --bind 127.0.0.1:8443 --bind 10.1.2.3:8443 \
    --cert "$W/srv.pem" --key "$W/srv.key" --log "$W/requests.jsonl" --control "$W/control" > "$W/receiver.out" 2>&1 &
  RECV_PID=$!
  for _ in $(seq 50); do grep -q ready "$W/receiver.out" 2>/dev/null && return 0; sleep 0.1; done
  die "receiver did not start: $(cat "$W/receiver.out")"
}
stop_receiver() { kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null || true; RECV_PID=""; }
start_receiver

# --- configuration; notifyd drops to nobody
SECRET="s3cr3t-$RANDOM$RANDOM-never-logged"
SPOOL="$W/spool"
mkdir -p "$SPOOL" "$W/secrets"
printf '%s\n' "$SECRET" > "$W/secrets/sign"
printf 'pushover-app-token\n' > "$W/secrets/po"
printf 'gotify-app-key\n' > "$W/secrets/gotify"
chown -R nobody:nogroup "$SPOOL" "$W/secrets"
chmod 0700 "$W/secrets"; chmod 0600 "$W/secrets"/*
chmod 0750 "$SPOOL"
R=https://receiver.example:8443
cat > "$W/mailward.conf" <<CONF
[notify]
spool = $SPOOL
user = nobody
metrics_listen = 127.0.0.1:9468
rescan_interval = 2s
log = $W/notifyd.log
log_level = debug

[target.generic]
url = $R/generic
secret_file = $W/secrets/sign
ca_file = $W/ca.pem
users = *
max_attempts = 50
timeout = 3s
[target.ntfy]
url = $R/ntfy
format = ntfy
ca_file = $W/ca.pem
users = *
[target.gotify]
url = $R/gotify
format = gotify
token_file = $W/secrets/gotify
ca_file = $W/ca.pem
users = *
[target.pushover]
url = $R/pushover
format = pushover
token_file = $W/secrets/po
pushover_user = uQiRzpo4DXghDmr9QzzfQu27cmVRsG
ca_file = $W/ca.pem
users = *
[target.ifttt]
url = $R/ifttt
format = ifttt
ca_file = $W/ca.pem
users = *
[target.slack]
url = $R/slack
format = slack
ca_file = $W/ca.pem
users = *
[target.mattermost]
url = $R/mattermost
format = mattermost
ca_file = $W/ca.pem
users = *
[target.discord]
url = $R/discord
format = discord
ca_file = $W/ca.pem
users = *
[target.limited]
url = $R/limited
ca_file = $W/ca.pem
users = *
rate_per_target = 2/1s
[target.gone]
url = $R/gone
ca_file = $W/ca.pem
users = *
[target.user]
url = $R/admin-default
ca_file = $W/ca.pem
users = *
allow_user_url = yes
url_hosts = hook.user.example, *.bad.example
CONF
chmod 0644 "$W/mailward.conf"

# ip netns exec needs root; run it first, then drop: setpriv inside the namespace.
cli() { ip netns exec "$NS" setpriv --reuid nobody --regid nogroup --clear-groups "$NOTIFY_CLI" "$@" --config "$W/mailward.conf"; }

"$NOTIFYD" --config "$W/mailward.conf" --check > "$W/check.out" || die "--check failed: $(cat "$W/check.out")"
start_notifyd() {
  ip netns exec "$NS" "$NOTIFYD" --config "$W/mailward.conf" --foreground 2>> "$W/notifyd.stderr" &
  NOTIFYD_PID=$!
  sleep 0.3
  kill -0 "$NOTIFYD_PID" 2>/dev/null || die "notifyd exited: $(cat "$W/notifyd.stderr" "$W/notifyd.log" 2>/dev/null)"
}
start_notifyd
[ "$(ps -o user= -p "$NOTIFYD_PID" | tr -d ' ')" = nobody ] || die "notifyd did not drop privileges to nobody"

# wait_requests N [SECONDS]: until the receiver logged N 2xx requests in total
wait_requests() {
  local n=$1 secs=${2:-20} i
  for i in $(seq $((secs * 10))); do
    [ "$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["status"] < 300))' "$W/requests.jsonl" 2>/dev/null || echo 0)" -ge "$n" ] && return 0
    sleep 0.1
  done
  die "expected $n delivered requests within ${secs}s, log has: $(wc -l < "$W/requests.jsonl" 2>/dev/null || echo 0) lines"
}
# wait_ids FILE SECS: until every event id listed in FILE has a 2xx request (resends after a crash
# are counted once: waiting on a request count would stop early when some events came twice).
wait_ids() {
  local file=$1 secs=${2:-20} i
  for i in $(seq $((secs * 10))); do
    python3 - "$W/requests.jsonl" "$file" <<'PY' 2>/dev/null && return 0
import json, sys
ids = set(l.split()[-1] for l in open(sys.argv[2]) if l.strip())
got = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["status"] < 300:
        got.add(r["headers"].get("Idempotency-Key"))
sys.exit(0 if ids <= got else 1)
PY
    sleep 0.1
  done
  die "not every event of $file delivered within ${secs}s"
}
ok_count() { python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["status"] < 300))' "$W/requests.jsonl" 2>/dev/null || echo 0; }

# === 1. every preset, exact payloads =================================================================
say "1: presets"
: > "$W/ids.1"
for t in generic ntfy gotify pushover ifttt slack mattermost discord; do
  id=$(cli enqueue --target "$t" --user alice@example.org --title "New mail" --message "Lunch & <you>?" \
       --subject "Lunch" --priority high --field k=v)
  echo "$t $id" >> "$W/ids.1"
done
wait_requests 8
python3 "$HERE/check_presets.py" "$W/requests.jsonl" "$W/ids.1" "$SECRET" || die "preset payloads differ"

# === 2. permanent failure =============================================================================
say "2: 404 is permanent"
gone_id=$(cli enqueue --target gone --user alice@example.org --message x)
for _ in $(seq 50); do cli queue | mw_has "^dead    $gone_id" && break; sleep 0.1; done
cli queue | mw_has "^dead    $gone_id target=gone age=[0-9]*s attempts=1 last_error=HTTP 404" \
  || die "404 not dead-lettered after one attempt: $(cli queue)"

# === 3. receiver down, then 503 with Retry-After ======================================================
say "3: receiver down for a while"
base=$(ok_count)
stop_receiver
: > "$W/ids.3"
for i in $(seq 20); do cli enqueue --target generic --user bob@example.org --message "down $i" >> "$W/ids.3"; done
sleep 3
q=$(cli queue)
echo "$q" | mw_has "^pending 20, dead 1" || die "expected 20 pending while down: $q"
echo "$q" | mw_has "attempts=[1-9].*last_error=.*" || die "no retry state recorded while down: $q"
echo '{"status": 503, "retry_after": 1}' > "$W/control"
start_receiver
sleep 2
echo '{"status": 200}' > "$W/control"
wait_requests $((base + 20)) 60
python3 - "$W/requests.jsonl" "$W/ids.3" <<'PY' || die "receiver-down run lost or duplicated events"
import json, sys
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
ok = [json.loads(l) for l in open(sys.argv[1])]
got = [r["headers"].get("Idempotency-Key") for r in ok if r["status"] < 300 and r["headers"].get("Idempotency-Key") in ids]
assert sorted(got) == sorted(ids), f"delivered {len(got)} of {len(ids)}; duplicates {len(got) - len(set(got))}"
print("down: all 20 delivered once;", sum(1 for r in ok if r["status"] == 503), "503 answers seen", file=sys.stderr)
PY
grep -q "503" "$W/notifyd.log" || die "no 503 retry in the log"

# === 4. SIGKILL mid-stream ============================================================================
say "4: SIGKILL and restart mid-stream"
echo '{"status": 200, "delay_ms": 30}' > "$W/control"
base=$(ok_count)
cli enqueue --target generic --user carol@example.org --message burst --count 150 > "$W/ids.4"
sleep 0.4
kill -9 "$NOTIFYD_PID"; wait "$NOTIFYD_PID" 2>/dev/null || true; NOTIFYD_PID=""
mid=$(( $(ok_count) - base ))
say "killed after $mid of 150 delivered"
[ "$mid" -lt 150 ] || die "all 150 delivered before the kill: not mid-stream"
start_notifyd
wait_ids "$W/ids.4" 60
python3 - "$W/requests.jsonl" "$W/ids.4" <<'PY' || die "events lost across SIGKILL"
import json, sys
ids = set(l.strip() for l in open(sys.argv[2]) if l.strip())
got = [json.loads(l)["headers"].get("Idempotency-Key") for l in open(sys.argv[1])]
got = [g for g in got if g in ids]
missing = ids - set(got)
assert not missing, f"{len(missing)} events lost"
print(f"sigkill: all {len(ids)} delivered; {len(got) - len(set(got))} resent (same Idempotency-Key)", file=sys.stderr)
PY
echo '{"status": 200}' > "$W/control"

# === 5. user URLs =====================================================================================
say "5: user URLs"
good=$(cli enqueue --target user --user alice@example.org --message u --url https://hook.user.example:8443/mine)
bad=()
for u in https://127.0.0.1:8443/x https://10.1.2.3:8443/x https://local.bad.example:8443/x \
         https://ten.bad.example:8443/x https://meta.bad.example/x http://hook.user.example:8443/x \
         https://elsewhere.example:8443/x; do
  bad+=("$(cli enqueue --target user --user alice@example.org --message u --url "$u")")
done
for _ in $(seq 100); do
  [ "$(cli queue | grep -c '^dead ')" -ge 8 ] && grep -q '"/mine"' "$W/requests.jsonl" && break; sleep 0.1
done
python3 - "$W/requests.jsonl" "$good" <<'PY' || die "allowed user URL not delivered to the pinned host"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in rs if r["headers"].get("Idempotency-Key") == sys.argv[2]]
assert len(mine) == 1 and mine[0]["path"] == "/mine" and mine[0]["host"] == "hook.user.example:8443", mine
PY
q=$(cli queue)
for id in "${bad[@]}"; do
  echo "$q" | mw_has "^dead    $id target=user" || die "user URL event $id not refused: $q"
  grep -q "\"$id\"" "$W/requests.jsonl" && die "refused user URL event $id reached the receiver"
done
for want in "is an address, not an allowed name" "resolves to loopback address 127.0.0.1" \
             "resolves to private address 10.1.2.3" "resolves to metadata address 169.254.169.254" \
             "user URL is not https" "is not on the target's url_hosts"; do
  echo "$q" | mw_has -F "$want" || die "no dead letter says '$want': $q"
done

# === 6. secrets and permissions =======================================================================
say "6: secret and permissions"
if grep -rqF "$SECRET" "$W/notifyd.log" "$W/notifyd.stderr" "$SPOOL" "$W/requests.jsonl"; then
  die "the signing secret appears in a log, spool or request file"
fi
world=$(find "$SPOOL" -perm -o=r -o -perm -o=w | head -5)
[ -z "$world" ] || die "spool entries readable/writable by others: $world"

# === 6b. mailward notify test, SIGHUP re-reads the secret, rate limits delay without dropping =======
say "6b: notify test, SIGHUP, rate limit"
out=$(cli test generic) || die "notify test generic failed: $out"
[ "$(printf '%s' "$out" | head -1)" = "HTTP 200" ] || die "notify test printed: $out"
printf '%s' "$out" | mw_has -F '{"ok":true}' || die "notify test did not print the body: $out"
SECRET2="rotated-$RANDOM$RANDOM"
printf '%s\n' "$SECRET2" > "$W/secrets/sign"
kill -HUP "$NOTIFYD_PID"
sleep 0.3
rot=$(cli enqueue --target generic --user alice@example.org --message rotated)
for _ in $(seq 50); do grep -q "$rot" "$W/requests.jsonl" && break; sleep 0.1; done
python3 - "$W/requests.jsonl" "$rot" "$SECRET2" <<'PY' || die "request after SIGHUP not signed with the new secret"
import hashlib, hmac, json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if sys.argv[2] in l][0]
p = dict(x.split("=", 1) for x in r["headers"]["X-Mailward-Signature"].split(","))
assert p["v1"] == hmac.new(sys.argv[3].encode(), (p["t"] + "." + r["body"]).encode(), hashlib.sha256).hexdigest()
PY
cli enqueue --target limited --user alice@example.org --message rl --count 6 > "$W/ids.rl"
for _ in $(seq 100); do [ "$(grep -c '"/limited"' "$W/requests.jsonl")" -ge 6 ] && break; sleep 0.1; done
python3 - "$W/requests.jsonl" "$W/ids.rl" <<'PY' || die "rate limit dropped or did not delay"
import json, sys
ids = set(l.strip() for l in open(sys.argv[2]) if l.strip())
rs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["time"])
got = [r for r in rs if r["headers"].get("Idempotency-Key") in ids]
assert len(got) == 6 and len({r["headers"]["Idempotency-Key"] for r in got}) == 6, len(got)
spread = got[-1]["time"] - got[0]["time"]
# bucket of 2, refilled at 2/s: the 6th request no earlier than ~2 s after the first
assert spread >= 1.8, f"6 requests within {spread:.2f}s despite rate_per_target = 2/1s"
print(f"rate limit: 6 delivered over {spread:.2f}s", file=sys.stderr)
PY
if grep -rqF "$SECRET2" "$W/notifyd.log" "$W/notifyd.stderr" "$SPOOL" "$W/requests.jsonl"; then
  die "the rotated secret appears in a log, spool or request file"
fi

# === 7. metrics =======================================================================================
say "7: metrics"
m=$(nsx curl -sf http://127.0.0.1:9468/metrics) || die "metrics endpoint did not answer"
for want in "mailward_notify_sent_total" "mailward_notify_dead_lettered_total" \
            'mailward_notify_send_seconds_bucket{le="+Inf"}' "mailward_notify_retried_total"; do
  echo "$m" | mw_has -F "$want" || die "metrics lack $want"
done
sent=$(echo "$m" | awk '/^mailward_notify_sent_total/ {print $2}')
[ "$sent" -ge 1 ] || die "sent_total is $sent after restart"

# === 7b. batch window: events that arrive together wait for the window, then go out together =====
say "7b: batch window"
kill -TERM "$NOTIFYD_PID"; wait "$NOTIFYD_PID" 2>/dev/null || true; NOTIFYD_PID=""
# No periodic rescan during this part: it would pick the events up before the window ends.
sed -i -e 's/^rescan_interval = .*/rescan_interval = 1h\nbatch_window = 400ms/' "$W/mailward.conf"
start_notifyd
sleep 0.3
t0=$(date +%s.%N)
cli enqueue --target generic --user alice@example.org --message batched --count 5 > "$W/ids.batch"
wait_ids "$W/ids.batch" 10
python3 - "$W/requests.jsonl" "$W/ids.batch" "$t0" <<'PY' || die "batch_window = 400ms not honoured"
import json, sys
ids = set(l.split()[-1] for l in open(sys.argv[2]) if l.strip())
times = sorted(json.loads(l)["time"] for l in open(sys.argv[1])
               if json.loads(l)["headers"].get("Idempotency-Key") in ids)
first, last = times[0] - float(sys.argv[3]), times[-1] - float(sys.argv[3])
assert len(times) == 5, times
assert first >= 0.35, f"first request {first:.3f}s after the events were written: window not waited"
assert last - first < 0.3, f"requests spread over {last - first:.3f}s: not sent together"
print(f"batch window: 5 requests {first:.3f}-{last:.3f}s after writing", file=sys.stderr)
PY

# SIGTERM exits cleanly
kill -TERM "$NOTIFYD_PID"
for _ in $(seq 60); do kill -0 "$NOTIFYD_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NOTIFYD_PID" 2>/dev/null && die "notifyd did not exit within 6 s of SIGTERM"
wait "$NOTIFYD_PID" || die "notifyd exit status $? after SIGTERM"
NOTIFYD_PID=""
echo "PASS: mailward-notifyd integration"
