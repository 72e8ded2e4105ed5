# dmarc_policies — the other published policies (RFC 7489 §6.3 p=, §6.7 policy enforcement) with
# `quarantine = header`: a failing p=quarantine message is delivered with X-Mailward-Quarantine; a
# failing p=none message is delivered, dmarc=fail, without it; a domain publishing no DMARC record
# gets dmarc=none (RFC 7489 §6.6.3) and is delivered.
check() { # TITLE SRC HELO MAIL_FROM FROM_DOMAIN WANT_DMARC WANT_QUARANTINE(yes|no)
  local m f ar q
  m="$(marker "$5")"
  mw_message "$MW_WORK/$5.eml" "Sender <sender@$5>" "$MW_RCPT" "$1" "$m"
  mw_send "$MW_WORK/$5.out" "$2" "$3" "$4" "$MW_RCPT" "$MW_WORK/$5.eml" || true
  expect_reply "$MW_WORK/$5.out" '^250 ' "$1"
  f="$(mw_wait_delivery "$m" 30)" || fail "$1: not delivered"
  ar="$(ar_ours "$f")"
  echo "    Authentication-Results: $ar"
  [[ "$ar" =~ dmarc=$6[^\;]*header\.from=$5 ]] || fail "$1: expected dmarc=$6 header.from=$5 in: $ar"
  q="$(mw_header "$f" X-Mailward-Quarantine)"
  if [ "$7" = yes ]; then
    [ -n "$q" ] || fail "$1: no X-Mailward-Quarantine header"
    echo "    X-Mailward-Quarantine: $q"
  else
    [ -z "$q" ] || fail "$1: unexpected X-Mailward-Quarantine: $q"
  fi
}
check "spoofed p=quarantine sender" "$MW_IP_SPOOF" spoofer.outside.example sender@quarantine.example quarantine.example fail yes
check "spoofed p=none sender" "$MW_IP_SPOOF" spoofer.outside.example sender@none.example none.example fail no
check "sender without a DMARC record" "$MW_IP_GOOD" mail.nodmarc.example sender@nodmarc.example nodmarc.example none no
