#!/usr/bin/env bash
# spam_test.sh STATE_DIR — spam scoring in mailward-milter through real Postfix, nsd and Dovecot.
#
# Brings up its own stack (lib/stack.sh) with two DNS blocklist zones added to nsd —
#   bl.example     lists the client 127.0.0.30 (30.0.0.127.bl.example A 127.0.0.2)
#   uribl.example  lists the URL domain listed-host.example
# — and a [spam] section added to the milter's configuration (check_loopback = yes: the stack's
# clients are 127.0.0.x, which are otherwise never looked up). Then:
#   1. GTUBE                          -> 550 5.7.1 with a reason naming GTUBE, nothing delivered;
#   2. a client listed in bl.example  -> delivered, X-Spam-Flag: YES, X-Spam-Status: Yes ... RCVD_IN_BL_EXAMPLE;
#   3. a clean, aligned, DKIM-signed message carrying forged X-Spam-Flag / X-Spam-Status fields
#                                     -> delivered, no X-Spam-Flag, one X-Spam-Status "No, ...", score shown;
#   4. a URL under a listed domain    -> URIBL_URIBL_EXAMPLE named in X-Spam-Status.
# Needs root; missing prerequisites are failures, never skips.
set -Eeuo pipefail
trap 'echo "spam: FAIL: unexpected failure of \"$BASH_COMMAND\" (line $LINENO)" >&2' ERR
. "$(dirname "$0")/../lib/stack.sh"
[ -n "${MAILWARD_MILTER:-}" ] || mw_die "spam_test.sh: MAILWARD_MILTER is not set"
[ -n "${1:-}" ] || mw_die "usage: spam_test.sh STATE_DIR"
MW_STATE="$1"

# --- the stack, extended (stack.sh stays untouched: its functions are wrapped) --------------------
eval "mw_base_zones_write() $(declare -f mw_zones_write | tail -n +2)"
mw_zones_write() {
  mw_base_zones_write
  { mw_zone_header bl.example
    echo "30.0.0.127 IN A 127.0.0.2"
    echo "30.0.0.127 IN TXT \"listed by the mailward spam test\""; } >"$MW_ZONES/bl.example.zone"
  { mw_zone_header uribl.example
    echo "listed-host.example IN A 127.0.0.2"; } >"$MW_ZONES/uribl.example.zone"
  local z
  for z in bl.example uribl.example; do
    printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z" >>"$S/nsd.conf"
  done
  nsd-checkconf "$S/nsd.conf" >/dev/null || mw_die "nsd-checkconf rejected $S/nsd.conf with the DNSBL zones"
}
eval "mw_base_milter_write() $(declare -f mw_milter_write | tail -n +2)"
mw_milter_write() {
  mw_base_milter_write
  cat >>"$MW_MILTER_CONF" <<CONF
[spam]
enabled = yes
required_score = 5.0
reject_score = 15
client_zones = bl.example:6.0
uri_zones = uribl.example:2.5
check_loopback = yes
CONF
}

