# forged_ar — Authentication-Results fields that claim our authserv-id arrive from outside: they are
# removed before delivery (RFC 8601 §5), whether on one line or folded, and ours is the only one with
# that id; a field from another authserv-id is kept untouched.
m="$(marker m)"
extra="Authentication-Results: $MW_AUTHSERV_ID; spf=pass smtp.mailfrom=forged-one.example; dkim=pass header.d=forged-one.example; dmarc=pass header.from=forged-one.example
Authentication-Results:
 $MW_AUTHSERV_ID;
 dkim=pass header.d=forged-folded.example
Authentication-Results: other-receiver.example; spf=pass smtp.mailfrom=kept-by-design.example"
mw_message "$MW_WORK/m.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "forged results" "$m" "$extra"
mw_send "$MW_WORK/m.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$MW_WORK/m.eml" || true
expect_reply "$MW_WORK/m.out" '^250 ' "message with forged Authentication-Results"
f="$(mw_wait_delivery "$m" 30)" || fail "not delivered"
all="$(mw_header "$f" Authentication-Results)"
printf '%s\n' "$all" | sed 's/^/  Authentication-Results: /'
grep -q 'forged-one.example' "$f" && fail "the forged one-line Authentication-Results with our authserv-id was kept"
grep -q 'forged-folded.example' "$f" && fail "the forged folded Authentication-Results with our authserv-id was kept"
printf '%s\n' "$all" | grep -q '^other-receiver.example; spf=pass smtp.mailfrom=kept-by-design.example$' \
  || fail "the Authentication-Results of another authserv-id was not kept verbatim"
ours="$(ar_ours "$f")"
[ "$(printf '%s\n' "$ours" | grep -c .)" -eq 1 ] || fail "expected exactly one field with our authserv-id, got: '$ours'"
[[ "$ours" =~ dmarc=pass ]] || fail "our own field should say dmarc=pass (aligned SPF): $ours"
