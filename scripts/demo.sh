#!/usr/bin/env bash
# demo.sh — the main job: installs the dependencies, builds mailward, brings up a private mail stack
# in a network namespace with the integration harness (tests/integration/lib/stack.sh: nsd, Postfix,
# Dovecot, mailward-milter), extended here without editing the harness: spam scoring in the milter
# ([spam]), mailward-policyd in Postfix's relay restrictions (relay, sender ownership, rate) and as
# Dovecot's authentication policy, the Sieve plugin vnd.mailward.webhook in Dovecot with a script for
# bob that notifies, mailward-notifyd, and a plain-HTTP stand-in receiver (scripts/demo/receiver.py).
# It sends representative messages through it (aligned, spoofed, altered, forwarded, spam,
# submissions, a notification) and guesses an IMAP password, prints what mailward decided for each,
# and leaves the stack running for you to try. Never touches /etc/postfix, /etc/dovecot or
# /etc/resolv.conf.
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
. "$SRC/tests/integration/lib/dovecot_auth_policy.sh"

mode=run
case "${1:-}" in
  --down) mode=down ;;
  --no-build) mode=nobuild ;;
  "") ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/demo.sh [--down|--no-build]" >&2; exit 2 ;;
esac

# demo_runs PID CMDLINE: true while PID runs the command line this script started (not a zombie,
# not a recycled pid).
demo_runs() { [ -n "$2" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | mw_has -F -- "$2"; }
# demo_stop_extras: stop the processes this script started besides the harness's (receiver, notifyd,
# policyd), by the pids it recorded in demo/NAME.pid. They run in the namespace, so mw_down's sweep
# would stop them too; stopping them first, by pid, gives them a plain TERM and covers a namespace
# that is already gone.
demo_stop_extras() {
  local pf pid cmd i
  for pf in "$MW_STATE"/demo/*.pid; do
    [ -f "$pf" ] || continue
    pid="$(cat "$pf")"; cmd="$(cat "$pf.cmd" 2>/dev/null || true)"
    if demo_runs "$pid" "$cmd"; then
      kill "$pid" 2>/dev/null || true
      for i in $(seq 1 30); do demo_runs "$pid" "$cmd" || break; sleep 0.1; done
      if demo_runs "$pid" "$cmd"; then kill -9 "$pid" 2>/dev/null || true; fi
      echo "demo.sh: stopped $(basename "$pf" .pid) (pid $pid)"
    fi
    rm -f "$pf" "$pf.cmd"
  done
}

if [ "$mode" = down ]; then
  if [ -f "$MW_STATE/stack.env" ]; then
    mw_attach "$MW_STATE"
    demo_stop_extras
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
  cmake --build "$BUILD" --target mailward-milter mailward mailward-policyd mailward-notifyd \
    sieve_mailward_plugin -j "$(nproc)"
fi
export MAILWARD_MILTER="$BUILD/milters/milter/mailward-milter" MAILWARD_CLI="$BUILD/tools/mailward"
POLICYD="$BUILD/policy/mailward-policyd"
NOTIFYD="$BUILD/dovecot-plugins/notifyd/mailward-notifyd"
PLUGIN="$BUILD/dovecot-plugins/sieve-webhook/lib90_sieve_mailward_plugin.so"
RECEIVER="$SRC/scripts/demo/receiver.py"
for b in "$MAILWARD_MILTER" "$MAILWARD_CLI" "$POLICYD" "$NOTIFYD"; do
  [ -x "$b" ] || { echo "demo.sh: $b is not built" >&2; exit 1; }
done
[ -f "$PLUGIN" ] || { echo "demo.sh: $PLUGIN is not built (target sieve_mailward_plugin)" >&2; exit 1; }
command -v sievec >/dev/null || { echo "demo.sh: sievec missing (dovecot-sieve)" >&2; exit 1; }
RECV_IP=127.0.0.70   # the webhook receiver, inside the namespace (not one of the harness's addresses)
RECV_PORT=8080

# --- the harness's stack, extended (stack.sh is not edited: its writers are wrapped) -------------
# Spam scoring in the milter: the shipped rules, GTUBE, authentication evidence, a Bayes store of
# its own (empty: it says nothing until trained with `mailward spam learn`).
eval "demo_base_milter_write() $(declare -f mw_milter_write | tail -n +2)"
mw_milter_write() {
  demo_base_milter_write
  mkdir -p "$S/spam"; chown 65534:65534 "$S/spam"
  cat >>"$MW_MILTER_CONF" <<CONF
[spam]
enabled = yes
required_score = 5.0
reject_score = 15
bayes_path = $S/spam/bayes.mdb
CONF
}
# The Sieve plugin in Dovecot, its configuration (one target: the local receiver, generic JSON), the
# notification spool shared by the mail user and notifyd (both nobody/nogroup here), bob's script.
eval "demo_base_dovecot_write() $(declare -f mw_dovecot_write | tail -n +2)"
mw_dovecot_write() {
  demo_base_dovecot_write
  NOTIFY="$S/notify"; SPOOL="$NOTIFY/spool"; MWCONF="$NOTIFY/mailward.conf"; RECV_DIR="$NOTIFY/received"
  mkdir -p "$NOTIFY/plugins" "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/slots" "$SPOOL/dead" "$RECV_DIR"
  cp "$PLUGIN" "$NOTIFY/plugins/"
  chmod 0755 "$NOTIFY" "$NOTIFY/plugins"; chmod 0644 "$NOTIFY/plugins/"*
  chown 65534:65534 "$SPOOL" "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/slots" "$SPOOL/dead"
  chmod 0750 "$SPOOL"; chmod 2770 "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/slots" "$SPOOL/dead"
  cat >"$MWCONF" <<CONF
# mailward notification settings of the demo (Sieve plugin + mailward-notifyd), generated.
[notify]
spool = $SPOOL
per_message_limit = 3
user = nobody
log = $MW_LOGS/notifyd.log
log_level = info
rescan_interval = 5s
[target.receiver]
url = http://$RECV_IP:$RECV_PORT/hook
format = generic
users = $MW_RCPT
timeout = 5s
max_attempts = 20
CONF
  chmod 0644 "$MWCONF"
  cat >>"$MW_DOVECOT_CONF" <<CONF
# mailward demo (appended by scripts/demo.sh): the Sieve webhook extension
plugin {
  sieve_plugin_dir = $NOTIFY/plugins
  sieve_plugins = sieve_mailward
  sieve_extensions = +vnd.mailward.webhook
  mailward_config = $MWCONF
}
CONF
  # The Dovecot auth policy, answered by mailward-policyd ([auth-policy] in its config), with Dovecot's
  # own failure delay and anvil penalty switched off (tests/integration/lib/dovecot_auth_policy.sh).
  AP_IP=127.0.0.11; AP_PORT=8099
  AP_KEY="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  mw_dovecot_auth_policy_write "$AP_IP" "$AP_PORT" "$AP_KEY" "scripts/demo.sh: mailward-policyd"
  BOB_HOME="$MW_MAIL/${MW_RCPT#*@}/${MW_RCPT%@*}"
  mkdir -p "$BOB_HOME/sieve"
  cat >"$BOB_HOME/sieve/notify.sieve" <<'SIEVE'
# bob's Sieve script (demo): a webhook notification for urgent mail, everything goes to INBOX.
require ["vnd.mailward.webhook", "variables"];
if header :contains "subject" "[urgent]" {
  if header :matches "subject" "*" { set "subject" "${1}"; }
  webhook :title "Urgent mail for bob" :message "${subject}" :priority "high"
          :field "source" "mailward demo" "receiver";
}
SIEVE
  ln -sfn sieve/notify.sieve "$BOB_HOME/.dovecot.sieve"
  chown -R 65534:65534 "$MW_MAIL"
}

# demo_start NAME CMD...: start CMD in the namespace, in its own session, output to the logs; the pid
# goes to demo/NAME.pid (for --down's check).
demo_start() {
  local name="$1"; shift
  ip netns exec "$MW_NS" setsid "$@" </dev/null >>"$MW_LOGS/$name.stderr" 2>&1 &
  echo $! >"$work/$name.pid"
  printf '%s' "$*" >"$work/$name.pid.cmd"
}

# demo_extras_up: the receiver, notifyd, policyd (in Postfix's chain, then a reload).
demo_extras_up() {
  local i
  ns ip addr add "$RECV_IP/32" dev lo
  demo_start receiver python3 "$RECEIVER" --bind "$RECV_IP:$RECV_PORT" --dir "$RECV_DIR"
  for i in $(seq 1 50); do grep -q ready "$MW_LOGS/receiver.stderr" 2>/dev/null && break; sleep 0.1; done
  grep -q ready "$MW_LOGS/receiver.stderr" || mw_die "the webhook receiver did not start: $(cat "$MW_LOGS/receiver.stderr")"

  sievec -c "$MW_DOVECOT_CONF" "$BOB_HOME/sieve/notify.sieve" "$work/notify.svbin" >"$work/sievec.out" 2>&1 \
    || mw_die "sievec rejected bob's script: $(cat "$work/sievec.out")"
  "$NOTIFYD" --config "$MWCONF" --check >"$work/notifyd-check.out" 2>&1 \
    || mw_die "mailward-notifyd --check: $(cat "$work/notifyd-check.out")"
  demo_start notifyd "$NOTIFYD" --config "$MWCONF"
  sleep 0.5
  kill -0 "$(cat "$work/notifyd.pid")" 2>/dev/null \
    || mw_die "mailward-notifyd exited: $(tail -5 "$MW_LOGS/notifyd.stderr" "$MW_LOGS/notifyd.log" 2>/dev/null)"

  POLICY_SOCK_DIR="$MW_SPOOL_MX/mailward"
  POLICYD_CONF="$work/policyd.conf"
  {
    echo "# owned senders: address, then the SASL users who may send as it"
    echo "$MW_USER  $MW_USER"
    echo "$MW_RCPT  $MW_RCPT"
  } >"$work/senders"
  chmod 0644 "$work/senders"
  cat >"$POLICYD_CONF" <<CONF
# mailward-policyd configuration of the demo (generated).
[log]
destination = $MW_LOGS/policyd.log
level = info
[store]
backend = memory
[policy]
socket = $POLICY_SOCK_DIR/policy.sock
socket_group = postfix
socket_mode = 0660
user = nobody
checks = relay, sender, rate
local_domains = $MW_LOCAL_DOMAIN
trusted_networks = 127.0.0.1/32
sender_map = $work/senders
limit = user messages 100/1h
rate_action = defer
[auth-policy]
listen = $AP_IP:$AP_PORT
path = /auth-policy
api_key_file = $work/auth-policy.key
delay_after = 2
block_after = 5
block_time = 10m
max_delay = 1s
CONF
  ( umask 077; printf '%s\n' "$AP_KEY" >"$work/auth-policy.key" )
  chown 65534:65534 "$work/auth-policy.key"
  "$POLICYD" --config "$POLICYD_CONF" --check >"$work/policyd-check.out" 2>&1 \
    || mw_die "mailward-policyd --check: $(cat "$work/policyd-check.out")"
  rm -f "$POLICY_SOCK_DIR/policy.sock"
  demo_start policyd "$POLICYD" --config "$POLICYD_CONF"
  for i in $(seq 1 50); do [ -S "$POLICY_SOCK_DIR/policy.sock" ] && break; sleep 0.1; done
  [ -S "$POLICY_SOCK_DIR/policy.sock" ] || mw_die "mailward-policyd did not create its socket: $(tail -5 "$MW_LOGS/policyd.stderr")"
  mw_wait_port "$AP_IP" "$AP_PORT" "mailward-policyd's auth-policy endpoint"
  # The policy first in both relay restriction lists (its path is relative to the queue directory,
  # where the chrooted smtpd runs); Debian's master.cf names the harness's submission service "587".
  local policy="check_policy_service unix:mailward/policy.sock"
  postconf -c "$MW_PF_MX" -e \
    "smtpd_relay_restrictions = $policy, permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
    "smtpd_policy_service_default_action = 451 4.3.5 policy service unavailable"
  postconf -c "$MW_PF_MX" -P \
    "587/inet/smtpd_relay_restrictions=check_policy_service,unix:mailward/policy.sock,permit_sasl_authenticated,reject"
  postconf -c "$MW_PF_MX" -P 587/inet/smtpd_relay_restrictions | mw_has check_policy_service \
    || mw_die "could not put the policy service into the submission service's restrictions"
  ns postfix -c "$MW_PF_MX" reload >/dev/null 2>&1 || mw_die "postfix reload failed"
  sleep 1
}

step "bringing up the stack in a network namespace (state: $MW_STATE)"
export MW_PERSIST=1 MW_MILTER_LOG_LEVEL=info MW_MILTER_USER="${MW_MILTER_USER:-nobody}"
# A demo left running (no --down): its extra daemons go first, mw_up then tears the rest down.
[ -f "$MW_STATE/stack.env" ] && demo_stop_extras
trap 'rc=$?; [ $rc -eq 0 ] || { echo "demo.sh: bring-up failed, tearing down" >&2; demo_stop_extras; mw_down; }' EXIT
mw_up
work="$MW_STATE/demo"; mkdir -p "$work"
step "starting the webhook receiver, mailward-notifyd and mailward-policyd"
demo_extras_up
trap - EXIT

rows=()
replies=()
# summary FILE: mailward's verdicts from its own Authentication-Results field, and other marks.
summary() {
  local f="$1" ar s
  ar="$(mw_header "$f" Authentication-Results | grep -E "^$MW_AUTHSERV_ID( |;)" || true)"
  s="$(printf '%s' "$ar" | grep -oE '(^|[ ;])(spf|dkim|dmarc)=[a-z]+' | tr -d ' ;' | tr '\n' ' ' || true)"
  [ -n "$s" ] || s="(outgoing: no Authentication-Results) "
  if mw_header "$f" X-Mailward-Quarantine | mw_has .; then s+="+quarantine header "; fi
  local sc
  sc="$(mw_header "$f" X-Spam-Score | head -1)"
  if [ -n "$sc" ]; then
    s+="spam=$sc"
    if [ "$(mw_header "$f" X-Spam-Flag | head -1)" = YES ]; then s+=" FLAGGED "; else s+=" "; fi
  fi
  printf '%s' "$s"
}
# demo_send NUM TITLE SENT_AS OUTFILE [send args...]: send, then record one table row.
details=()
record() { # NUM TITLE SENT_AS TRANSCRIPT MARKER [EXTRA_VERDICT [REFUSED_BY]]
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
    verdict="refused by ${7:-mailward-milter}"
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
    if mw_dkim_verify "$f" 2>&1 | mw_has 'signature ok'; then v="dkimverify: ok"; else v="dkimverify: FAILED"; fi
    signed="; signed $d $s ($v)"
  else
    signed="; NOT signed"
  fi
fi
record 6 "SASL submission (port 587, $MW_USER)" "mailward.example from $MW_IP_SUBMIT" "$work/6.out" "$m" "$signed"

# 7. GTUBE: rejected by the milter's spam scoring at end of DATA
m="$(mk gtube)"
mw_message "$work/7.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "Test of the spam filter" "$m"
printf '%s\r\n' 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X' >>"$work/7.eml"
mw_send "$work/7.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$work/7.eml" || true
record 7 "spam: the GTUBE test string" "aligned.example from $MW_IP_GOOD (in SPF)" "$work/7.out" "$m" "" \
  "mailward-milter (spam score)"

# 8. spammy-looking, from an address SPF does not authorise: scored, flagged, delivered
m="$(mk spammy)"
mw_message "$work/8.eml" "Lottery Office <winner@nodmarc.example>" "$MW_RCPT" "YOU HAVE WON \$1,000,000 FREE!!!" "$m"
{
  printf 'Congratulations, you have won ten million dollars!\r\n'
  printf 'To receive it, verify your account and pay the small transfer fee.\r\n'
  printf 'Click here: http://192.0.2.7:8080/claim\r\n'
} >>"$work/8.eml"
mw_send "$work/8.out" "$MW_IP_SPOOF" spoofer.outside.example winner@nodmarc.example "$MW_RCPT" "$work/8.eml" || true
record 8 "spammy-looking (lottery, IP-literal link)" "nodmarc.example from $MW_IP_SPOOF (not in SPF)" "$work/8.out" "$m"
if f="$(mw_wait_delivery "$m" 1)"; then
  # (the field is folded after some commas of the tests list: one space after each, for wrapping)
  details+=("8. X-Spam-Status: $(mw_header "$f" X-Spam-Status | head -1 | sed -E 's/,[ ]*([A-Z_])/, \1/g')")
fi

sasl=(--port 587 --auth PLAIN --auth-user "$MW_USER" --auth-password "$MW_USER_PASSWORD")
# 9. SASL submission as someone else's address: refused by mailward-policyd (sender ownership)
m="$(mk notowned)"
mw_message "$work/9.eml" "Bob <$MW_RCPT>" "$MW_RCPT" "Sent in bob's name" "$m"
mw_send "$work/9.out" "$MW_IP_SUBMIT" client.outside.example "$MW_RCPT" "$MW_RCPT" "$work/9.eml" "${sasl[@]}" || true
by="mailward-policyd (check=sender)"
grep -qF "check=sender" "$MW_LOGS/policyd.log" 2>/dev/null || by="Postfix (no policyd decision logged)"
record 9 "submission as someone else's address" "SASL user alice, sender $MW_RCPT" "$work/9.out" "$m" "" "$by"

# 10. unauthenticated relay attempt: refused by mailward-policyd (relay)
m="$(mk relay)"
mw_message "$work/10.eml" "Someone <someone@nodmarc.example>" "victim@faraway.example" "Relay me" "$m"
mw_send "$work/10.out" "$MW_IP_SPOOF" spoofer.outside.example someone@nodmarc.example victim@faraway.example "$work/10.eml" || true
by="mailward-policyd (check=relay)"
grep -qF "check=relay" "$MW_LOGS/policyd.log" 2>/dev/null || by="Postfix (no policyd decision logged)"
record 10 "unauthenticated relay attempt" "from $MW_IP_SPOOF to victim@faraway.example" "$work/10.out" "$m" "" "$by"

# 11. delivered, and bob's Sieve script notified: the receiver got the webhook from mailward-notifyd
m="$(mk notify)"
mw_message "$work/11.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "[urgent] The build is broken" "$m"
mw_dkim_sign "$work/11.eml" "$work/11.signed" aligned.example
mw_send "$work/11.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$work/11.signed" || true
notified="; NO notification received within 30 s"
payload=""
if mw_wait_delivery "$m" 30 >/dev/null; then
  for _ in $(seq 1 150); do
    payload="$(grep -lF -- "$m@" "$RECV_DIR"/*.json 2>/dev/null | head -1 || true)"
    [ -n "$payload" ] && break
    sleep 0.2
  done
  [ -z "$payload" ] || notified="; webhook received ($(basename "$payload"))"
fi
record 11 "urgent mail, bob's Sieve script notifies" "aligned.example from $MW_IP_GOOD (in SPF)" "$work/11.out" "$m" "$notified"

# 12. forwarded without SRS: the forwarder's address is not in the sender's SPF, the DKIM signature
# survives the unchanged message, so DMARC passes on DKIM alignment and the mail is delivered.
m="$(mk forwarded)"
mw_message "$work/12.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "Fwd through an old address" "$m"
mw_dkim_sign "$work/12.eml" "$work/12.signed" aligned.example
mw_send "$work/12.out" "$MW_IP_SPOOF" forwarder.outside.example sender@aligned.example "$MW_RCPT" "$work/12.signed" || true
record 12 "forwarded (no SRS), DKIM-signed (p=reject)" "aligned.example via forwarder $MW_IP_SPOOF" "$work/12.out" "$m"

# 13. IMAP password guessing from one address: the auth policy slows the guesses down, then blocks the
# address, so that even the right password is refused from there; the same user logs in from elsewhere.
guesses=()
for i in 1 2 3 4 5; do
  read -r res secs < <(mw_imap_login "$MW_IP_SPOOF" "$MW_USER" "guess-$i" 1 || echo "error 0")
  guesses+=("$res ${secs}s")
done
read -r right_res right_secs < <(mw_imap_login "$MW_IP_SPOOF" "$MW_USER" "$MW_USER_PASSWORD" 1 || echo "error 0")
read -r other_res other_secs < <(mw_imap_login "$MW_IP_GOOD" "$MW_USER" "$MW_USER_PASSWORD" 1 || echo "error 0")
verdict="guesses answered: $(IFS=,; echo "${guesses[*]}" | sed 's/,/, /g'); then the right password: $right_res"
if [ "$right_res" = no ] && grep -qF "blocked" "$MW_LOGS/policyd.log" 2>/dev/null; then
  verdict="blocked by mailward-policyd (auth policy): $verdict"
fi
verdict+="; from $MW_IP_GOOD: $other_res"
rows+=("13|IMAP password guessing, 5 wrong + right|$MW_USER from $MW_IP_SPOOF|IMAP LOGIN|$verdict")

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
if [ "${#details[@]}" -gt 0 ]; then
  echo; echo "Spam scoring:"
  printf '  %s\n' "${details[@]}" | fold -s -w 110 | sed '2,$s/^\([^ ]\)/     \1/'
fi
if [ -n "$payload" ]; then
  echo; echo "11. What the webhook receiver got from mailward-notifyd ($payload):"
  sed 's/^/    /' "$payload"
fi

cat <<EOF

Delivered mail (Maildir):   $MW_MAIL/mailward.example/bob/Maildir/new/
Notifications received:     $RECV_DIR/  (one file per webhook request; receiver on http://$RECV_IP:$RECV_PORT/)
Notification spool:         $SPOOL/  (events waiting for mailward-notifyd: slots/ and new/, failed ones: dead/)
Logs:                       $MW_LOGS/  (milter.log, policyd.log, notifyd.log, postfix-mx.log, dovecot.log, nsd.log)
mailward-milter config:     $MW_MILTER_CONF  ([spam] at the end)
mailward-policyd config:    $POLICYD_CONF  (sender map: $work/senders)
Sieve / notify config:      $MWCONF  (bob's script: $BOB_HOME/sieve/notify.sieve)
DNS zones (nsd):            $MW_ZONES/   DKIM test keys: $MW_KEYS/

The stack is still running in network namespace $MW_NS. Send your own mail, e.g.:
  ip netns exec $MW_NS swaks --server $MW_IP_MX --local-interface $MW_IP_GOOD \\
      --helo mail.aligned.example --from you@aligned.example --to $MW_RCPT
  ip netns exec $MW_NS swaks --server $MW_IP_MX --port 587 --local-interface $MW_IP_SUBMIT \\
      --from $MW_USER --to $MW_RCPT --auth PLAIN --auth-user $MW_USER --auth-password $MW_USER_PASSWORD
(clients: $MW_IP_GOOD is in the test domains' SPF records, $MW_IP_SPOOF is in none; domains:
 aligned.example p=reject, quarantine.example p=quarantine, none.example p=none, nodmarc.example)
Mail to $MW_RCPT whose subject contains "[urgent]" makes bob's Sieve script notify the receiver.
Tear it down:  scripts/demo.sh --down
EOF