failures=0
fail() {
  echo "spam: FAIL: $*" >&2
  echo "--- last milter log lines ($MW_MILTER_LOG):" >&2; tail -15 "$MW_MILTER_LOG" >&2 2>/dev/null || true
  echo "--- last postfix mx log lines:" >&2; tail -10 "$MW_PF_MX_LOG" >&2 2>/dev/null || true
  failures=$((failures + 1))
}
marker() { echo "spam-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; }
# message OUT FROM SUBJECT MARKER BODY [EXTRA_HEADER_LINES]: CRLF message carrying MARKER.
message() {
  local out="$1" from="$2" subject="$3" m="$4" body="$5" extra="${6:-}"
  {
    [ -z "$extra" ] || printf '%s\n' "$extra"
    printf 'From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@mailward.test-harness>\n' \
      "$from" "$MW_RCPT" "$subject" "$(LC_ALL=C date -R)" "$m"
    printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
    printf 'Marker %s.\n%s\n' "$m" "$body"
  } | sed 's/$/\r/' >"$out"
}
last_reply() { mw_smtp_last "$1"; }

mw_up
W="$MW_STATE/work"; mkdir -p "$W"

# 1. GTUBE: rejected at end of DATA with a reason a person can read.
m="$(marker gtube)"
message "$W/gtube.eml" "Sender <sender@aligned.example>" "gtube" "$m" \
  'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
mw_send "$W/gtube.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$W/gtube.eml" || true
r="$(last_reply "$W/gtube.out")"
echo "  1. GTUBE: $r"
[[ "$r" =~ ^550[\ -]5\.7\.1\ Message\ rejected\ as\ spam\ \(score\ 1[0-9]{3}\.[0-9],\ limit\ 15\.0\):\ GTUBE ]] \
  || fail "GTUBE: expected '550 5.7.1 Message rejected as spam (score ...): GTUBE ...', got '$r'"
sleep 1
mw_wait_delivery "$m" 1 >/dev/null && fail "GTUBE message was delivered"

# 2. A client listed in the DNSBL: flagged, the DNSBL rule named.
m="$(marker listed)"
message "$W/listed.eml" "Someone <someone@nodmarc.example>" "hello from a listed host" "$m" "Just a note."
mw_send "$W/listed.out" "$MW_IP_SPOOF" spoofer.outside.example someone@nodmarc.example "$MW_RCPT" "$W/listed.eml" || true
r="$(last_reply "$W/listed.out")"
echo "  2. listed client: $r"
[[ "$r" =~ ^250 ]] || fail "listed client: expected 250, got '$r'"
if f="$(mw_wait_delivery "$m" 30)"; then
  status="$(mw_header "$f" X-Spam-Status)"; flag="$(mw_header "$f" X-Spam-Flag)"; score="$(mw_header "$f" X-Spam-Score)"
  echo "     X-Spam-Status: $status | X-Spam-Flag: $flag | X-Spam-Score: $score"
  [[ "$status" =~ ^Yes,\ score=[0-9]+\.[0-9]\ required=5\.0\ tests=.*RCVD_IN_BL_EXAMPLE ]] \
    || fail "listed client: X-Spam-Status should be 'Yes, ... tests=...RCVD_IN_BL_EXAMPLE...', got '$status'"
  [ "$flag" = YES ] || fail "listed client: X-Spam-Flag should be YES, got '$flag'"
else
  fail "listed client: not delivered within 30 s"
fi

# 3. Clean, aligned and DKIM-signed, with forged X-Spam-* fields from outside.
m="$(marker clean)"
message "$W/clean.eml" "Sender <sender@aligned.example>" "Lunch on Friday" "$m" "See you at noon." \
  "X-Spam-Flag: YES
X-Spam-Status: Yes, score=99.0 required=5.0 tests=FORGED_BY_SENDER"
mw_dkim_sign "$W/clean.eml" "$W/clean.signed" aligned.example
mw_send "$W/clean.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$W/clean.signed" || true
r="$(last_reply "$W/clean.out")"
echo "  3. clean aligned: $r"
[[ "$r" =~ ^250 ]] || fail "clean: expected 250, got '$r'"
if f="$(mw_wait_delivery "$m" 30)"; then
  status="$(mw_header "$f" X-Spam-Status)"; flag="$(mw_header "$f" X-Spam-Flag)"; score="$(mw_header "$f" X-Spam-Score)"
  echo "     X-Spam-Status: $status | X-Spam-Flag: '$flag' | X-Spam-Score: $score"
  [ -z "$flag" ] || fail "clean: X-Spam-Flag should be absent (the forged one removed), got '$flag'"
  [ "$(printf '%s\n' "$status" | grep -c .)" -eq 1 ] || fail "clean: expected exactly one X-Spam-Status, got '$status'"
  [[ "$status" =~ ^No,\ score=-?[0-9]+\.[0-9]\ required=5\.0\ tests=.*DKIM_VALID_ALIGNED ]] \
    || fail "clean: X-Spam-Status should be 'No, ... tests=...DKIM_VALID_ALIGNED...', got '$status'"
  grep -q FORGED_BY_SENDER "$f" && fail "clean: the forged X-Spam-Status was kept"
  [[ "$score" =~ ^-?[0-9]+\.[0-9]$ ]] || fail "clean: X-Spam-Score should be a number, got '$score'"
else
  fail "clean: not delivered within 30 s"
fi

# 4. A URL whose registrable domain is on the URI blocklist.
m="$(marker uri)"
message "$W/uri.eml" "Sender <sender@aligned.example>" "a link" "$m" "Look: http://www.listed-host.example/offer"
mw_send "$W/uri.out" "$MW_IP_GOOD" mail.aligned.example sender@aligned.example "$MW_RCPT" "$W/uri.eml" || true
r="$(last_reply "$W/uri.out")"
echo "  4. listed URL: $r"
[[ "$r" =~ ^250 ]] || fail "uri: expected 250, got '$r'"
if f="$(mw_wait_delivery "$m" 30)"; then
  status="$(mw_header "$f" X-Spam-Status)"
  echo "     X-Spam-Status: $status"
  [[ "$status" =~ tests=.*URIBL_URIBL_EXAMPLE ]] || fail "uri: X-Spam-Status should name URIBL_URIBL_EXAMPLE, got '$status'"
else
  fail "uri: not delivered within 30 s"
fi

echo "--- milter log (spam lines):"; grep -E 'spam' "$MW_MILTER_LOG" | tail -8 || true
[ "$failures" -eq 0 ] || { echo "spam: FAIL ($failures checks failed)" >&2; exit 1; }
echo "spam: PASS"
