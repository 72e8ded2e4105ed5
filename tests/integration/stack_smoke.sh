#!/usr/bin/env bash
# stack_smoke.sh — tests the harness itself, without mailward-milter: brings nsd + Postfix + Dovecot
# up in a namespace, delivers one DKIM-signed message over SMTP into Dovecot's Maildir, checks that
# python3-dkim still verifies the delivered copy through nsd, that SASL submission works, and tears
# everything down. Usage: stack_smoke.sh [STATE_DIR]
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"

MW_STATE="${1:-}"
unset MAILWARD_MILTER
fail() { echo "stack_smoke: FAIL: $*" >&2; exit 1; }

mw_up
work="$MW_STATE/work"; mkdir -p "$work"

# 1. Outside sender over port 25, signed by python3-dkim with the nsd-published key.
marker="smoke-$RANDOM$RANDOM"
mw_message "$work/m1.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "smoke" "$marker"
mw_dkim_sign "$work/m1.eml" "$work/m1.signed" aligned.example
mw_send "$work/m1.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$work/m1.signed" \
  || fail "swaks failed: $(mw_smtp_last "$work/m1.out")"
qid="$(mw_queue_id "$work/m1.out")"
[ -n "$qid" ] || fail "message not queued: $(mw_smtp_last "$work/m1.out")"
f="$(mw_wait_delivery "$marker" 30)" || fail "message $qid not delivered: $(mw_fate "$qid")"
echo "delivered $qid to $f"
mw_fate "$qid" | mw_has 'status=sent' || fail "postfix log has no status=sent for $qid"
grep -q "^Received: from mail.aligned.example (mail.aligned.example \[$MW_IP_GOOD\])" "$f" \
  || fail "Received header does not show client $MW_IP_GOOD with its nsd PTR name"
mw_dkim_verify "$f" | mw_has 'signature ok' || fail "dkimverify does not verify the delivered copy"

# 2. SASL submission on 587 as the test user.
marker2="smoke-sub-$RANDOM$RANDOM"
mw_message "$work/m2.eml" "Alice <$MW_USER>" "$MW_RCPT" "smoke submission" "$marker2"
mw_send "$work/m2.out" "$MW_IP_SUBMIT" client.outside.example "$MW_USER" "$MW_RCPT" "$work/m2.eml" \
  --port 587 --auth PLAIN --auth-user "$MW_USER" --auth-password "$MW_USER_PASSWORD" \
  || fail "submission failed: $(mw_smtp_last "$work/m2.out")"
mw_wait_delivery "$marker2" 30 >/dev/null || fail "submitted message not delivered"
# Without credentials the submission port refuses.
mw_send "$work/m3.out" "$MW_IP_SUBMIT" client.outside.example "$MW_USER" "$MW_RCPT" "$work/m2.eml" --port 587 \
  && fail "unauthenticated submission was accepted"
mw_smtp_last "$work/m3.out" | mw_has "^5" || fail "unauthenticated submission not refused with 5xx"

echo "stack_smoke: PASS"
