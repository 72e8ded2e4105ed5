# sasl_signed — the test user submits on port 587 with SASL, From the local domain: mailward signs it
# (outgoing: authenticated, RFC 6376 §5) with the configured key, and python3-dkim — an independent
# implementation — verifies that signature against the key nsd publishes.
m="$(marker m)"
mw_message "$MW_WORK/m.eml" "Alice <$MW_USER>" "$MW_RCPT" "signed on the way out" "$m"
mw_send "$MW_WORK/m.out" "$MW_IP_SUBMIT" client.outside.example "$MW_USER" "$MW_RCPT" "$MW_WORK/m.eml" \
  --port 587 --auth PLAIN --auth-user "$MW_USER" --auth-password "$MW_USER_PASSWORD" || true
expect_reply "$MW_WORK/m.out" '^250 ' "SASL submission"
f="$(mw_wait_delivery "$m" 30)" || fail "submitted message not delivered"
sig="$(mw_header "$f" DKIM-Signature)"
[ -n "$sig" ] || fail "the submitted message was not DKIM-signed"
echo "  DKIM-Signature: ${sig:0:110}..."
[ "$(printf '%s\n' "$sig" | grep -c .)" -eq 1 ] || fail "expected one DKIM-Signature, got $(printf '%s\n' "$sig" | grep -c .)"
re_d='(^|[; ])d=mailward\.example(;|$)'
re_s="(^|[; ])s=$MW_SIGN_SELECTOR(;|\$)"
[[ "$sig" =~ $re_d ]] || fail "signature is not d=mailward.example: $sig"
[[ "$sig" =~ $re_s ]] || fail "signature is not s=$MW_SIGN_SELECTOR: $sig"
v="$(mw_dkim_verify "$f" 2>&1)" || true
echo "  dkimverify: $v"
[[ "$v" == *"signature ok"* ]] || fail "python3-dkim does not verify mailward's signature: $v"
