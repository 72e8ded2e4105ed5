#!/bin/bash
# Trains and runs the two reference filters of the spam accuracy benchmark (issue 5) on the
# deterministic split of the SpamAssassin public corpus, and writes one result table per filter:
#   SpamAssassin 4.0 (Debian): sa-learn on the train part with a private bayes_path and user_prefs,
#     then `spamassassin -L --mbox` (local tests only, no network) on the test part in 2 processes;
#     per message: Bayes probability (_BAYES_ template tag) and the full SA score.
#   rspamd 3.4 (Debian): a private config dir over /etc/rspamd (network modules off, no autolearn),
#     statistics in a private redis-server; `rspamc learn_spam/learn_ham` on the train part, then
#     `rspamc -j symbols` on the test part; per message: BAYES_SPAM - BAYES_HAM symbol score, the full
#     score and the action; plus the CPU time rspamd's processes spent scanning (speed comparison).
# Usage: reference.sh SPLIT_DIR OUT_DIR
#   SPLIT_DIR is what split.sh made (train/{spam,ham}/ and test/{spam,ham}/ of symlinks);
#   OUT_DIR receives sa.tsv and rspamd.tsv (path, label, bayes, score, extra) and rspamd_cpu.txt.
# Results are cached by the caller (run.sh) under /var/tmp keyed by the corpus hash.
set -euo pipefail
SPLIT=$1
OUT=$2
mkdir -p "$OUT"
W=$(mktemp -d /tmp/mw-spamref.XXXXXX)
cleanup() {
  [[ -f $W/rspamd.pid ]] && kill "$(cat "$W/rspamd.pid")" 2>/dev/null || true
  [[ -f $W/redis.pid ]] && kill "$(cat "$W/redis.pid")" 2>/dev/null || true
  sleep 1
  [[ -n ${KEEP:-} ]] || rm -rf "$W"
}
trap cleanup EXIT

