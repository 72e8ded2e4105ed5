#!/usr/bin/env bash
# run_policy_bench.sh — mailward-policyd against postfwd (Debian's postfwd2 1.35, the anchor), same
# requests, same run. Both answer the same three decisions: relay refused (554 5.7.1) for
# unauthenticated mail to a non-local domain, sender not owned (553 5.7.1: the SASL user is not the
# envelope sender), and a per-user message rate limit (never reached here, but every authenticated
# request takes a token). postfwd expresses "owned" as sender == sasl_username; mailward-policyd
# reads a 1000-entry sender map — for this request mix the two agree (the answer counts printed
# per row show it).
#
#   bench/policy/run_policy_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS] [RATE]
#
# Rows: mailward-policyd with the memory store, with the embedded (LMDB) store, with Redis (a local
# redis-server on a unix socket; its CPU is counted with the daemon's), and postfwd. Each service
# runs two phases (README.md beside this script says why):
#   saturated — closed loop, every connection sends its next request when the answer comes: the
#     throughput. Prints decisions/s and latency (client side, mostly queueing), then the server's
#     CPU time per decision from /proc ("decisions per CPU-second", the one-core figure).
#   latency — open loop at a fixed offered RATE (default 5000 requests/s over the connections; for
#     postfwd, which cannot keep up with that, POSTFWD_RATE, default 100/s): p50/p99/p99.9 of a
#     service that is not saturated. With root, this phase runs client and server (and redis) under
#     SCHED_FIFO (chrt) so other processes on a shared build machine do not preempt them; the
#     output says whether it did (RT=0 switches it off). SATURATED_RT=1 runs the saturated phase
#     that way too: the server then has CPU 1 to itself (less the kernel's 5 % RT reserve), so its
#     decisions/s is a one-core figure even on a busy machine — but it starves everything else on
#     that core for the length of the row, so it is off by default.
# With two cores or more, the server (and redis, and postfwd with its children) is pinned to CPU 1
# and the client to CPU 0 (taskset; PIN=0 switches it off): "one core" is then literal.
set -euo pipefail
BUILD="${1:?usage: run_policy_bench.sh BUILD_DIR [SECONDS] [CONNECTIONS] [RATE]}"
SECONDS_PER_ROW="${2:-5}"
CONNS="${3:-8}"
RATE="${4:-5000}"
POSTFWD_RATE="${POSTFWD_RATE:-100}"
SERVER_PIN=()
CLIENT_PIN=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_PIN=(taskset -c 1)
  CLIENT_PIN=(taskset -c 0)
fi
USE_RT=0
if [ "${RT:-1}" = 1 ] && [ "$(id -u)" = 0 ] && chrt -f 20 true 2>/dev/null; then USE_RT=1; fi
POLICYD="$BUILD/policy/mailward-policyd"
CLIENT="$BUILD/policy/policy_bench"
[ -x "$POLICYD" ] || { echo "missing $POLICYD" >&2; exit 1; }
[ -x "$CLIENT" ] || { echo "missing $CLIENT (configure with -DMAILWARD_BENCH=ON)" >&2; exit 1; }
command -v postfwd >/dev/null || { echo "postfwd is not installed (apt-get install postfwd)" >&2; exit 1; }

