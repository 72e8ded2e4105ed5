#!/usr/bin/env bash
# run_milter_bench.sh — the milter benchmark: mailward-milter (SPF + DKIM + DMARC) against two
# anchors built from Debian's daemons, on the same 10 KB DKIM-signed messages in the same run, driven
# through the milter protocol over unix sockets by bench/milter_bench (not by Postfix):
#   1. opendkim+opendmarc: OpenDKIM (verify) -> OpenDMARC doing its own SPF check with libspf2
#      (SPFSelfValidate true, SPFIgnoreResults true);
#   2. policyd-spf+opendkim+opendmarc, the chain a self-hoster runs and the issue's anchor:
#      policyd-spf (postfix-policyd-spf-python, stock /etc/postfix-policyd-spf-python/policyd-spf.conf)
#      spawned as Postfix's spawn(8) would, one process per policy connection (per --per-connection
#      messages) talking SMTPD_POLICY_README on stdin/stdout, asked once per message at RCPT time;
#      its PREPENDed Received-SPF: field goes on top of the message -> OpenDKIM (verify) -> OpenDMARC
#      with SPFSelfValidate false / SPFIgnoreResults false, taking SPF from that field. Its CPU
#      (wait4 rusage of each policyd-spf process, start-up included) is added to the milters'.
#
#   sudo bench/run_milter_bench.sh [--build DIR] [--count N] [--unique N] [--connections C]
#                                  [--per-connection M] [--warmup N] [--keep]
#
# Needs root (a private network namespace). Everything lives in a temp dir and the namespace
# mwbench$$: nsd on 127.0.0.53 serves bench.example (SPF, DKIM key, DMARC p=reject); the
# namespace's /etc/netns/NS/resolv.conf points at it so OpenDKIM (libunbound, QueryCache yes) and
# OpenDMARC/libspf2 (the system resolver) get DNS from it; mailward-milter is given it in [dns]
# servers and caches answers itself. Every daemon runs in the namespace; sockets are in the temp dir.
# Each system gets a warm-up run (DNS caches filled, threads started), then the measured run.
# CPU is utime+stime from /proc/PID/stat of the daemons (nsd's CPU is reported separately).
# policyd-spf logs to syslog at the stock debugLevel 1; when nothing listens on /dev/log those log
# lines cost less here than on a real server.
set -euo pipefail
mw_has() { grep "$@" >/dev/null; }  # reads all input: `echo | grep -q` races with pipefail (SIGPIPE)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$HERE/../build"
COUNT=5000
UNIQUE=500
CONNECTIONS=4
PER_CONN=10
WARMUP=500
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --count) COUNT="$2"; shift 2 ;;
    --unique) UNIQUE="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --per-connection) PER_CONN="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--build DIR] [--count N] [--unique N] [--connections C] [--per-connection M] [--warmup N] [--keep]" >&2; exit 64 ;;
  esac
done

