#!/usr/bin/env bash
# fsync_variants.sh — cost of write_event (common/notify/event.cpp) alone under each fsync variant
# of fsync_shim.c: `mailward-notify-cli enqueue --count N` writes N events one after another (the
# real write_event) into a spool on the given filesystem, with the shim preloaded; prints wall ms
# per event (per writer) and CPU ms per event (user + sys of the writers, getrusage of the children;
# kernel journal threads are not included). CONC writers run at once, like concurrent LMTP
# deliveries sharing the filesystem journal. The CLI's own start-up is included, once per writer.
# Usage: bench/notify/fsync_variants.sh MAILWARD_NOTIFY_CLI [N=300] [DIR=/var/tmp] [CONC=1]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLI="$(readlink -f "${1:?usage: fsync_variants.sh MAILWARD_NOTIFY_CLI [N] [DIR] [CONC]}")"
N="${2:-300}"; DIR="${3:-/var/tmp}"; CONC="${4:-1}"
W="$(mktemp -d "$DIR/mw-fsync.XXXXXX")"
trap 'rm -rf "$W"' EXIT
cc -shared -fPIC -O2 "$HERE/fsync_shim.c" -o "$W/shim.so" -ldl
mkdir -p "$W/spool/tmp" "$W/spool/new"
printf '[notify]\nspool = %s\n[target.t]\nurl = https://receiver.invalid/x\nusers = *\n' "$W/spool" >"$W/m.conf"
echo "filesystem: $(df -T "$W" | awk 'NR==2 {print $2}') ($DIR), $N events per writer, $CONC writer(s) at once"
printf '%-16s %12s %12s\n' mode "wall ms/ev" "CPU ms/ev"
for mode in fsync fdatasync nodir fdatasync-nodir none; do
  rm -f "$W/spool/new/"*
  python3 - "$CLI" "$W/m.conf" "$N" "$CONC" "$W/shim.so" "$mode" "$W/spool" <<'PY'
import os, resource, subprocess, sys, time
cli, conf, n, conc, shim, mode, spool = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), *sys.argv[5:8]
env = dict(os.environ, LD_PRELOAD=shim, MW_FSYNC_MODE=mode, MW_FSYNC_SPOOL=spool)
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
ps = [subprocess.Popen([cli, "enqueue", "--config", conf, "--target", "t", "--user", "u@example.org",
                        "--message", "m", "--count", str(n)], env=env, stdout=subprocess.DEVNULL) for _ in range(conc)]
if any(p.wait() != 0 for p in ps): sys.exit("enqueue failed")
t1 = time.monotonic()
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
print("%-16s %12.2f %12.3f" % (mode, (t1 - t0) * 1000 / n, cpu * 1000 / (n * conc)))
PY
done
