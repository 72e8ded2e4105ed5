#!/usr/bin/env bash
# run_notify_bench.sh — issue 3 benchmark: 1,000 LMTP deliveries into the real Dovecot of the harness
# stack (tests/integration/lib/stack.sh) to a user whose Sieve script notifies, in one invocation:
#   a    no notification (same script without the webhook call)
#   b    mailward: vnd.mailward.webhook (event file into the spool) + mailward-notifyd -> receiver
#   c    the seed's way: vnd.dovecot.execute (sieve_extprograms) runs a bash script calling curl
#   a2   (a) again, to show the run-to-run noise of the CPU and throughput figures
#   s    (b) with mailward-notifyd stopped (SIGSTOP) during the measured deliveries, resumed after
#        the last one: the delivery side alone, without notifyd and the receiver competing for the
#        CPUs (throughput, LMTP times, Dovecot CPU); notifyd's CPU is then its drain of the backlog.
#        No latency figure for this run.
#   b-*, s-*  (b) or (s) with write_event's fsyncs changed through an LD_PRELOAD shim
#        (fsync_shim.c), only for descriptors under the spool: fdatasync | nodir | fdatasync-nodir | none
#        (the plugin's fsyncs now go through Linux AIO, which the shim does not see: these runs
#        change only the fallback path)
# Client: lmtp_load.py (CONNS persistent LMTP connections, same for every run), 20 warm-up messages
# per run (script compiled, notifyd's TLS connection up) before the N measured ones.
# Receiver (MW_BENCH_RECEIVER): c (default) BUILD/bench/notify_receiver (one thread, epoll, OpenSSL;
#   bench/notify/notify_receiver.cpp) | python tests/integration/notify/receiver.py; both HTTPS,
#   keep-alive, and log the arrival time of every request. The receiver stands for a remote
#   service, yet runs on the same two cores: the Python one costs about 0.8 ms of CPU per request,
#   which would be taken from Dovecot and counted against the notifications.
# Figures per run:
#   msg/s        N / wall time from the first command to the last 250 (client side)
#   lmtp p50/p99 wall time of one LMTP transaction (MAIL FROM .. final 250)
#   notify p50/p99  receiver arrival time - the client's time of that message's final 250, matched
#                by Message-ID (carried in the payload); negative = the request arrived before the
#                250 (the execute way runs curl inside the delivery)
#   dovecot CPU  cpuacct cgroup of the whole Dovecot instance (master, lmtp, auth, log ... and the
#                bash/curl children execute forks), ms per message over the measured deliveries
#   notifyd CPU  cpuacct cgroup of mailward-notifyd, from the first measured delivery until the
#                last request arrived, ms per message
#   notification CPU = dovecot CPU - dovecot CPU of run a (plugin / execute cost) + notifyd CPU
#   l    the baseline script requiring vnd.mailward.webhook, never calling it: the plugin's cost
#        without events
#   p    the baseline script (a) with both Sieve plugins loaded but unused (before 2025-11-28 this was
#        the baseline: every run loaded both plugins)
#   X    (b)'s script with plugin B (MW_BENCH_PLUGIN_B) and no notification awaited: for a plugin
#        build that records the action but writes no event (the cost of Pigeonhole's action alone)
# Filesystem (MW_BENCH_FS): ext4 (default) gives every run a freshly made ext4 with mkfs.ext4's
#   defaults (journal, as a Debian install has) on a loop device, holding the mail store and the
#   spool: each run starts from the same state. root keeps both on the state directory's
#   filesystem, emptied between runs (this VM's / is ext4 *without* a journal: every deleted file
#   makes later file creation slower, so later runs are slower than earlier ones, a drift of up to
#   25 % over six runs measured on 2026-11-28).
# receiver CPU  cpuacct cgroup of the HTTPS receiver, ms per message: it competes for the same two
#   cores, which a real remote receiver would not.
# Dovecot is restarted into a fresh cgroup for every run and bob's Maildir emptied in between. Each
# run loads only the Sieve plugins it uses (run_plugins): a none, b/s sieve_mailward, c sieve_extprograms.
# PERF_DIR=DIR: `perf record -a -g` during each run's measured deliveries into DIR/<tag>.data
#   (perf report --comm lmtp / --comm mailward-notif to read one process's profile).
# Usage: bench/notify/run_notify_bench.sh BUILD_DIR [N=1000] [CONNS=4] [RUNS="a s b c a2 s-fdatasync
#        s-nodir s-none s2 a3"]      (root; builds: sieve_mailward_plugin, mailward-notifyd)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../../tests/integration/lib/stack.sh"