MILTER="${MAILWARD_MILTER:-$BUILD/milters/milter/mailward-milter}"
BENCH="${MILTER_BENCH:-$BUILD/bench/milter_bench}"
PY=/usr/bin/python3   # Debian's python has python3-dkim
die() { echo "run_milter_bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace)"
for x in "$MILTER" "$BENCH"; do [ -x "$x" ] || die "not built: $x (cmake --build BUILD --target mailward-milter milter_bench)"; done
for x in nsd opendkim opendmarc openssl ip; do command -v "$x" >/dev/null || die "missing $x"; done
POLICYD_SPF="$(command -v policyd-spf)" || die "missing policyd-spf (postfix-policyd-spf-python; scripts/install-deps.sh)"
POLICYD_CONF=/etc/postfix-policyd-spf-python/policyd-spf.conf
[ -r "$POLICYD_CONF" ] || die "missing $POLICYD_CONF"
"$PY" -c 'import dkim' 2>/dev/null || die "python3-dkim missing"

T="$(mktemp -d /tmp/mw-milter-bench.XXXXXX)"
NS="mwbench$$"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "/etc/netns/$NS"
  if [ "$KEEP" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "/etc/netns/$NS"
echo "nameserver 127.0.0.53" >"/etc/netns/$NS/resolv.conf"
nsx() { ip netns exec "$NS" "$@"; }

# --- key, zone, nsd ------------------------------------------------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/s1.key" 2>/dev/null
P="$(openssl pkey -in "$T/s1.key" -pubout -outform DER 2>/dev/null | base64 -w0)"
mkdir -p "$T/zones" "$T/msgs"
{
  echo "\$ORIGIN bench.example."
  echo "\$TTL 3600"
  echo "@ IN SOA ns.bench.example. hostmaster.bench.example. ( 1 3600 600 86400 3600 )"
  echo "@ IN NS ns"
  echo "ns IN A 127.0.0.53"
  echo "@ IN TXT \"v=spf1 ip4:192.0.2.10 -all\""
  echo "mail IN A 192.0.2.10"
  echo "mail IN TXT \"v=spf1 a -all\""
  echo "_dmarc IN TXT \"v=DMARC1; p=reject\""
  echo "s1._domainkey IN TXT ( \"v=DKIM1; k=rsa; \" \"p=${P:0:200}\" \"${P:200}\" )"
} >"$T/zones/bench.example.zone"
cat >"$T/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.53@53
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$T/zones"
  database: ""
  zonelistfile: "$T/nsd.zonelist"
  xfrdfile: "$T/nsd.xfrd"
  xfrdir: "$T"
  pidfile: "$T/nsd.pid"
  logfile: "$T/nsd.log"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "bench.example"
  zonefile: "bench.example.zone"
EOF
nsd-checkconf "$T/nsd.conf" || die "nsd-checkconf"
ip netns exec "$NS" nsd -d -c "$T/nsd.conf" </dev/null >"$T/nsd.stderr" 2>&1 &
NSD_PID=$!; PIDS+=("$NSD_PID")

# --- messages: UNIQUE distinct 10 KB messages, signed relaxed/relaxed by python3-dkim ---------------
"$PY" - "$T/s1.key" "$T/msgs" "$UNIQUE" <<'EOF'
import sys, dkim, email.utils
key = open(sys.argv[1], 'rb').read()
out, n = sys.argv[2], int(sys.argv[3])
line = b"The quick brown fox jumps over the lazy dog while the milter benchmark is running.\r\n"
for i in range(n):
    headers = (b"From: Alice <alice@bench.example>\r\nTo: Bob <bob@mx.example>\r\n"
               b"Subject: benchmark message %d\r\nDate: " % i + email.utils.formatdate().encode() +
               b"\r\nMessage-ID: <bench-%d@bench.example>\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: text/plain; charset=us-ascii\r\n" % i)
    body = b"Message %d.\r\n" % i + line * 118
    msg = headers + b"\r\n" + body
    sig = dkim.sign(msg, b"s1", b"bench.example", key, canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    open("%s/%05d.eml" % (out, i), "wb").write(sig + msg)
EOF
SIZE=$(stat -c %s "$T/msgs/00000.eml")
# One unsigned message for the check that OpenDMARC takes SPF from policyd-spf's Received-SPF field.
mkdir -p "$T/unsigned"
"$PY" - "$T/msgs/00000.eml" "$T/unsigned/00000.eml" <<'EOF'
import re, sys
raw = open(sys.argv[1], 'rb').read()
out = re.sub(rb'\ADKIM-Signature:.*?\r\n(?![ \t])', b'', raw, flags=re.S)
assert out != raw and b'DKIM-Signature' not in out
open(sys.argv[2], 'wb').write(out)
EOF

# --- daemons --------------------------------------------------------------------------------------
cat >"$T/mailward.conf" <<EOF
[log]
destination = $T/mailward.log
level = warning
[dns]
servers = 127.0.0.53:53
[milter]
socket = $T/mailward.sock
authserv_id = mx.bench.example
trusted_networks = 127.0.0.1/32
[dmarc]
psl_file = /usr/share/publicsuffix/public_suffix_list.dat
EOF
cat >"$T/opendkim.conf" <<EOF
Syslog no
Mode v
Socket local:$T/opendkim.sock
PidFile $T/opendkim.pid
UMask 000
AuthservID mx.bench.example
AlwaysAddARHeader yes
QueryCache yes
Nameservers 127.0.0.53
EOF
cat >"$T/opendmarc.conf" <<EOF
Syslog false
Socket local:$T/opendmarc.sock
PidFile $T/opendmarc.pid
UMask 000
AuthservID mx.bench.example
TrustedAuthservIDs mx.bench.example
SPFSelfValidate true
SPFIgnoreResults true
RejectFailures true
PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat
EOF
sed -e "s|opendmarc\.sock|opendmarc-rspf.sock|; s|opendmarc\.pid|opendmarc-rspf.pid|" \
    -e 's/^SPFSelfValidate true/SPFSelfValidate false/; s/^SPFIgnoreResults true/SPFIgnoreResults false/' \
    "$T/opendmarc.conf" >"$T/opendmarc-rspf.conf"

ip netns exec "$NS" "$MILTER" --config "$T/mailward.conf" </dev/null >"$T/mailward.stderr" 2>&1 &
MW_PID=$!; PIDS+=("$MW_PID")
ip netns exec "$NS" opendkim -f -x "$T/opendkim.conf" </dev/null >"$T/opendkim.stderr" 2>&1 &
DK_PID=$!; PIDS+=("$DK_PID")
ip netns exec "$NS" opendmarc -f -c "$T/opendmarc.conf" </dev/null >"$T/opendmarc.stderr" 2>&1 &
DM_PID=$!; PIDS+=("$DM_PID")
ip netns exec "$NS" opendmarc -f -c "$T/opendmarc-rspf.conf" </dev/null >"$T/opendmarc-rspf.stderr" 2>&1 &
DR_PID=$!; PIDS+=("$DR_PID")
for s in mailward opendkim opendmarc opendmarc-rspf; do
  for _ in $(seq 1 100); do [ -S "$T/$s.sock" ] && break; sleep 0.1; done
  [ -S "$T/$s.sock" ] || die "$s did not create its socket: $(tail -5 "$T/$s.stderr" "$T/$s.log" 2>/dev/null)"
done

ticks() { awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
run() { # LABEL, then milter_bench options
  local label="$1"; shift
  local nsd0 nsd1
  nsd0=$(ticks "$NSD_PID")
  "$BENCH" --label "$label" --messages "$T/msgs" --count "$COUNT" --warmup "$WARMUP" \
    --connections "$CONNECTIONS" --per-connection "$PER_CONN" --client-ip 192.0.2.10 \
    --helo mail.bench.example --mail-from alice@bench.example --rcpt bob@mx.example "$@" | tee -a "$T/results"
  nsd1=$(ticks "$NSD_PID")
  awk -v l="$label" -v t=$((nsd1 - nsd0)) -v hz="$TCK" -v n="$((COUNT + WARMUP))" \
    'BEGIN { printf "%s: nsd CPU during warm-up + run: %.3f ms/msg\n", l, t * 1000 / hz / n }'
}

echo "messages: $UNIQUE distinct, $SIZE bytes each (first), DKIM rsa-2048 relaxed/relaxed; $COUNT measured after $WARMUP warm-up"
run mailward-milter --socket "$T/mailward.sock" --pid "$MW_PID"
run opendkim+opendmarc --socket "$T/opendkim.sock" --socket "$T/opendmarc.sock" --pid "$DK_PID" --pid "$DM_PID"

POLICY=(--policy "ip netns exec $NS $POLICYD_SPF $POLICYD_CONF" --policy-name policyd-spf
        --socket "$T/opendkim.sock" --socket "$T/opendmarc-rspf.sock" --pid "$DK_PID" --pid "$DR_PID")
# Check first: an unsigned message must reach dmarc=pass through SPF alone, i.e. OpenDMARC used the
# Received-SPF field (without it, p=reject rejects the message).
CHECK="$("$BENCH" --label check --messages "$T/unsigned" --count 1 --warmup 0 --connections 1 \
  --per-connection 1 --client-ip 192.0.2.10 --helo mail.bench.example --mail-from alice@bench.example \
  --rcpt bob@mx.example "${POLICY[@]}")" || die "check run failed"
echo "$CHECK" | mw_has '^RESULT check [0-9.]* [0-9.]* [0-9.]* 1 1 0 1$' ||
  die "OpenDMARC did not pass an unsigned message on policyd-spf's Received-SPF field: $CHECK"
echo "check: an unsigned message passes DMARC on policyd-spf's Received-SPF field alone (OpenDMARC SPFSelfValidate false)"
# policyd-spf start-up alone (interpreter and imports; no request); the row below includes it.
"$PY" - "$NS" "$POLICYD_SPF" "$POLICYD_CONF" "$PER_CONN" <<'EOF'
import resource, subprocess, sys
ns, cmd, conf, per = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
before = resource.getrusage(resource.RUSAGE_CHILDREN)
for _ in range(5):
    subprocess.run(["ip", "netns", "exec", ns, cmd, conf], stdin=subprocess.DEVNULL, check=True)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
ms = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000 / 5
print("policyd-spf start-up (no request): %.1f ms CPU per process, %.3f ms/msg at %d msgs per process"
      % (ms, ms / per, per))
EOF
run policyd-spf+opendkim+opendmarc "${POLICY[@]}"

awk '/^RESULT/ { rate[$2] = $3; cpu[$2] = $4 }
     END {
       m = "mailward-milter"
       if (cpu[m] <= 0) exit
       n = split("opendkim+opendmarc policyd-spf+opendkim+opendmarc", anchors, " ")
       for (i = 1; i <= n; i++) {
         o = anchors[i]
         if (cpu[o] > 0) printf "ratio vs %s: CPU per message %.1fx less (%.3f vs %.3f ms), throughput %.1fx (%.0f vs %.0f msg/s)\n",
                                o, cpu[o] / cpu[m], cpu[m], cpu[o], rate[m] / rate[o], rate[m], rate[o]
       }
     }' "$T/results"
