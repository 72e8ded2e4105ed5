#!/usr/bin/env bash
# Benchmark of the notification path after delivery: mailward-notifyd alone (the Sieve plugin's
# write is measured by the plugin's own benchmark). In a private network namespace with the HTTPS
# test receiver (tests/integration/notify/receiver.py, keep-alive on), it
#   paced: writes N events (default 1000) at one per INTERVAL ms (default 5) and reports the time
#          from the event's time_ms (taken just before the durable write) to the receiver logging
#          the request: p50, p99, max;
#   burst: writes N events at once and reports how long until all arrived (events/s);
# and for both the CPU of mailward-notifyd per event (utime+stime from /proc, ms).
# Issue 3 targets: p99 under 50 ms; notification CPU <= 0.3 ms per message.
# Usage: bench/notify/run.sh BUILD_DIR [N] [INTERVAL_MS]     (root: ip netns)
# SCHEME=http runs the same against a plain-HTTP receiver (to see what TLS costs).
set -euo pipefail
BUILD="${1:?usage: run.sh BUILD_DIR [N] [INTERVAL_MS]}"
N="${2:-1000}"
INTERVAL="${3:-5}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RECEIVER="$HERE/../../tests/integration/notify/receiver.py"
# MW_BENCH_NOTIFYD=FILE: another mailward-notifyd binary (e.g. to compare two versions).
NOTIFYD="${MW_BENCH_NOTIFYD:-$(cd "$BUILD" && pwd)/dovecot-plugins/notifyd/mailward-notifyd}"
CLI="$(cd "$BUILD" && pwd)/dovecot-plugins/notifyd/mailward-notify-cli"
[ "$(id -u)" -eq 0 ] || { echo "needs root (ip netns)" >&2; exit 1; }
[ -x "$NOTIFYD" ] && [ -x "$CLI" ] || { echo "build mailward-notifyd and mailward-notify-cli in $BUILD" >&2; exit 1; }

NS="mwnbench$$"
W="$(mktemp -d /tmp/mw-notify-bench.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "/etc/netns/$NS" "$W"; }
trap cleanup EXIT
ip netns add "$NS"
mkdir -p "/etc/netns/$NS"
printf '127.0.0.1 localhost\n127.0.0.70 receiver.example\n' > "/etc/netns/$NS/hosts"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip addr add 127.0.0.70/32 dev lo

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=receiver.example" -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:receiver.example\n' > "$W/ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 -extfile "$W/ext" -out "$W/srv.pem" 2>/dev/null
echo '{"status": 200}' > "$W/control"
SCHEME="${SCHEME:-https}"
PLAIN=(); [ "$SCHEME" = http ] && PLAIN=(--plain)
ip netns exec "$NS" python3 "$RECEIVER" "${PLAIN[@]}" --keepalive --bind 127.0.0.70:8443 --cert "$W/srv.pem" --key "$W/srv.key" \
  --log "$W/requests.jsonl" --control "$W/control" > "$W/receiver.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$W/receiver.out" 2>/dev/null && break; sleep 0.1; done

printf 'k3y-for-bench\n' > "$W/secret"
cat > "$W/m.conf" <<CONF
[notify]
spool = $W/spool
log = $W/notifyd.log
[target.bench]
url = $SCHEME://receiver.example:8443/bench
secret_file = $W/secret
ca_file = $W/ca.pem
users = *
CONF
ip netns exec "$NS" "$NOTIFYD" --config "$W/m.conf" 2>>"$W/notifyd.log" &
NPID=$!
PIDS+=($NPID)
sleep 0.5
cpu_ms() { awk '{print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' "/proc/$NPID/stat"; }
wait_for() { for _ in $(seq 1200); do [ "$(wc -l 2>/dev/null < "$W/requests.jsonl" || echo 0)" -ge "$1" ] && return 0; sleep 0.05; done; echo "timeout waiting for $1 requests" >&2; exit 1; }

# warm-up (TLS session, connection)
"$CLI" enqueue --config "$W/m.conf" --target bench --user u@example.org --message warm > /dev/null
wait_for 1

c0=$(cpu_ms)
"$CLI" enqueue --config "$W/m.conf" --target bench --user u@example.org --message paced --count "$N" --interval-ms "$INTERVAL" > /dev/null
wait_for $((N + 1))
c1=$(cpu_ms)
t0=$(date +%s.%N)
"$CLI" enqueue --config "$W/m.conf" --target bench --user u@example.org --message burst --count "$N" > /dev/null
t_written=$(date +%s.%N)
wait_for $((2 * N + 1))
t1=$(date +%s.%N)
c2=$(cpu_ms)
python3 - "$W/requests.jsonl" "$N" "$INTERVAL" "$c0" "$c1" "$c2" "$t0" "$t_written" "$t1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n, interval = int(sys.argv[2]), int(sys.argv[3])
c0, c1, c2, t0, tw, t1 = map(float, sys.argv[4:10])
paced = [r for r in rows if json.loads(r["body"])["message"].startswith("paced")]
lat = sorted(r["time"] * 1000 - json.loads(r["body"])["time_ms"] for r in paced)
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
keys = [r["headers"]["Idempotency-Key"] for r in rows]
print(f"paced: {len(paced)} events, one per {interval} ms: latency write->receiver p50 {pct(0.5):.1f} ms, "
      f"p99 {pct(0.99):.1f} ms, max {lat[-1]:.1f} ms (target p99 < 50 ms)")
print(f"paced: notifyd CPU {(c1 - c0) / n:.3f} ms/event (target <= 0.3 ms per message)")
print(f"burst: {n} events written in {tw - t0:.2f} s, all received after {t1 - t0:.2f} s "
      f"({n / (t1 - t0):.0f} events/s end to end); notifyd CPU {(c2 - c1) / n:.3f} ms/event")
print(f"duplicates: {len(keys) - len(set(keys))}")
PY