work="$(mktemp -d /tmp/mw-pbench.XXXXXX)"
chmod 0755 "$work"
POLICYD_PID=""
REDIS_PID=""
descendants() { # PID: it and every process below it
  local k
  echo "$1"
  for k in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do descendants "$k"; done
}
# postfwd's pid file names a short-lived launcher at times: find the master by its command line,
# which holds this run's unique work directory.
postfwd_master() {
  local d
  for d in /proc/[0-9]*; do
    if { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -q "^/usr/sbin/postfwd --file=$work/postfwd.rules"; then
      echo "${d#/proc/}"
    fi
  done
}
cleanup() {
  [ -z "$POLICYD_PID" ] || kill "$POLICYD_PID" 2>/dev/null || true
  [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true
  local m pids=""
  for m in $(postfwd_master); do pids="$pids $(descendants "$m")"; done
  # shellcheck disable=SC2086
  [ -z "${pids// /}" ] || kill $pids 2>/dev/null || true
  for _ in $(seq 1 30); do [ -z "$(postfwd_master)" ] && break; sleep 0.1; done
  rm -rf "$work"
}
trap cleanup EXIT

for i in $(seq 0 999); do echo "u$i@ex.org u$i@ex.org"; done >"$work/senders"

cpu_ticks() { # PID... -> utime+stime summed, in clock ticks
  local total=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
HZ="$(getconf CLK_TCK)"

# run_row LABEL CPU_PIDS_FN CLIENT_ARGS...: the saturated phase, then the latency phase.
results=()
cpu_per_decision() { # BEFORE AFTER ALL_ANSWERS -> "CPU_S PER_CPU"
  awk -v a="$2" -v b="$1" -v hz="$HZ" -v n="$3" 'BEGIN {
    c = (a - b) / hz; if (c > 0) printf "%.2f %.0f", c, n / c; else printf "%.2f n/a", c }'
}
set_rt() { # fifo|other PID...
  [ "$USE_RT" = 1 ] || return 0
  local mode="$1" p t; shift
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      if [ "$mode" = fifo ]; then chrt -f -p 20 "${t##*/}" 2>/dev/null || true
      else chrt -o -p 0 "${t##*/}" 2>/dev/null || true; fi
    done
  done
}
run_row() {
  local label="$1" pids_fn="$2"; shift 2
  local before after line rate all cpu per_cpu sat_rt=() sat_note="normal scheduling"
  if [ "${SATURATED_RT:-0}" = 1 ] && [ "$USE_RT" = 1 ]; then
    sat_rt=(chrt -f 20)
    sat_note="SCHED_FIFO"
    set_rt fifo $($pids_fn)
  fi
  before="$(cpu_ticks $($pids_fn))"
  line="$("${sat_rt[@]}" "${CLIENT_PIN[@]}" "$CLIENT" "$@" --connections "$CONNS" --seconds "$SECONDS_PER_ROW" --label "$label")"
  after="$(cpu_ticks $($pids_fn))"
  set_rt other $($pids_fn)
  rate="$(echo "$line" | awk '{print $2}')"
  all="$(sed -E 's/.* all ([0-9]+).*/\1/' <<<"$line")"
  read -r cpu per_cpu <<<"$(cpu_per_decision "$before" "$after" "$all")"
  echo "$line"
  echo "    saturated ($sat_note): server CPU ${cpu} s for ${all} answers -> ${per_cpu} decisions per CPU-second (load $(cut -d' ' -f1 /proc/loadavg))"
  local offered="$RATE" lat_line rt_note="normal scheduling"
  [ "$label" != "postfwd2-1.35" ] || offered="$POSTFWD_RATE"
  set_rt fifo $($pids_fn)
  local rt_cmd=()
  if [ "$USE_RT" = 1 ]; then rt_cmd=(chrt -f 20); rt_note="SCHED_FIFO"; fi
  before="$(cpu_ticks $($pids_fn))"
  lat_line="$("${rt_cmd[@]}" "${CLIENT_PIN[@]}" "$CLIENT" "$@" --connections "$CONNS" --seconds "$SECONDS_PER_ROW" --label "$label" --rate "$offered")"
  after="$(cpu_ticks $($pids_fn))"
  set_rt other $($pids_fn)
  all="$(sed -E 's/.* all ([0-9]+).*/\1/' <<<"$lat_line")"
  read -r cpu lat_per_cpu <<<"$(cpu_per_decision "$before" "$after" "$all")"
  echo "$lat_line"
  echo "    latency at ${offered}/s offered ($rt_note): server CPU ${cpu} s -> ${lat_per_cpu} decisions per CPU-second (load $(cut -d' ' -f1 /proc/loadavg))"
  results+=("$label $rate $per_cpu")
}

start_policyd() { # STORE_SECTION_LINES
  {
    echo "[log]"
    echo "destination = $work/policyd.log"
    echo "level = warning"
    echo "[store]"
    printf '%s\n' "$1"
    echo "[policy]"
    echo "socket = $work/policy.sock"
    echo "checks = relay, sender, rate"
    echo "local_domains = ex.org"
    echo "trusted_networks = 127.0.0.1/32"
    echo "sender_map = $work/senders"
    echo "limit = user messages 1000000/1h"
  } >"$work/policyd.conf"
  rm -f "$work/policy.sock"
  "${SERVER_PIN[@]}" "$POLICYD" --config "$work/policyd.conf" &
  POLICYD_PID=$!
  for _ in $(seq 1 50); do [ -S "$work/policy.sock" ] && break; sleep 0.1; done
  [ -S "$work/policy.sock" ] || { echo "mailward-policyd did not start" >&2; exit 1; }
}
stop_policyd() { kill "$POLICYD_PID"; wait "$POLICYD_PID" 2>/dev/null || true; POLICYD_PID=""; }
policyd_pids() { echo "$POLICYD_PID"; }

echo "policy decisions over persistent connections: $CONNS connections, ${SECONDS_PER_ROW} s per row (+1 s warm-up)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pinning: server ${SERVER_PIN[*]:-none}, client ${CLIENT_PIN[*]:-none}; latency phase at ${RATE}/s (postfwd ${POSTFWD_RATE}/s), $([ "$USE_RT" = 1 ] && echo SCHED_FIFO || echo normal scheduling)"

start_policyd "backend = memory"
run_row "mailward-policyd/mem" policyd_pids --unix "$work/policy.sock"
stop_policyd
start_policyd "$(printf 'backend = embedded\npath = %s/state.mdb' "$work")"
run_row "mailward-policyd/lmdb" policyd_pids --unix "$work/policy.sock"
stop_policyd
if command -v redis-server >/dev/null; then
  "${SERVER_PIN[@]}" redis-server --port 0 --unixsocket "$work/redis.sock" --unixsocketperm 700 --save "" \
    --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do [ -S "$work/redis.sock" ] && break; sleep 0.1; done
  start_policyd "$(printf 'backend = redis\nredis_host = %s/redis.sock' "$work")"
  redis_pids() { echo "$POLICYD_PID $REDIS_PID"; }
  run_row "mailward-policyd/redis" redis_pids --unix "$work/policy.sock"
  stop_policyd
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""
else
  echo "(redis-server not installed: no Redis row)"
fi

cat >"$work/postfwd.rules" <<'EOF'
id=RELAY; recipient_domain!~^ex\.org$; sasl_username!~.; client_address!=127.0.0.1; action=554 5.7.1 <$$recipient>: Relay access denied
id=SENDER; sasl_username~=.; sender!=$$sasl_username; action=553 5.7.1 <$$sender>: not owned by user $$sasl_username
id=RATE; sasl_username~=.; action=rate(sasl_username/1000000/3600/450 4.7.1 rate limit exceeded)
EOF
chmod 0644 "$work/postfwd.rules"
# postfwd's rate() needs its cache daemon, which --nodaemon does not start: run it daemonised with
# a pid file; --cache=0 switches its request cache off (every request is decided, as ours are).
PF_PORT=10045
"${SERVER_PIN[@]}" postfwd --file="$work/postfwd.rules" --server_socket "tcp:127.0.0.1:$PF_PORT" \
  --cache_socket "tcp:127.0.0.1:10043" --cache=0 --norulestats --nodns -u nobody -g nogroup \
  --pidfile "$work/postfwd.pid" >"$work/postfwd.log" 2>&1
for _ in $(seq 1 50); do [ -s "$work/postfwd.pid" ] && ss -Hltn "src 127.0.0.1:$PF_PORT" | grep -q . && break; sleep 0.1; done
postfwd_pids() { local m; for m in $(postfwd_master); do descendants "$m"; done; }
[ -n "$(postfwd_master)" ] || { echo "postfwd did not start: $(cat "$work/postfwd.log")" >&2; exit 1; }
run_row "postfwd2-1.35" postfwd_pids --tcp "127.0.0.1:$PF_PORT"

echo
mem=(${results[0]})
pf=(${results[${#results[@]}-1]})
awk -v a="${mem[1]}" -v b="${pf[1]}" -v c="${mem[2]}" -v d="${pf[2]}" 'BEGIN {
  printf "ratio mailward-policyd/mem : postfwd  = %.1fx decisions/s, %.1fx decisions per CPU-second\n", a / b, c / d }'
lm=(${results[1]})
awk -v a="${lm[1]}" -v b="${pf[1]}" 'BEGIN { printf "ratio mailward-policyd/lmdb : postfwd = %.1fx decisions/s\n", a / b }'
