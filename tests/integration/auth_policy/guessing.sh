#!/usr/bin/env bash
# guessing.sh — the Dovecot auth policy through the real Dovecot 2.3 and Postfix of the integration
# stack (tests/integration/lib/stack.sh, no milter): mailward-auth-policy serves
# auth_policy_server_url inside the namespace; then
#   1. a password-guessing loop against IMAP from one address (127.0.0.30) is answered quickly at
#      first, then with growing delays, then refused even with the right password;
#   2. meanwhile a correct IMAP login from another address (127.0.0.20) works without delay;
#   3. SMTP AUTH on the MX's submission port 587 goes through Dovecot's auth and the same policy:
#      a correct login from 127.0.0.40 works, guessing from 127.0.0.61 ends refused, and the
#      address blocked over IMAP is refused over SMTP AUTH too.
# Usage: guessing.sh [STATE_DIR]. Needs root; MAILWARD_AUTH_POLICY = the mailward-auth-policy binary.
set -euo pipefail
. "$(dirname "$0")/../lib/stack.sh"
. "$(dirname "$0")/../lib/dovecot_auth_policy.sh"

MW_STATE="${1:-}"
unset MAILWARD_MILTER
fail() { echo "auth_policy guessing: FAIL: $*" >&2; exit 1; }
[ -n "${MAILWARD_AUTH_POLICY:-}" ] || mw_die "MAILWARD_AUTH_POLICY (the mailward-auth-policy binary) is not set; not skipping"
[ -x "$MAILWARD_AUTH_POLICY" ] || mw_die "MAILWARD_AUTH_POLICY=$MAILWARD_AUTH_POLICY is not executable"

AP_IP=127.0.0.11   # Dovecot's address, another port
AP_PORT=8099
AP_KEY="key-$RANDOM$RANDOM$RANDOM"

# Dovecot's configuration as the harness writes it, plus the auth policy (the harness itself is
# not edited: the function is wrapped).
eval "$(declare -f mw_dovecot_write | sed '1s/^mw_dovecot_write/mw_dovecot_write_harness/')"
mw_dovecot_write() {
  mw_dovecot_write_harness
  mw_dovecot_auth_policy_write "$AP_IP" "$AP_PORT" "$AP_KEY" tests/integration/auth_policy/guessing.sh
  cat >>"$MW_DOVECOT_CONF" <<EOF
auth_verbose = yes
EOF
}

mw_up
work="$MW_STATE/work"; mkdir -p "$work"
AP_LOG="$MW_LOGS/auth-policy.log"
echo "$AP_KEY" >"$work/ap.key"; chmod 0600 "$work/ap.key"
cat >"$work/mailward.conf" <<EOF
[auth-policy]
listen = $AP_IP:$AP_PORT
path = /auth-policy
api_key_file = $work/ap.key
delay_after = 2
ip_delay_after = 2
user_delay_after = 50
block_after = 6
block_time = 5m
max_delay = 2s
[store]
backend = embedded
path = $work/state.mdb
EOF
ip netns exec "$MW_NS" setsid "$MAILWARD_AUTH_POLICY" -c "$work/mailward.conf" -l "$AP_LOG" \
  </dev/null >>"$MW_LOGS/auth-policy.stderr" 2>&1 &
ap_pid=$!
trap 'kill $ap_pid 2>/dev/null || true; mw_down' EXIT
mw_wait_port "$AP_IP" "$AP_PORT" "mailward-auth-policy"

# 1. Guessing from 127.0.0.30. Expected policy answers before attempt N (N-1 failures so far):
# 0, 0 (under delay_after = 2), then delays 1, 2, 2, 2 s (capped by max_delay), then the 6th
# failure blocks the address.
expected_delay=(0 0 1 2 2 2)
for i in 0 1 2 3 4 5; do
  read -r res secs < <(mw_imap_login "$MW_IP_SPOOF" "$MW_USER" "wrong-$i")
  echo "guess $((i + 1)) from $MW_IP_SPOOF: $res in ${secs}s (policy delay ${expected_delay[$i]}s)"
  [ "$res" = no ] || fail "a wrong password was accepted"
  want="${expected_delay[$i]}"
  awk -v s="$secs" -v w="$want" 'BEGIN { exit !(s >= w - 0.2) }' \
    || fail "guess $((i + 1)) answered in ${secs}s, before the policy delay of ${want}s"
  if [ "$want" = 0 ]; then
    awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' || fail "guess $((i + 1)) was delayed (${secs}s) before any threshold"
  fi