# An mbox of the test part with an X-Bench-Id header per message (body "From " lines escaped),
# so that batch output can be matched back to files.
make_mbox() {  # label dir...
  local label
  for d in "$@"; do
    label=$(basename "$d")
    for f in "$d"/*; do
      printf 'From bench@example Thu Jan  1 00:00:00 2004\nX-Bench-Id: %s\t%s\n' "$label" "$(basename "$f")"
      # drop the original From_ line, escape any body From_ line, make sure it ends with a newline
      sed -e '1{/^From /d}' -e 's/^From />From /' "$f"
      echo
    done
  done
}

sa_run() {
  mkdir -p "$W/sa"
  cat > "$W/sa/user_prefs" <<PREFS
use_bayes 1
bayes_auto_learn 0
bayes_path $W/sa/bayes
bayes_file_mode 0600
use_pyzor 0
use_razor2 0
skip_rbl_checks 1
add_header all Bayes _BAYES_
report_safe 0
PREFS
  local t0=$SECONDS
  sa-learn -L -p "$W/sa/user_prefs" --spam "$SPLIT/train/spam" >/dev/null
  sa-learn -L -p "$W/sa/user_prefs" --ham "$SPLIT/train/ham" >/dev/null
  sa-learn -p "$W/sa/user_prefs" --dump magic | grep -E 'nspam|nham' >&2
  echo "sa: learned in $((SECONDS - t0)) s" >&2
  # SA_TEST_LABELS="spam" scores only the test spam (to redo one half after a change).
  local dirs=()
  for l in ${SA_TEST_LABELS:-spam ham}; do dirs+=("$SPLIT/test/$l"); done
  make_mbox "${dirs[@]}" > "$W/sa/test.mbox"
  # split into two halves on message boundaries and score both in parallel
  awk -v a="$W/sa/half0" -v b="$W/sa/half1" '/^From bench@example /{n++} {print > ((n % 2) ? a : b)}' "$W/sa/test.mbox"
  t0=$SECONDS
  spamassassin -L -p "$W/sa/user_prefs" --mbox < "$W/sa/half0" > "$W/sa/out0" 2>"$W/sa/err0" &
  local p0=$!
  spamassassin -L -p "$W/sa/user_prefs" --mbox < "$W/sa/half1" > "$W/sa/out1" 2>"$W/sa/err1" &
  local p1=$!
  wait $p0 $p1
  echo "sa: scored in $((SECONDS - t0)) s" >&2
  cat "$W/sa/out0" "$W/sa/out1" | awk -F'\t' '
    function flush() { if (id != "") print id "\t" bayes "\t" score "\t" tests; id=""; bayes="nan"; score="nan"; tests="" }
    /^From bench@example /{ flush(); inh=1; next }
    inh && /^X-Bench-Id: /{ sub(/^X-Bench-Id: /, ""); id=$0; next }
    inh && /^X-Spam-Bayes: /{ bayes=$0; sub(/^X-Spam-Bayes: /, "", bayes); next }
    inh && /^X-Spam-Status: /{ s=$0; sub(/.*score=/, "", s); sub(/ .*/, "", s); score=s; intests=1; t=$0; sub(/.*tests=/, "", t); tests=t; next }
    inh && intests && /^[ \t]/{ t=$0; gsub(/[ \t]/, "", t); tests=tests t; next }
    inh && /^$/{ inh=0 }
    { intests=0 }
    END { flush() }' > "$OUT/sa${SA_SUFFIX:-}.tsv"
  echo "sa: $(wc -l < "$OUT/sa${SA_SUFFIX:-}.tsv") results" >&2
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rspamd_run() {
  local R=$W/rspamd
  mkdir -p "$R/local.d" "$R/override.d" "$R/db" "$R/run"
  local redis_port normal_port ctl_port proxy_port fuzzy_port
  redis_port=$(free_port); normal_port=$(free_port); ctl_port=$(free_port); proxy_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$R" \
    --daemonize yes --pidfile "$W/redis.pid" --logfile "$R/redis.log"
  cat > "$R/local.d/redis.conf" <<C
servers = "127.0.0.1:$redis_port";
C
  cat > "$R/local.d/classifier-bayes.conf" <<C
autolearn = false;
C
  cat > "$R/local.d/worker-normal.inc" <<C
bind_socket = "127.0.0.1:$normal_port";
count = 1;
C
  cat > "$R/local.d/worker-controller.inc" <<C
bind_socket = "127.0.0.1:$ctl_port";
count = 1;
C
  cat > "$R/local.d/worker-proxy.inc" <<C
bind_socket = "127.0.0.1:$proxy_port";
C
  cat > "$R/override.d/worker-fuzzy.inc" <<C
count = -1;
C
  cat > "$R/local.d/logging.inc" <<C
type = "file";
filename = "$R/rspamd.log";
level = "error";
C
  cat > "$R/local.d/options.inc" <<C
dns { nameserver = ["127.0.0.1:9"]; timeout = 0.1s; retransmits = 1; }
C
  # no network: modules that only make DNS / HTTP queries are switched off
  for m in rbl surbl fuzzy_check asn dkim spf dmarc arc mx_check phishing reputation url_redirector \
           neural dcc replies ratelimit greylist history_redis emails whitelist; do
    echo "enabled = false;" > "$R/local.d/$m.conf"
  done
  rspamd -c /etc/rspamd/rspamd.conf -u root -g root -i -f \
    --var="LOCAL_CONFDIR=$R" --var="DBDIR=$R/db" --var="RUNDIR=$R/run" --var="LOGDIR=$R" \
    > "$R/stdout" 2>&1 &
  echo $! > "$W/rspamd.pid"
  local ok=0
  for _ in $(seq 1 600); do
    if rspamc -h "127.0.0.1:$ctl_port" stat >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  if [[ $ok != 1 ]]; then echo "rspamd did not start:" >&2; cat "$R/stdout" "$R/rspamd.log" >&2; return 1; fi
  local t0=$SECONDS
  rspamc -h "127.0.0.1:$ctl_port" -n 4 learn_spam "$SPLIT/train/spam" > "$R/learn_spam.out"
  rspamc -h "127.0.0.1:$ctl_port" -n 4 learn_ham "$SPLIT/train/ham" > "$R/learn_ham.out"
  rspamc -h "127.0.0.1:$ctl_port" stat | grep -iE 'BAYES|learned' >&2 || true
  echo "rspamd: learned in $((SECONDS - t0)) s" >&2
  # CPU of every rspamd process (main + workers) before and after scoring the test part
  cpu() { local s=0 main; main=$(cat "$W/rspamd.pid"); for p in $main $(pgrep -P "$main"); do
            [[ -r /proc/$p/stat ]] && s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
  local c0 c1 n
  c0=$(cpu)
  t0=$SECONDS
  for lab in spam ham; do
    rspamc -h "127.0.0.1:$normal_port" -n 2 -j symbols "$SPLIT/test/$lab" > "$R/test_$lab.json"
  done
  c1=$(cpu)
  n=$(( $(ls "$SPLIT/test/spam" | wc -l) + $(ls "$SPLIT/test/ham" | wc -l) ))
  echo "rspamd: scored $n in $((SECONDS - t0)) s" >&2
  echo "rspamd_cpu_ticks $((c1 - c0)) messages $n ticks_per_second $(getconf CLK_TCK)" > "$OUT/rspamd_cpu.txt"
  python3 - "$R/test_spam.json" "$R/test_ham.json" > "$OUT/rspamd.tsv" <<'PY'
import json, sys, os
for fn in sys.argv[1:]:
    label = "spam" if fn.endswith("test_spam.json") else "ham"
    text = open(fn, encoding="utf-8", errors="replace").read()
    dec = json.JSONDecoder(); i = 0
    while True:
        while i < len(text) and text[i] != '{': i += 1
        if i >= len(text): break
        obj, i = dec.raw_decode(text, i)
        name = obj.get("filename") or obj.get("message-id") or "?"
        syms = obj.get("symbols", {})
        b = syms.get("BAYES_SPAM", {}).get("score", 0.0) - syms.get("BAYES_HAM", {}).get("score", 0.0)
        print("%s\t%s\t%.6f\t%.4f\t%s" % (label, os.path.basename(name), b, obj.get("score", 0.0), obj.get("action", "?").replace(" ", "_")))
PY
  echo "rspamd: $(wc -l < "$OUT/rspamd.tsv") results" >&2
}

what=${3:-both}
[[ $what == sa || $what == both ]] && sa_run
[[ $what == rspamd || $what == both ]] && rspamd_run
exit 0
