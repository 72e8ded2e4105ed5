#!/usr/bin/env bash
# demo.sh — the main job: installs the dependencies, builds mailward, brings up a private mail stack
# (nsd, Postfix, Dovecot, mailward-milter) in a network namespace with the integration harness,
# sends representative messages through it, prints what mailward decided for each, and leaves the
# stack running for you to try. Never touches /etc/postfix, /etc/dovecot or /etc/resolv.conf.
#
#   scripts/demo.sh            install, build, bring up, send, report (stack stays up)
#   scripts/demo.sh --down     tear the demo stack down
#   scripts/demo.sh --no-build skip install-deps and the build (use an existing build)
#
# Environment: MAILWARD_BUILD_DIR (default: build/ in the source tree), MAILWARD_DEMO_STATE (default
# /var/tmp/mailward-demo).
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${MAILWARD_BUILD_DIR:-$SRC/build}"
export MW_STATE="${MAILWARD_DEMO_STATE:-/var/tmp/mailward-demo}"
. "$SRC/tests/integration/lib/stack.sh"

mode=run
case "${1:-}" in
  --down) mode=down ;;
  --no-build) mode=nobuild ;;
  "") ;;
  -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/demo.sh [--down|--no-build]" >&2; exit 2 ;;
esac

if [ "$mode" = down ]; then
  if [ -f "$MW_STATE/stack.env" ]; then
    mw_attach "$MW_STATE"
    mw_down
    echo "demo stack stopped; its files (mail, logs) stay in $MW_STATE"
  else
    echo "no demo stack is running (no $MW_STATE/stack.env)"
  fi
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it installs packages and creates a network namespace)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }

if [ "$mode" = run ]; then
  step "installing dependencies (scripts/install-deps.sh)"
  "$SRC/scripts/install-deps.sh"
  step "building mailward into $BUILD"
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DMAILWARD_BENCH=OFF >/dev/null
  cmake --build "$BUILD" --target mailward-milter mailward -j "$(nproc)"
fi
export MAILWARD_MILTER="$BUILD/milters/milter/mailward-milter" MAILWARD_CLI="$BUILD/tools/mailward"
for b in "$MAILWARD_MILTER" "$MAILWARD_CLI"; do [ -x "$b" ] || { echo "demo.sh: $b is not built" >&2; exit 1; }; done

step "bringing up the stack in a network namespace (state: $MW_STATE)"
export MW_PERSIST=1 MW_MILTER_LOG_LEVEL=info MW_MILTER_USER="${MW_MILTER_USER:-nobody}"
trap 'rc=$?; [ $rc -eq 0 ] || { echo "demo.sh: bring-up failed, tearing down" >&2; mw_down; }' EXIT
mw_up
trap - EXIT
work="$MW_STATE/demo"; mkdir -p "$work"

rows=()
replies=()
# summary FILE: mailward's verdicts from its own Authentication-Results field, and other marks.
summary() {
  local f="$1" ar s
  ar="$(mw_header "$f" Authentication-Results | grep -E "^$MW_AUTHSERV_ID( |;)" || true)"
  s="$(printf '%s' "$ar" | grep -oE '(^|[ ;])(spf|dkim|dmarc)=[a-z]+' | tr -d ' ;' | tr '\n' ' ' || true)"
  [ -n "$s" ] || s="(outgoing: no Authentication-Results) "
  if mw_header "$f" X-Mailward-Quarantine | grep -q .; then s+="+quarantine header "; fi
  printf '%s' "$s"
}
# demo_send NUM TITLE SENT_AS OUTFILE [send args...]: send, then record one table row.
record() { # NUM TITLE SENT_AS TRANSCRIPT MARKER [EXTRA_VERDICT]
  local reply verdict f
  reply="$(mw_smtp_last "$4")"
  if [[ "$reply" == 250* ]]; then
    if f="$(mw_wait_delivery "$5" 30)"; then
      verdict="delivered: $(summary "$f")${6:-}"
    else
      verdict="accepted but not delivered within 30 s"
    fi
    reply="250 (queued $(mw_queue_id "$4"))"
  else
    verdict="refused by mailward"
    replies+=("$1. $reply")
    reply="$(printf '%s' "$reply" | cut -d' ' -f1-2) (see below)"
  fi
  rows+=("$1|$2|$3|$reply|$verdict")
}
mk() { echo "demo-$1-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"; }

step "sending representative messages"
# 1. aligned and signed
m="$(mk aligned)"
mw_message "$work/1.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "Quarterly report" "$m"
mw_dkim_sign "$work/1.eml" "$work/1.signed" aligned.example
mw_send "$work/1.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$work/1.signed" || true
record 1 "aligned, DKIM-signed (p=reject domain)" "aligned.example from $MW_IP_GOOD (in SPF)" "$work/1.out" "$m"

# 2. spoofed p=reject sender
m="$(mk spoof)"
mw_message "$work/2.eml" "Bank <security@aligned.example>" "$MW_RCPT" "Verify your account" "$m"
mw_send "$work/2.out" "$MW_IP_SPOOF" spoofer.outside.example security@aligned.example "$MW_RCPT" "$work/2.eml" || true
record 2 "spoofed sender, unsigned (p=reject)" "aligned.example from $MW_IP_SPOOF (not in SPF)" "$work/2.out" "$m"

