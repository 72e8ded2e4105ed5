# body_altered — a message signed by aligned.example whose body is changed after signing: the body hash
# does not match (RFC 6376 §6.1.3), so dkim=fail. DMARC then rests on SPF alone (RFC 7489 §4.2): with
# an SPF pass aligned to the From domain it passes and the message is delivered; with SPF passing for
# an unaligned MAIL FROM domain, DMARC fails and p=reject refuses it with 550 5.7.1.
m="$(marker aligned)"
mw_message "$MW_WORK/m.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "altered after signing" "$m"
mw_dkim_sign "$MW_WORK/m.eml" "$MW_WORK/m.signed" aligned.example
sed 's/covered by the DKIM body hash/changed by a mailing list footer/' "$MW_WORK/m.signed" >"$MW_WORK/m.altered"
cmp -s "$MW_WORK/m.signed" "$MW_WORK/m.altered" && fail "test bug: the body was not altered"
mw_send "$MW_WORK/m.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$MW_WORK/m.altered" || true
expect_reply "$MW_WORK/m.out" '^250 ' "altered body, SPF aligned"
f="$(mw_wait_delivery "$m" 30)" || fail "altered message with aligned SPF was not delivered"
ar="$(ar_ours "$f")"
echo "  Authentication-Results: $ar"
[[ "$ar" =~ dkim=fail[^\;]*header\.d=aligned\.example ]] || fail "expected dkim=fail header.d=aligned.example in: $ar"
[[ "$ar" =~ spf=pass ]] || fail "expected spf=pass in: $ar"
[[ "$ar" =~ dmarc=pass[^\;]*header\.from=aligned\.example ]] || fail "expected dmarc=pass (via aligned SPF) in: $ar"

# Same altered message, but the envelope sender is none.example (SPF passes for it, not aligned).
m2="$(marker unaligned)"
mw_message "$MW_WORK/u.eml" "Sender <sender@aligned.example>" "$MW_RCPT" "altered, unaligned SPF" "$m2"
mw_dkim_sign "$MW_WORK/u.eml" "$MW_WORK/u.signed" aligned.example
sed 's/covered by the DKIM body hash/changed by a mailing list footer/' "$MW_WORK/u.signed" >"$MW_WORK/u.altered"
mw_send "$MW_WORK/u.out" "$MW_IP_GOOD" mail.aligned.example bounces@none.example "$MW_RCPT" "$MW_WORK/u.altered" || true
expect_reply "$MW_WORK/u.out" '^550[ -]5\.7\.1 ' "altered body, SPF pass but unaligned (p=reject)"
if mw_wait_delivery "$m2" 3 >/dev/null; then fail "the unaligned altered message was delivered"; fi