done
grep -q "report login=$MW_USER remote=$MW_IP_SPOOF protocol=imap success=no: .*blocked for 300s" "$AP_LOG" \
  || fail "the policy log does not show the address being blocked: $(tail -3 "$AP_LOG")"

# Blocked: even the right password is refused now, quickly.
read -r res secs < <(mw_imap_login "$MW_IP_SPOOF" "$MW_USER" "$MW_USER_PASSWORD")
echo "right password from blocked $MW_IP_SPOOF: $res in ${secs}s"
[ "$res" = no ] || fail "the right password from the blocked address was accepted"
grep -q "allow login=$MW_USER remote=$MW_IP_SPOOF protocol=imap: status=-1 address $MW_IP_SPOOF blocked" "$AP_LOG" \
  || fail "no status=-1 in the policy log for the blocked address"
grep -q "policy server refusal" "$MW_LOGS/dovecot.log" \
  || fail "Dovecot's log does not show the refusal by the policy server"

# 2. The right password from another address works at once.
read -r res secs < <(mw_imap_login "$MW_IP_GOOD" "$MW_USER" "$MW_USER_PASSWORD")
echo "right password from $MW_IP_GOOD: $res in ${secs}s"
[ "$res" = ok ] || fail "a correct login from another address was refused"
awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' || fail "a correct login from another address was delayed (${secs}s)"
grep -q "report login=$MW_USER remote=$MW_IP_GOOD protocol=imap success=yes" "$AP_LOG" \
  || fail "the successful login was not reported to the policy"

# 3. SMTP AUTH on 587 (Postfix -> Dovecot auth -> the policy).
mw_message "$work/m.eml" "Alice <$MW_USER>" "$MW_RCPT" "auth policy" "ap-$RANDOM"
mw_send "$work/s-ok.out" "$MW_IP_SUBMIT" client.outside.example "$MW_USER" "$MW_RCPT" "$work/m.eml" \
  --port 587 --auth PLAIN --auth-user "$MW_USER" --auth-password "$MW_USER_PASSWORD" \
  || fail "correct SMTP AUTH from $MW_IP_SUBMIT failed: $(mw_smtp_last "$work/s-ok.out")"
grep -q "allow login=$MW_USER remote=$MW_IP_SUBMIT protocol=smtp: status=0" "$AP_LOG" \
  || fail "SMTP AUTH did not go through the policy (no protocol=smtp line for $MW_IP_SUBMIT)"

smtp_auth() { # SRC PASSWORD OUT
  mw_swaks "$3" "$1" --helo client.outside.example --port 587 --quit-after AUTH \
    --auth PLAIN --auth-user "$MW_USER" --auth-password "$2" >/dev/null 2>&1 || true
  grep -E '^ *(<-|<\*\*) +(235|535)' "$3" | tail -1 | tr -d '\r' | sed -E 's/^ *(<-|<\*\*) +//' | cut -c1-3
}
for i in 1 2 3 4 5 6; do
  code="$(smtp_auth "$MW_IP_OUT_CLIENT" "wrong-smtp-$i" "$work/s-bad-$i.out")"
  echo "SMTP AUTH guess $i from $MW_IP_OUT_CLIENT: $code"
  [ "$code" = 535 ] || fail "SMTP AUTH guess $i answered '$code', not 535"
done
code="$(smtp_auth "$MW_IP_OUT_CLIENT" "$MW_USER_PASSWORD" "$work/s-blocked.out")"
echo "SMTP AUTH right password from blocked $MW_IP_OUT_CLIENT: $code"
[ "$code" = 535 ] || fail "the right password over SMTP AUTH from a blocked address got '$code'"
grep -q "allow login=$MW_USER remote=$MW_IP_OUT_CLIENT protocol=smtp: status=-1" "$AP_LOG" \
  || fail "no policy refusal for SMTP AUTH from $MW_IP_OUT_CLIENT"
code="$(smtp_auth "$MW_IP_SPOOF" "$MW_USER_PASSWORD" "$work/s-imap-blocked.out")"
echo "SMTP AUTH right password from $MW_IP_SPOOF (blocked over IMAP): $code"
[ "$code" = 535 ] || fail "the address blocked over IMAP was let in over SMTP AUTH ('$code')"
code="$(smtp_auth "$MW_IP_SUBMIT" "$MW_USER_PASSWORD" "$work/s-ok2.out")"
[ "$code" = 235 ] || fail "the correct SMTP AUTH from $MW_IP_SUBMIT stopped working ('$code')"

# Every request carried the key: no 401s were logged.
if grep -q "without the right" "$AP_LOG"; then fail "the policy refused requests for a wrong key"; fi
echo "auth_policy guessing: PASS"
