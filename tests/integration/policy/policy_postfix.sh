#!/usr/bin/env bash
# policy_postfix.sh — mailward-policyd in front of the real Postfix of the integration stack
# (tests/integration/lib/stack.sh, no milter). Checks, through SMTP:
#   1. an unauthenticated relay attempt is refused by the policy service (its log shows check=relay),
#      local delivery from the same kind of client is unaffected;
#   2. SASL submission as an own alias is accepted and delivered, as someone else's address refused
#      with 553 5.7.1;
#   3. routing through the socketmap table: mail from the local domain leaves through the relay host
#      of sender_dependent_relayhost_maps, mail to gw.example through the transport_maps route; both
#      stand-in relays (smtp-sink) are checked for what they received;
#   4. rate limit "sender messages 2/30s": the third message is deferred with 450 4.7.1, and accepted
#      again once the bucket has refilled one token (15 s);
#   5. a malformed request on the policy socket gets DEFER_IF_PERMIT and the connection is closed;
#   6. SIGHUP reloads the sender map.
# Usage: policy_postfix.sh POLICYD_BINARY [STATE_DIR]
set -euo pipefail
. "$(dirname "$0")/../lib/stack.sh"

POLICYD="${1:?usage: policy_postfix.sh POLICYD_BINARY [STATE_DIR]}"
MW_STATE="${2:-}"
unset MAILWARD_MILTER
fail() {
  echo "policy_postfix: FAIL: $*" >&2
  [ -z "${MW_LOGS:-}" ] || tail -20 "$MW_LOGS/policyd.log" >&2 2>/dev/null || true
  exit 1
}
[ -x "$POLICYD" ] || fail "mailward-policyd binary $POLICYD missing (not skipping)"
SINK=/usr/sbin/smtp-sink
[ -x "$SINK" ] || fail "Postfix's smtp-sink is missing"
command -v python3 >/dev/null || fail "python3 missing (used for the raw-socket check)"

mw_up
work="$MW_STATE/work"
mkdir -p "$work"
IP_SINK1=127.0.0.70   # relay host for mail from the local domain (sender route)
IP_SINK2=127.0.0.71   # relay host for mail to gw.example (recipient route)
ns ip addr add "$IP_SINK1/32" dev lo
ns ip addr add "$IP_SINK2/32" dev lo

# --- stand-in relay hosts ---------------------------------------------------------------------
mkdir -p "$work/sink1" "$work/sink2"
chown nobody "$work/sink1" "$work/sink2"
ip netns exec "$MW_NS" "$SINK" -u nobody -d "$work/sink1/m." "$IP_SINK1:2525" 64 &
ip netns exec "$MW_NS" "$SINK" -u nobody -d "$work/sink2/m." "$IP_SINK2:2526" 64 &
mw_wait_port "$IP_SINK1" 2525 "smtp-sink 1"
mw_wait_port "$IP_SINK2" 2526 "smtp-sink 2"

# --- mailward-policyd -------------------------------------------------------------------------
SOCK_DIR="$MW_SPOOL_MX/mailward"
mkdir -p "$SOCK_DIR"
{
  echo "# owned senders (sender_map)"
  echo "$MW_USER  $MW_USER"
  echo "info@$MW_LOCAL_DOMAIN  $MW_USER"
  echo "sales@$MW_LOCAL_DOMAIN  $MW_USER"
  echo "$MW_RCPT  $MW_RCPT"
} >"$work/senders"
chmod 0644 "$work/senders"
{
  echo "[log]"
  echo "destination = $MW_LOGS/policyd.log"
  echo "level = debug"
  echo "[store]"
  echo "backend = memory"
  echo "[policy]"
  echo "socket = $SOCK_DIR/policy.sock"
  echo "socketmap_socket = $SOCK_DIR/socketmap.sock"
  echo "socket_group = postfix"
  echo "socket_mode = 0660"
  echo "user = nobody"
  echo "checks = relay, sender, rate, route"
  echo "local_domains = $MW_LOCAL_DOMAIN"
  echo "trusted_networks = 127.0.0.1/32"
  echo "sender_map = $work/senders"
  echo "limit = sender messages 2/30s"
  echo "rate_action = defer"
  echo "route_sender_domain = $MW_LOCAL_DOMAIN [$IP_SINK1]:2525"
  echo "route_recipient_domain = gw.example [$IP_SINK2]:2526"
} >"$work/policyd.conf"
"$POLICYD" --config "$work/policyd.conf" --check || fail "policyd --check refused the configuration"
ip netns exec "$MW_NS" "$POLICYD" --config "$work/policyd.conf" 2>>"$MW_LOGS/policyd.stderr" &
POLICYD_PID=$!
for _ in $(seq 1 50); do
  [ -S "$SOCK_DIR/policy.sock" ] && [ -S "$SOCK_DIR/socketmap.sock" ] && break
  sleep 0.1
