#!/usr/bin/env bash
# policy_redis.sh — two mailward-policyd sharing one redis-server (as on two MX hosts) enforce one
# rate limit together; Redis stopped mid-test gives the configured fail mode (here: allow, with the
# loud warning in the log), and after Redis is started again the shared limit applies again, with no
# restart of either daemon. The clients speak the Postfix policy protocol directly on each daemon's
# unix socket (what smtpd sends at RCPT), so no Postfix is needed here; policy_postfix.sh covers the
# Postfix side.
# Usage: policy_redis.sh POLICYD_BINARY [STATE_DIR]
set -euo pipefail
POLICYD="${1:?usage: policy_redis.sh POLICYD_BINARY [STATE_DIR]}"
STATE="${2:-$(mktemp -d /tmp/mw-pr.XXXXXX)}"
fail() {
  echo "policy_redis: FAIL: $*" >&2
  tail -5 "$STATE"/policyd-*.log >&2 2>/dev/null || true
  exit 1
}
[ -x "$POLICYD" ] || fail "mailward-policyd binary $POLICYD missing (not skipping)"
command -v redis-server >/dev/null || fail "redis-server is not installed (scripts/install-deps.sh; not skipping)"
command -v python3 >/dev/null || fail "python3 missing"

rm -rf "$STATE"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
[ "${#STATE}" -le 70 ] || fail "state dir path too long for unix sockets: $STATE"
REDIS_SOCK="$STATE/redis.sock"
PIDS=()
REDIS_PID=""
cleanup() {
  local p
  for p in "${PIDS[@]}" $REDIS_PID; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

start_redis() {
  redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --save "" --appendonly no \
    --dir "$STATE" >>"$STATE/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do [ -S "$REDIS_SOCK" ] && break; sleep 0.1; done
  [ -S "$REDIS_SOCK" ] || fail "redis-server did not start: $(tail -3 "$STATE/redis.log")"
}
stop_redis() {
  kill "$REDIS_PID"
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=""
  rm -f "$REDIS_SOCK"
}

start_redis
for n in 1 2; do
  {
    echo "[log]"
    echo "destination = $STATE/policyd-$n.log"
    echo "level = info"
    echo "[store]"
    echo "backend = redis"
    echo "redis_host = $REDIS_SOCK"
    echo "redis_timeout = 200ms"
    echo "fail_mode = allow"
    echo "[policy]"
    echo "socket = $STATE/policy-$n.sock"
    echo "checks = rate"
    echo "limit = user messages 5/1h"
  } >"$STATE/policyd-$n.conf"
  "$POLICYD" --config "$STATE/policyd-$n.conf" 2>>"$STATE/policyd-$n.stderr" &
  PIDS+=($!)
done
for n in 1 2; do
  for _ in $(seq 1 50); do [ -S "$STATE/policy-$n.sock" ] && break; sleep 0.1; done
  [ -S "$STATE/policy-$n.sock" ] || fail "policyd $n did not start: $(cat "$STATE/policyd-$n.stderr")"
done

cat >"$STATE/ask.py" <<'PY'
# ask.py SOCKET INSTANCE: one RCPT request for user carol (a new message); prints the action.
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.5\n"
           "sasl_username=carol@ex.org\nsender=carol@ex.org\nrecipient=x@remote.example\n"
           "instance=%s\n\n" % sys.argv[2]).encode())
data = b""
while not data.endswith(b"\n\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode().strip())
PY
ask() { python3 "$STATE/ask.py" "$STATE/policy-$1.sock" "$2"; }

# 1. One limit of 5 messages shared by both daemons: alternate between them.
accepted=0
for i in $(seq 1 8); do
  n=$(( i % 2 + 1 ))
  a="$(ask "$n" "shared-$i")"
  case "$a" in
    action=DUNNO) accepted=$((accepted + 1)) ;;
    "action=450 4.7.1 rate limit exceeded for user carol@ex.org"*) ;;
    *) fail "unexpected answer from policyd $n: $a" ;;
  esac
done
[ "$accepted" -eq 5 ] || fail "the two daemons accepted $accepted messages together, not 5"
echo "ok: two mailward-policyd sharing one redis enforce one limit (5 of 8 accepted)"

# 2. Redis stopped: fail mode allow, loudly.
stop_redis
for n in 1 2; do
  a="$(ask "$n" "down-$n")"
  [ "$a" = "action=DUNNO" ] || fail "policyd $n with redis down answered '$a' (fail_mode = allow)"
  grep -q "rate limits NOT ENFORCED" "$STATE/policyd-$n.log" || fail "policyd $n did not warn that limits are off"
done
echo "ok: redis down -> fail mode allow, with the warning logged"

# 3. Redis back (empty: no persistence): the shared limit applies again without restarting anything.
start_redis
accepted=0
for i in $(seq 1 40); do
  n=$(( i % 2 + 1 ))
  a="$(ask "$n" "back-$i")"
  [ "$a" = "action=DUNNO" ] && accepted=$((accepted + 1))
  # The store reconnects with back-off: wait until answers are refusals again.
  case "$a" in "action=450 4.7.1"*) break ;; esac
  sleep 0.25
done
[ "$a" != "action=DUNNO" ] || fail "after redis came back the limit was never enforced again"
[ "$accepted" -ge 5 ] || fail "only $accepted accepted after the restart (fresh redis should allow 5)"
a1="$(ask 1 back-final-1)"
a2="$(ask 2 back-final-2)"
case "$a1$a2" in
  *DUNNO*) fail "a daemon let a message past the shared limit after reconnecting: '$a1' '$a2'" ;;
esac
echo "ok: redis back -> both daemons enforce the shared limit again ($accepted accepted while reconnecting/refilling)"
for p in "${PIDS[@]}"; do kill -0 "$p" || fail "a policyd died during the test"; done
echo "policy_redis: PASS"