# 3. body altered after signing
m="$(mk altered)"
mw_message "$work/3.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "Newsletter" "$m"
mw_dkim_sign "$work/3.eml" "$work/3.signed" aligned.example
sed 's/covered by the DKIM body hash/changed after signing/' "$work/3.signed" >"$work/3.altered"
mw_send "$work/3.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$work/3.altered" || true
record 3 "body altered after signing" "aligned.example from $MW_IP_GOOD (in SPF)" "$work/3.out" "$m"

# 4. forged Authentication-Results
m="$(mk forged)"
mw_message "$work/4.eml" "Sender <sender@none.example>" "$MW_RCPT" "Trust me" "$m" \
  "Authentication-Results: $MW_AUTHSERV_ID; spf=pass smtp.mailfrom=forged.example; dkim=pass header.d=forged.example; dmarc=pass header.from=forged.example"
mw_send "$work/4.out" "$MW_IP_SPOOF" spoofer.outside.example sender@none.example "$MW_RCPT" "$work/4.eml" || true
forged=""
if f="$(mw_wait_delivery "$m" 30)"; then
  if grep -q 'forged.example' "$f"; then forged="; forged A-R KEPT (bug)"; else forged="; forged A-R removed"; fi
fi
record 4 "forged Authentication-Results (our id)" "none.example (p=none) from $MW_IP_SPOOF" "$work/4.out" "$m" "$forged"

# 5. quarantine policy
m="$(mk quarantine)"
mw_message "$work/5.eml" "Shop <orders@quarantine.example>" "$MW_RCPT" "Your order" "$m"
mw_send "$work/5.out" "$MW_IP_SPOOF" spoofer.outside.example orders@quarantine.example "$MW_RCPT" "$work/5.eml" || true
record 5 "spoofed sender (p=quarantine)" "quarantine.example from $MW_IP_SPOOF" "$work/5.out" "$m"

# 6. SASL submission, signed on the way out
m="$(mk submission)"
mw_message "$work/6.eml" "Alice <$MW_USER>" "$MW_RCPT" "Lunch?" "$m"
mw_send "$work/6.out" "$MW_IP_SUBMIT" client.outside.example "$MW_USER" "$MW_RCPT" "$work/6.eml" \
  --port 587 --auth PLAIN --auth-user "$MW_USER" --auth-password "$MW_USER_PASSWORD" || true
signed=""
if f="$(mw_wait_delivery "$m" 30)"; then
  sig="$(mw_header "$f" DKIM-Signature | head -1)"
  if [ -n "$sig" ]; then
    d="$(printf '%s' "$sig" | grep -oE '(^|[; ])d=[^;]+' | head -1 | sed 's/^[; ]//')"
    s="$(printf '%s' "$sig" | grep -oE '(^|[; ])s=[^;]+' | head -1 | sed 's/^[; ]//')"
    if mw_dkim_verify "$f" 2>&1 | grep -q 'signature ok'; then v="dkimverify: ok"; else v="dkimverify: FAILED"; fi
    signed="; signed $d $s ($v)"
  else
    signed="; NOT signed"
  fi
fi
record 6 "SASL submission (port 587, $MW_USER)" "mailward.example from $MW_IP_SUBMIT" "$work/6.out" "$m" "$signed"

step "what mailward decided"
{
  echo "#|message|sent as|SMTP answer|mailward's verdict"
  echo "-|-------|-------|-----------|------------------"
  printf '%s\n' "${rows[@]}"
} | column -t -s '|'
if [ "${#replies[@]}" -gt 0 ]; then
  echo; echo "Refusals, as the sending client saw them:"
  printf '  %s\n' "${replies[@]}" | fold -s -w 110 | sed '2,$s/^\([^ ]\)/     \1/'
fi

cat <<EOF

Delivered mail (Maildir):   $MW_MAIL/mailward.example/bob/Maildir/new/
Logs:                       $MW_LOGS/  (milter.log, postfix-mx.log, dovecot.log, nsd.log)
mailward-milter config:     $MW_MILTER_CONF
DNS zones (nsd):            $MW_ZONES/   DKIM test keys: $MW_KEYS/

The stack is still running in network namespace $MW_NS. Send your own mail, e.g.:
  ip netns exec $MW_NS swaks --server $MW_IP_MX --local-interface $MW_IP_GOOD \\
      --helo mail.aligned.example --from you@aligned.example --to $MW_RCPT
  ip netns exec $MW_NS swaks --server $MW_IP_MX --port 587 --local-interface $MW_IP_SUBMIT \\
      --from $MW_USER --to $MW_RCPT --auth PLAIN --auth-user $MW_USER --auth-password $MW_USER_PASSWORD
(clients: $MW_IP_GOOD is in the test domains' SPF records, $MW_IP_SPOOF is in none; domains:
 aligned.example p=reject, quarantine.example p=quarantine, none.example p=none, nodmarc.example)
Tear it down:  scripts/demo.sh --down
EOF