BUILD="$(cd "${1:?usage: run_notify_bench.sh BUILD_DIR [N] [CONNS] [RUNS]}" && pwd)"
N="${2:-1000}"
CONNS="${3:-4}"
RUNS="${4:-a s b c a2 s-fdatasync s-nodir s-none s2 a3}"
WARM=20
BENCH_FS="${MW_BENCH_FS:-ext4}"
case "$BENCH_FS" in ext4|root) ;; *) echo "run_notify_bench: MW_BENCH_FS is ext4 or root" >&2; exit 1 ;; esac
# MW_BENCH_PLUGIN=FILE: another build of the Sieve plugin (e.g. to compare two versions).
PLUGIN="${MW_BENCH_PLUGIN:-$BUILD/dovecot-plugins/sieve-webhook/lib90_sieve_mailward_plugin.so}"
# MW_BENCH_PLUGIN_B=FILE: a second plugin build for runs B and S (= b and s with it), to compare two
# versions side by side in one invocation.
PLUGIN_B="${MW_BENCH_PLUGIN_B:-}"
NOTIFYD="$BUILD/dovecot-plugins/notifyd/mailward-notifyd"
# MW_BENCH_NOTIFYD_B=FILE: the mailward-notifyd that runs B, S and X use (default: BUILD's), for a
# plugin B that needs its own notifyd (another spool format).
NOTIFYD_B="${MW_BENCH_NOTIFYD_B:-$NOTIFYD}"
RUN_NOTIFYD="$NOTIFYD"
EXTPROG=/usr/lib/dovecot/modules/sieve/lib90_sieve_extprograms_plugin.so
RECEIVER_KIND="${MW_BENCH_RECEIVER:-c}"
case "$RECEIVER_KIND" in
  c) RECEIVER="$BUILD/bench/notify_receiver" ;;
  python) RECEIVER="$HERE/../../tests/integration/notify/receiver.py" ;;
  *) echo "run_notify_bench: MW_BENCH_RECEIVER is c or python" >&2; exit 1 ;;
esac
LOAD="$HERE/lmtp_load.py"
unset MAILWARD_MILTER
die() { echo "run_notify_bench: $*" >&2; exit 1; }
say() { echo "[notify-bench] $*" >&2; }
[ -f "$PLUGIN" ] || die "plugin not built: $PLUGIN"
[ "$RECEIVER_KIND" != c ] || [ -x "$RECEIVER" ] || die "receiver not built: $RECEIVER (cmake -DMAILWARD_BENCH=ON, target notify_receiver)"
[ -x "$NOTIFYD" ] || die "notifyd not built: $NOTIFYD"
[ -f "$EXTPROG" ] || die "sieve_extprograms plugin missing ($EXTPROG; Debian package dovecot-sieve)"
for c in cc curl openssl python3; do command -v "$c" >/dev/null || die "missing command $c"; done
CGROOT=/sys/fs/cgroup/cpuacct
[ -w "$CGROOT" ] || die "cgroup v1 cpuacct hierarchy not writable at $CGROOT (needed for CPU accounting)"

MW_STATE="${MW_STATE:-$(mktemp -d /tmp/mwnb.XXXXXX)}"
RECV_IP=127.0.0.70
CG="$CGROOT/mw-notify-bench-$$"
mkdir "$CG"
MODE=fsync
RUN_ID=0