done
[ -S "$SOCK_DIR/policy.sock" ] || fail "policyd did not create its socket: $(cat "$MW_LOGS/policyd.stderr")"
[ "$(stat -c '%a %G' "$SOCK_DIR/policy.sock")" = "660 postfix" ] \
  || fail "socket mode/group: $(stat -c '%a %G' "$SOCK_DIR/policy.sock")"
[ "$(ps -o user= -p "$POLICYD_PID")" = "nobody" ] || fail "policyd does not run as nobody"

# --- Postfix: the policy first in both relay restriction lists, routing via the socketmap -----
POLICY="check_policy_service unix:mailward/policy.sock"
# socketmap paths are relative to the queue directory, where every (chrooted or not) daemon runs.
SMAP="socketmap:unix:mailward/socketmap.sock"
postconf -c "$MW_PF_MX" -e \
  "smtpd_relay_restrictions = $POLICY, permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
  "smtpd_policy_service_default_action = 451 4.3.5 policy service unavailable" \
  "sender_dependent_relayhost_maps = $SMAP:relayhost" \
  "transport_maps = $SMAP:transport" \
  "smtp_tls_security_level = none"
postconf -c "$MW_PF_MX" -P \
  "submission/inet/smtpd_relay_restrictions=check_policy_service,unix:mailward/policy.sock,permit_sasl_authenticated,reject" \
  2>/dev/null || true
# Debian's master.cf names the service "587" in our stack (stack.sh appends it by port number).
postconf -c "$MW_PF_MX" -P \
  "587/inet/smtpd_relay_restrictions=check_policy_service,unix:mailward/policy.sock,permit_sasl_authenticated,reject"
postconf -c "$MW_PF_MX" -P 587/inet/smtpd_relay_restrictions | mw_has check_policy_service \
  || fail "could not put the policy into the submission service's restrictions"
ns postfix -c "$MW_PF_MX" reload >/dev/null 2>&1 || fail "postfix reload failed"
sleep 1

# The socketmap as Postfix's own client reads it (absolute path from outside the chroot).
got="$(ns postmap -c "$MW_PF_MX" -q gw.example "socketmap:unix:$SOCK_DIR/socketmap.sock:transport")" \
  || fail "postmap -q through the socketmap failed"
[ "$got" = "smtp:[$IP_SINK2]:2526" ] || fail "transport lookup answered '$got'"
got="$(ns postmap -c "$MW_PF_MX" -q "@$MW_LOCAL_DOMAIN" "socketmap:unix:$SOCK_DIR/socketmap.sock:relayhost")"
[ "$got" = "[$IP_SINK1]:2525" ] || fail "relayhost lookup answered '$got'"
echo "ok: socketmap answers Postfix's own client"

sasl=(--port 587 --auth PLAIN --auth-user "$MW_USER" --auth-password "$MW_USER_PASSWORD")

# 1. Unauthenticated relay refused by the policy; local delivery unaffected.
mw_message "$work/r.eml" "x@nodmarc.example" "v@victim.example" "relay" "relay-$RANDOM"
mw_send "$work/r.out" "$MW_IP_SPOOF" spoof.example x@nodmarc.example v@victim.example "$work/r.eml" \
  && fail "relay accepted"
# Postfix puts its own "Recipient address rejected:" before the policy's text.
mw_smtp_replies "$work/r.out" | mw_has "^554 5.7.1 .*<v@victim.example>: Relay access denied" \
  || fail "relay attempt not refused with 554 5.7.1: $(mw_smtp_last "$work/r.out")"
grep -q 'check=relay action="554 5.7.1 <v@victim.example>: Relay access denied"' "$MW_LOGS/policyd.log" \
  || fail "the refusal did not come from the policy service"
echo "ok: unauthenticated relay refused by mailward-policyd"
m="local-$RANDOM$RANDOM"
mw_message "$work/l.eml" "x@nodmarc.example" "$MW_RCPT" "local" "$m"
mw_send "$work/l.out" "$MW_IP_SPOOF" spoof.example x@nodmarc.example "$MW_RCPT" "$work/l.eml" \
  || fail "local delivery refused: $(mw_smtp_last "$work/l.out")"
mw_wait_delivery "$m" 30 >/dev/null || fail "local message not delivered"
echo "ok: local delivery unaffected"

# 2. Sender ownership.
m="alias-$RANDOM$RANDOM"
mw_message "$work/a.eml" "info@$MW_LOCAL_DOMAIN" "$MW_RCPT" "alias" "$m"
mw_send "$work/a.out" "$MW_IP_SUBMIT" client.example "info@$MW_LOCAL_DOMAIN" "$MW_RCPT" "$work/a.eml" "${sasl[@]}" \
  || fail "submission as own alias refused: $(mw_smtp_last "$work/a.out")"
