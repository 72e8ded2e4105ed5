# spf_fail_reject — an unsigned message claiming aligned.example (p=reject, SPF -all) sent from an
# address its SPF record does not list: SPF fails, DMARC fails (RFC 7489 §6.6.2, no aligned pass), and
# the policy is applied at the SMTP level (RFC 7489 §6.7, §10.3): 550 5.7.1 with a readable reason;
# nothing is delivered.
m="$(marker m)"
mw_message "$MW_WORK/m.eml" "Bank <security@aligned.example>" "$MW_RCPT" "Please verify your account" "$m"
mw_send "$MW_WORK/m.out" "$MW_IP_SPOOF" spoofer.outside.example security@aligned.example "$MW_RCPT" "$MW_WORK/m.eml" && \
  fail "swaks reported success for a spoofed p=reject sender: $(mw_smtp_last "$MW_WORK/m.out")"
expect_reply "$MW_WORK/m.out" '^550[ -]5\.7\.1 ' "spoofed p=reject sender"
reason="$(mw_smtp_last "$MW_WORK/m.out" | sed -E 's/^550[ -]5\.7\.1 //')"
# Readable: says which domain's policy refused it, in words (not just a code).
[[ "$reason" == *aligned.example* ]] || fail "reject reason does not name the domain: '$reason'"
[ "$(printf '%s' "$reason" | wc -w)" -ge 3 ] || fail "reject reason is not a readable sentence: '$reason'"
qid="$(mw_qid_of_marker "$m")" || fail "no cleanup log line for the message (Message-ID <$m@...>)"
fate="$(mw_fate "$qid" | grep 'milter-reject' || true)"
[[ "$fate" == *"5.7.1"* ]] || fail "postfix log has no milter-reject 5.7.1 line for $qid: $(mw_fate "$qid")"
echo "  postfix log: ${fate#*: }"
if mw_wait_delivery "$m" 3 >/dev/null; then fail "the rejected message was delivered anyway"; fi