eval "mw_bench_orig_dovecot_write() $(declare -f mw_dovecot_write | tail -n +2)"
mw_dovecot_write() {
  mw_bench_orig_dovecot_write
  B="$S/bench"; FS="$B/fs"; SPOOL="$FS/spool"; MWCONF="$B/mailward.conf"
  mkdir -p "$B/plugins" "$B/bin" "$FS"
  cp "$PLUGIN" "$B/plugins/"; ln -sf "$EXTPROG" "$B/plugins/"
  cc -shared -fPIC -O2 "$HERE/fsync_shim.c" -o "$B/fsync_shim.so" -ldl
  chmod 0755 "$B" "$B/plugins" "$B/bin"
  printf 'bench-signing-key\n' >"$B/secret"; chown 65534 "$B/secret"; chmod 0600 "$B/secret"
  cat >"$MWCONF" <<CONF
[notify]
spool = $SPOOL
user = nobody
log = $B/notifyd.log
[target.bench]
url = https://$RECV_IP:8443/bench
secret_file = $B/secret
ca_file = $B/ca.pem
users = *
CONF
  chmod 0644 "$MWCONF"
  # The seed's way: an API key in the script, curl per message, run by vnd.dovecot.execute.
  cat >"$B/bin/notify.sh" <<SH
#!/bin/bash
API_KEY="hard-coded-api-key"
body=\$(printf '{"message_id":"%s","subject":"%s"}' "\$1" "\$2")
exec /usr/bin/curl -s -o /dev/null --max-time 5 --cacert $B/ca.pem -H "Authorization: Bearer \$API_KEY" \\
  -H 'Content-Type: application/json' --data-binary "\$body" https://$RECV_IP:8443/seed
SH
  chmod 0755 "$B/bin/notify.sh"
  cat >>"$MW_DOVECOT_CONF" <<CONF
# notification benchmark (appended)
import_environment = TZ CORE_OUTOFMEM CORE_ERROR LD_PRELOAD MW_FSYNC_MODE MW_FSYNC_SPOOL
# Which Sieve plugins this run loads (rewritten before each run's Dovecot start: run_plugins).
!include $B/run-plugins.conf
CONF
  run_plugins ""
}
# run_plugins "PLUGIN..." writes the plugin block of the next Dovecot start: only the plugins the
# run needs, so the baseline (a) is Dovecot + Pigeonhole as shipped, (b)/(s) add only
# sieve_mailward, (c) only sieve_extprograms; (p) loads both for the baseline script.
run_plugins() {
  local exts="" p
  for p in $1; do
    case "$p" in
      sieve_mailward) exts="$exts +vnd.mailward.webhook" ;;
      sieve_extprograms) exts="$exts +vnd.dovecot.execute" ;;
    esac
  done
  # An empty sieve_extensions would disable every extension (variables too): the baseline script
  # would then fail to compile at each delivery instead of running. Without plugins the line is
  # left out, so Pigeonhole's default extensions apply; with them, "+ext" adds to the defaults.
  local ext_line=""
  [ -z "$exts" ] || ext_line="sieve_extensions = $exts"
  cat >"$B/run-plugins.conf" <<CONF
plugin {
  sieve_plugin_dir = $B/plugins
  sieve_plugins = $1
  $ext_line
  sieve_execute_bin_dir = $B/bin
  mailward_config = $MWCONF
}
CONF
  chmod 0644 "$B/run-plugins.conf"
}

