# aligned_pass — an outside domain (p=reject) sends from an SPF-authorised address, DKIM-signed by
# python3-dkim: accepted, and the delivered copy carries exactly one Authentication-Results field of
# ours saying spf=pass, dkim=pass (header.d), dmarc=pass (header.from) — RFC 8601 §2.7, RFC 7489 §11.2.
m="$(marker m)"
mw_message "$MW_WORK/m.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "aligned and signed" "$m"
mw_dkim_sign "$MW_WORK/m.eml" "$MW_WORK/m.signed" aligned.example
mw_send "$MW_WORK/m.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$MW_WORK/m.signed" || true
expect_reply "$MW_WORK/m.out" '^250 ' "aligned, signed message"
f="$(mw_wait_delivery "$m" 30)" || fail "accepted but not delivered within 30 s"
ar="$(ar_ours "$f")"
echo "  Authentication-Results: $ar"
[ "$(printf '%s\n' "$ar" | grep -c .)" -eq 1 ] || fail "expected exactly one Authentication-Results with authserv-id $MW_AUTHSERV_ID, got: '$ar'"
re_spf='(^|[ ;])spf=pass([ ;]|$)'
[[ "$ar" =~ $re_spf ]] || fail "no spf=pass in: $ar"
[[ "$ar" =~ smtp\.mailfrom=(sender@)?aligned\.example ]] || fail "no smtp.mailfrom=...aligned.example in: $ar"
[[ "$ar" =~ dkim=pass[^\;]*header\.d=aligned\.example ]] || fail "no dkim=pass with header.d=aligned.example in: $ar"
[[ "$ar" =~ dmarc=pass[^\;]*header\.from=aligned\.example ]] || fail "no dmarc=pass with header.from=aligned.example in: $ar"