mw_wait_delivery "$m" 30 >/dev/null || fail "alias message not delivered"
echo "ok: submission as own alias accepted and delivered"
mw_message "$work/o.eml" "$MW_RCPT" "$MW_RCPT" "other" "other-$RANDOM"
mw_send "$work/o.out" "$MW_IP_SUBMIT" client.example "$MW_RCPT" "$MW_RCPT" "$work/o.eml" "${sasl[@]}" \
  && fail "submission as someone else's address accepted"
mw_smtp_replies "$work/o.out" | mw_has "^553 5.7.1 .*<$MW_RCPT>: not owned by user $MW_USER" \
  || fail "not refused with 553 5.7.1: $(mw_smtp_last "$work/o.out")"
echo "ok: submission as someone else's address refused (553 5.7.1)"

# 3. Routing through the stand-in relays.
m1="route1-$RANDOM$RANDOM"
m2="route2-$RANDOM$RANDOM"
mw_message "$work/s1.eml" "$MW_USER" "someone@faraway.example" "routed" "$m1"
mw_send "$work/s1.out" "$MW_IP_SUBMIT" client.example "$MW_USER" someone@faraway.example "$work/s1.eml" "${sasl[@]}" \
  || fail "routed submission refused: $(mw_smtp_last "$work/s1.out")"
mw_message "$work/s2.eml" "$MW_USER" "someone@gw.example" "routed" "$m2"
mw_send "$work/s2.out" "$MW_IP_SUBMIT" client.example "$MW_USER" someone@gw.example "$work/s2.eml" "${sasl[@]}" \
  || fail "routed submission refused: $(mw_smtp_last "$work/s2.out")"
for _ in $(seq 1 100); do
  grep -rlqF "$m1" "$work/sink1" 2>/dev/null && grep -rlqF "$m2" "$work/sink2" 2>/dev/null && break
  sleep 0.2
done
grep -rlqF "$m1" "$work/sink1" || fail "relay host 1 did not receive $m1: $(mw_fate "$(mw_queue_id "$work/s1.out")")"
grep -rlqF "$m2" "$work/sink2" || fail "relay host 2 did not receive $m2: $(mw_fate "$(mw_queue_id "$work/s2.out")")"
if grep -rlqF "$m2" "$work/sink1"; then fail "gw.example mail went through the sender route"; fi
f1="$(grep -rlF "$m1" "$work/sink1" | head -1)"
grep -qi "someone@faraway.example" "$f1" || fail "relay 1 dump lacks the recipient"
echo "ok: routed mail reached relay host 1 (sender route) and relay host 2 (recipient route)"

# 4. Rate limit: sender messages 2/30s for sales@.
rate_send() { # N: one submission as sales@; returns swaks's status
  mw_message "$work/rate$1.eml" "sales@$MW_LOCAL_DOMAIN" "$MW_RCPT" "rate $1" "rate$1-$RANDOM$RANDOM"
  mw_send "$work/rate$1.out" "$MW_IP_SUBMIT" client.example "sales@$MW_LOCAL_DOMAIN" "$MW_RCPT" \
    "$work/rate$1.eml" "${sasl[@]}"
}
rate_send 1 || fail "rate message 1 refused: $(mw_smtp_last "$work/rate1.out")"
rate_send 2 || fail "rate message 2 refused: $(mw_smtp_last "$work/rate2.out")"
rate_send 3 && fail "rate message 3 accepted (limit 2)"
mw_smtp_replies "$work/rate3.out" | mw_has "^450 4.7.1 .*rate limit exceeded for sender sales@$MW_LOCAL_DOMAIN" \
  || fail "message over the limit not deferred with 450 4.7.1: $(mw_smtp_last "$work/rate3.out")"
echo "ok: the message after the limit is deferred (450 4.7.1)"
sleep 16
rate_send 4 || fail "message not accepted after the bucket refilled: $(mw_smtp_last "$work/rate4.out")"
echo "ok: accepted again after the bucket refilled"

# 5. Malformed request: temporary failure, then the connection is closed.
cat >"$work/malformed.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"request=smtpd_access_policy\nno equals sign here\n\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(repr(data.decode()))
PY
got="$(python3 "$work/malformed.py" "$SOCK_DIR/policy.sock")"
[ "$got" = "'action=DEFER_IF_PERMIT 4.3.5 malformed policy request\\n\\n'" ] || fail "malformed request answered $got"
echo "ok: malformed request deferred and connection closed"

# 6. SIGHUP reloads the sender map.
echo "newalias@$MW_LOCAL_DOMAIN $MW_USER" >>"$work/senders"
kill -HUP "$POLICYD_PID"
for _ in $(seq 1 30); do
  grep -q "sender map reloaded: 5 entries" "$MW_LOGS/policyd.log" && break
  sleep 0.1
done
grep -q "sender map reloaded: 5 entries" "$MW_LOGS/policyd.log" || fail "SIGHUP did not reload the sender map"
echo "ok: SIGHUP reloads the sender map"

echo "policy_postfix: PASS"