# Dovecot started inside this run's cgroup, with the fsync shim preloaded (MODE=fsync passes
# every call through, so all runs carry the same shim).
mw_dovecot_start() {
  RUN_ID=$((RUN_ID + 1))
  CGR="$CG/run$RUN_ID"; mkdir "$CGR"
  ( echo "$BASHPID" >"$CGR/cgroup.procs"
    export LD_PRELOAD="$B/fsync_shim.so" MW_FSYNC_MODE="$MODE" MW_FSYNC_SPOOL="$SPOOL"
    exec ip netns exec "$MW_NS" dovecot -c "$MW_DOVECOT_CONF" </dev/null >>"$MW_LOGS/dovecot.stderr" 2>&1 ) \
    || mw_die "dovecot did not start: $(tail -5 "$MW_LOGS/dovecot.stderr" "$MW_LOGS/dovecot.log" 2>/dev/null)"
  mw_wait_port "$MW_IP_DOVECOT" 24 "dovecot lmtp"
}
dovecot_stop() {
  ns doveadm -c "$MW_DOVECOT_CONF" stop >/dev/null 2>&1 || true
  for _ in $(seq 100); do [ -z "$(cat "$CGR/cgroup.procs")" ] && break; sleep 0.1; done
  [ -z "$(cat "$CGR/cgroup.procs")" ] || die "dovecot processes left after stop: $(cat "$CGR/cgroup.procs")"
  rmdir "$CGR"
}
cleanup_bench() {
  set +e
  [ -n "${NOTIFYD_PID:-}" ] && kill "$NOTIFYD_PID" 2>/dev/null
  [ -n "${RECV_PID:-}" ] && kill "$RECV_PID" 2>/dev/null
  wait "${NOTIFYD_PID:-}" "${RECV_PID:-}" 2>/dev/null   # not a bare wait: nsd is a child too
  mw_down
  fs_unmount
  for d in "$CG"/*/; do [ -d "$d" ] && rmdir "$d"; done
  rmdir "$CG" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $MW_STATE" >&2; else rm -rf "$MW_STATE"; fi
}

mw_up
trap cleanup_bench EXIT
W="$MW_STATE/work"; mkdir -p "$W"
ns ip addr add "$RECV_IP/32" dev lo
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=notify bench CA" -keyout "$W/ca.key" -out "$B/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$RECV_IP" -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:%s\n' "$RECV_IP" >"$W/ext"
openssl x509 -req -in "$W/srv.csr" -CA "$B/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/ext" -out "$W/srv.pem" 2>/dev/null
chmod 0644 "$B/ca.pem"
REQ="$W/requests.jsonl"; : >"$REQ"
echo '{"status": 200}' >"$W/control"
if [ "$RECEIVER_KIND" = c ]; then
  ip netns exec "$MW_NS" "$RECEIVER" --bind "$RECV_IP:8443" --cert "$W/srv.pem" --key "$W/srv.key" \
    --log "$REQ" >"$W/receiver.out" 2>&1 &
else
  ip netns exec "$MW_NS" python3 "$RECEIVER" --keepalive --bind "$RECV_IP:8443" --cert "$W/srv.pem" \
    --key "$W/srv.key" --log "$REQ" --control "$W/control" >"$W/receiver.out" 2>&1 &
fi
RECV_PID=$!
for _ in $(seq 50); do grep -q ready "$W/receiver.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$W/receiver.out" || die "receiver did not start"
CGV="$CG/receiver"; mkdir "$CGV"
for p in $RECV_PID $(pgrep -P "$RECV_PID" || true); do echo "$p" >"$CGV/cgroup.procs"; done

CGN="$CG/notifyd"; mkdir "$CGN"
notifyd_start() {
  ( echo "$BASHPID" >"$CGN/cgroup.procs"; exec ip netns exec "$MW_NS" "$RUN_NOTIFYD" --config "$MWCONF" 2>>"$B/notifyd.stderr" ) &
  NOTIFYD_PID=$!
  sleep 0.5
  kill -0 "$NOTIFYD_PID" 2>/dev/null || die "notifyd exited: $(cat "$B/notifyd.stderr" "$B/notifyd.log" 2>/dev/null | tail -5)"
}
notifyd_stop() {
  [ -n "${NOTIFYD_PID:-}" ] || return 0
  kill -CONT "$NOTIFYD_PID" 2>/dev/null || true
  kill "$NOTIFYD_PID" 2>/dev/null || true
  wait "$NOTIFYD_PID" 2>/dev/null || true
  NOTIFYD_PID=
}

home="$MW_MAIL/${MW_RCPT#*@}/${MW_RCPT%@*}"
FS_LOOP=
fs_unmount() {
  [ -n "$FS_LOOP" ] || return 0
  umount "$MW_MAIL" && umount "$FS" && losetup -d "$FS_LOOP" || die "cannot unmount the bench filesystem ($FS_LOOP)"
  FS_LOOP=
}
# fresh_fs: the mail store ($MW_MAIL) and the spool in the same state for every run (MW_BENCH_FS).
# Dovecot and notifyd must be stopped.
fresh_fs() {
  if [ "$BENCH_FS" = ext4 ]; then
    fs_unmount
    # One image for all runs, written in full once, so that no run pays the host filesystem for
    # allocating the image's blocks.
    [ -f "$MW_STATE/fs.img" ] || dd if=/dev/zero of="$MW_STATE/fs.img" bs=1M count=384 conv=fsync status=none
    # Inode tables and journal written now, not by ext4lazyinit in the background during the run.
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$MW_STATE/fs.img"
    # Direct I/O: the loop device's writes go to the disk, not into the page cache of the image.
    FS_LOOP="$(losetup -f --show --direct-io=on "$MW_STATE/fs.img")" || die "losetup failed"
    mount "$FS_LOOP" "$FS" || die "cannot mount $FS_LOOP"
    mkdir -p "$FS/mail"; mount --bind "$FS/mail" "$MW_MAIL" || die "cannot bind-mount the mail store"
    chown 65534:65534 "$MW_MAIL"
  else
    rm -rf "$home" "$SPOOL"
  fi
  mkdir -p "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/free" "$SPOOL/slots" "$home/sieve"
  chown 65534:65534 "$SPOOL" "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/free" "$SPOOL/slots"
  chmod 0750 "$SPOOL"; chmod 2770 "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/free" "$SPOOL/slots"
  cat >"$home/sieve/none.sieve" <<'SIEVE'
require ["variables"];
if header :matches "subject" "*" { set "subject" "${1}"; }
keep;
SIEVE
  cat >"$home/sieve/mailward.sieve" <<'SIEVE'
require ["vnd.mailward.webhook", "variables"];
if header :matches "subject" "*" { set "subject" "${1}"; }
webhook :title "New mail" :message "${subject}" "bench";
SIEVE
  cat >"$home/sieve/loaded.sieve" <<'SIEVE'
require ["vnd.mailward.webhook", "variables"];
if header :matches "subject" "*" { set "subject" "${1}"; }
keep;
SIEVE
  cat >"$home/sieve/execute.sieve" <<'SIEVE'
require ["vnd.dovecot.execute", "variables"];
if header :matches "subject" "*" { set "subject" "${1}"; }
if header :matches "message-id" "*" { set "mid" "${1}"; }
execute "notify.sh" ["${mid}", "${subject}"];
SIEVE
  chown -R 65534:65534 "$MW_MAIL"
}

cg_ns() { cat "$1/cpuacct.usage"; }
# busy_idle: "BUSY:IDLE" jiffies of all CPUs (/proc/stat; iowait counts as idle).
busy_idle() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9 ":" $5+$6; exit}' /proc/stat; }
load() { # PREFIX COUNT
  ip netns exec "$MW_NS" python3 "$LOAD" --server "$MW_IP_DOVECOT" --source "$MW_IP_GOOD" --rcpt "$MW_RCPT" \
    --prefix "$1" --count "$2" --conns "$CONNS" --out "$W/$1.jsonl" >"$W/$1.summary" 2>"$W/$1.err" \
    || die "LMTP load $1 failed: $(cat "$W/$1.summary" "$W/$1.err")"
}
received() { grep -c "<$1-" "$REQ" 2>/dev/null || true; }
wait_received() { # PREFIX COUNT
  for _ in $(seq 1800); do [ "$(received "$1")" -ge "$2" ] && return 0; sleep 0.1; done
  die "only $(received "$1") of $2 notifications for $1 arrived within 180 s"
}

RESULTS="$W/results.jsonl"; : >"$RESULTS"
# The dovecot-stopped first instance from mw_up is in run1's cgroup: stop it before run 1.
dovecot_stop
for run in $RUNS; do
  case "$run" in
    a|a[0-9]) script=none; MODE=fsync; notify=0; plugins="" ;;
    p|p[0-9]) script=none; MODE=fsync; notify=0; plugins="sieve_mailward sieve_extprograms" ;;
    l|l[0-9]) script=loaded; MODE=fsync; notify=0; plugins=sieve_mailward ;;
    b|b[0-9]|s|s[0-9]|B|S) script=mailward; MODE=fsync; notify=1; plugins=sieve_mailward ;;
    X) script=mailward; MODE=fsync; notify=0; plugins=sieve_mailward ;;
    b-*|s-*) script=mailward; MODE="${run#?-}"; notify=1; plugins=sieve_mailward ;;
    c) script=execute; MODE=fsync; notify=1; plugins=sieve_extprograms ;;
    *) die "unknown run $run" ;;
  esac
  run_plugins "$plugins"
  case "$run" in
    B|S|X) [ -f "$PLUGIN_B" ] || die "run $run needs MW_BENCH_PLUGIN_B"; cp "$PLUGIN_B" "$B/plugins/$(basename "$PLUGIN")"
           RUN_NOTIFYD="$NOTIFYD_B" ;;
    *) cp "$PLUGIN" "$B/plugins/"; RUN_NOTIFYD="$NOTIFYD" ;;
  esac
  notifyd_stop
  fresh_fs
  notifyd_start
  ln -sfn "sieve/$script.sieve" "$home/.dovecot.sieve"
  chown -R 65534:65534 "$home"
  mw_dovecot_start
  tag="r$RUN_ID$run"; tag="${tag//-/}"
  load "${tag}w" "$WARM"
  [ "$notify" = 0 ] || wait_received "${tag}w" "$WARM"
  sleep 1
  d0=$(cg_ns "$CGR"); n0=$(cg_ns "$CGN"); v0=$(cg_ns "$CGV"); m0=$(busy_idle)
  case "$run" in s*|S) kill -STOP "$NOTIFYD_PID" ;; esac
  if [ -n "${PERF_DIR:-}" ]; then  # profile the whole machine during the measured deliveries
    perf record -a -g -F 499 -o "$PERF_DIR/$tag.data" >"$PERF_DIR/$tag.perf.log" 2>&1 &
    PERF_PID=$!; sleep 0.5
  fi
  load "$tag" "$N"
  d1=$(cg_ns "$CGR"); m1=$(busy_idle)
  # Every run must have run its script: a compile failure falls back to the implicit keep and
  # would measure something else.
  ! grep -q "Failed to compile" "$MW_LOGS/dovecot.log" 2>/dev/null \
    || die "run $run: Sieve failed to compile the script: $(grep -m1 'Failed to compile' "$MW_LOGS/dovecot.log")"
  if [ -n "${PERF_DIR:-}" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
  case "$run" in s*|S) kill -CONT "$NOTIFYD_PID" ;; esac
  [ "$notify" = 0 ] || wait_received "$tag" "$N"
  n1=$(cg_ns "$CGN"); v1=$(cg_ns "$CGV")
  python3 - "$W/$tag.jsonl" "$W/$tag.summary" "$REQ" "$tag" "$run" "$MODE" "$d0" "$d1" "$n0" "$n1" "$N" "$notify" "$v0" "$v1" "$m0" "$m1" \
    >>"$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
summ = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
tag, run, mode = sys.argv[4:7]
d0, d1, n0, n1 = map(int, sys.argv[7:11])
n, notify = int(sys.argv[11]), sys.argv[12] == "1"
v0, v1 = map(int, sys.argv[13:15])
(b0, i0), (b1, i1) = (map(int, a.split(":")) for a in sys.argv[15:17])
pct = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")
lmtp = [(r["done"] - r["start"]) * 1000 for r in rows]
out = {"run": run, "mode": mode, "n": n, "per_s": summ["per_s"],
       "lmtp_p50": pct(lmtp, .5), "lmtp_p99": pct(lmtp, .99),
       "dovecot_cpu_ms": (d1 - d0) / 1e6 / n, "notifyd_cpu_ms": (n1 - n0) / 1e6 / n if notify and run != "c" else 0.0,
       "receiver_cpu_ms": (v1 - v0) / 1e6 / n,
       "machine_busy": (b1 - b0) / max(1, (b1 - b0) + (i1 - i0))}
if notify:
    done = {r["mid"]: r["done"] for r in rows}
    lat, seen = [], {}
    for l in open(sys.argv[3]):
        q = json.loads(l)
        mid = json.loads(q["body"]).get("message_id")
        if mid in done:
            seen[mid] = seen.get(mid, 0) + 1
            if seen[mid] == 1: lat.append((q["time"] - done[mid]) * 1000)
    if run[0] in "sS": lat = [float("nan")]
    out.update(notify_p50=pct(lat, .5), notify_p99=pct(lat, .99), notify_max=max(lat),
               received=len(seen), duplicates=sum(v - 1 for v in seen.values()))
print(json.dumps(out))
PY
  say "$(tail -1 "$RESULTS")"
  dovecot_stop
done

case "$BENCH_FS" in
  ext4) echo "mail store and spool: a fresh ext4 (mkfs.ext4 defaults, journal) per run on a loop device, direct I/O" ;;
  root) echo "mail store and spool: $(findmnt -no FSTYPE -T "$MW_STATE") under $MW_STATE, emptied between runs" ;;
esac
echo "receiver: $RECEIVER_KIND ($RECEIVER)"
python3 - "$RESULTS" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
by = {r["run"]: r for r in rs}
import re
aruns = [r for r in rs if re.fullmatch(r"a[0-9]*", r["run"])]
base = None
if aruns:
    base = {k: sum(r[k] for r in aruns) / len(aruns) for k in ("per_s", "dovecot_cpu_ms")}
    print("baseline = mean of runs %s: %.0f msg/s (%s), Dovecot CPU %.2f ms/msg (%s)" % (
        ", ".join(r["run"] for r in aruns), base["per_s"], " ".join("%.0f" % r["per_s"] for r in aruns),
        base["dovecot_cpu_ms"], " ".join("%.2f" % r["dovecot_cpu_ms"] for r in aruns)))
f = lambda v: "-" if v is None else ("%.1f" % v)
g = lambda v: "-" if v is None else ("%.2f" % v)
print("| run | fsync of the event | msg/s | vs a | LMTP p50 / p99 ms | notify p50 / p99 ms | dovecot CPU ms/msg | notification CPU ms/msg | receiver CPU ms/msg | CPUs busy | received / dup |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rs:
    vs = "%.0f %%" % (100 * r["per_s"] / base["per_s"]) if base else "-"
    ncpu = None
    if base:
        ncpu = r["dovecot_cpu_ms"] - base["dovecot_cpu_ms"] + r["notifyd_cpu_ms"]
    fs = "-" if r["run"][0] in "acpl" else ("notifyd stopped; " if r["run"][0] in "sS" else "") + ("plugin B; " if r["run"][0] in "BSX" else "") + ({"fsync": "as built (slot: fdatasync; event file: fsync file + fsync new/)", "fdatasync": "fdatasync file + fsync new/",
          "nodir": "fsync file only", "fdatasync-nodir": "fdatasync file only", "none": "none"}[r["mode"]])
    nl = "%s / %s" % (f(r.get("notify_p50")), f(r.get("notify_p99"))) if "notify_p50" in r else "-"
    rc = "%d / %d" % (r["received"], r["duplicates"]) if "received" in r else "-"
    ncpu_s = "-" if ncpu is None else ("%.2f" % ncpu + (" (notifyd %.2f)" % r["notifyd_cpu_ms"] if r["notifyd_cpu_ms"] else ""))
    print(f"| {r['run']} | {fs} | {r['per_s']:.0f} | {vs} | {f(r['lmtp_p50'])} / {f(r['lmtp_p99'])} | {nl} | {g(r['dovecot_cpu_ms'])} | {ncpu_s} | {g(r.get('receiver_cpu_ms'))} | {100 * r.get('machine_busy', float('nan')):.0f} % | {rc} |")
if "b" in by and "c" in by and base:
    b, c = by["b"], by["c"]
    bc = b["dovecot_cpu_ms"] - base["dovecot_cpu_ms"] + b["notifyd_cpu_ms"]
    cc = c["dovecot_cpu_ms"] - base["dovecot_cpu_ms"]
    print(f"\nmailward vs the execute way: throughput x{b['per_s'] / c['per_s']:.2f}, notification CPU "
          f"{bc:.2f} vs {cc:.2f} ms/msg (x{cc / bc if bc > 0 else float('inf'):.1f} less), notify p99 {b['notify_p99']:.1f} vs {c['notify_p99']:.1f} ms")
    print(f"targets: p99 < 50 ms: {b['notify_p99']:.1f} ms; CPU <= 0.3 ms/msg: {bc:.2f}; throughput >= 90 % of a: {100 * b['per_s'] / base['per_s']:.0f} %")
PY
