# dns_down — nsd is stopped: SPF and DMARC cannot be evaluated (temperror, RFC 7208 §2.6.6, RFC 7489
# §6.6.3 "retry later"), so the message must get a 4xx temporary failure, never a 5xx and never a
# guess. Uses dnsdown.example, a domain no earlier scenario asked about, so no cached answer helps.
trap 'mw_nsd_start >/dev/null 2>&1 || echo "scenario dns_down: could not restart nsd" >&2' EXIT
mw_nsd_stop
m="$(marker m)"
mw_message "$MW_WORK/m.eml" "Sender <sender@dnsdown.example>" "$MW_RCPT" "while DNS is down" "$m"
mw_dkim_sign "$MW_WORK/m.eml" "$MW_WORK/m.signed" dnsdown.example
mw_send "$MW_WORK/m.out" "$MW_IP_GOOD" mail.dnsdown.example sender@dnsdown.example "$MW_RCPT" "$MW_WORK/m.signed" || true
if mw_smtp_replies "$MW_WORK/m.out" | grep -qE '^5[0-9][0-9]'; then
  fail "a 5xx was returned while DNS was down: $(mw_smtp_replies "$MW_WORK/m.out" | grep -E '^5' | head -1)"
fi
expect_reply "$MW_WORK/m.out" '^4[0-9][0-9][ -]' "message while nsd is stopped"
if mw_wait_delivery "$m" 2 >/dev/null; then fail "the message was delivered without DNS answers"; fi
