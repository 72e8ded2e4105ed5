#!/bin/bash
# Integration test (issue 5, "Learning"): a user moves a message into Junk and back out with a real
# Dovecot IMAP server, and the shipped imapsieve scripts (packaging/imapsieve) teach mailward's Bayes
# model: spam for the user (and global) on the move in, moved to ham on the move out.
# Usage: imapsieve_test.sh MAILWARD_SPAM_DRIVER STATE_DIR
#   MAILWARD_SPAM_DRIVER: a binary that behaves like `mailward spam` (mailward-spam, until the
#   subcommand is wired); the shipped pipe programs are copied with `mailward spam` replaced by it.
# Needs root (network namespace); fails, saying why, when something is missing.
set -euo pipefail
DRIVER=$(realpath "$1")
export MW_STATE=$2
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)
# shellcheck source=../lib/stack.sh
. "$SRC/tests/integration/lib/stack.sh"
[ -x "$DRIVER" ] || mw_die "no driver binary $DRIVER"
command -v sievec >/dev/null || mw_die "sievec (dovecot-sieve) missing"

# Dovecot with imapsieve and the shipped scripts, appended to the harness's configuration.
eval "mw_orig_$(declare -f mw_dovecot_write)"
mw_dovecot_write() {
  mw_orig_mw_dovecot_write
  local d="$S/imapsieve"
  mkdir -p "$d" "$S/bayes"
  cp "$SRC/packaging/imapsieve/report-spam.sieve" "$SRC/packaging/imapsieve/report-ham.sieve" "$d/"
  for p in mailward-learn-spam mailward-learn-ham; do
    sed -e "s#^exec mailward spam learn \(.*\)\$#exec $DRIVER learn --state $S/bayes/state.mdb \1 >>$S/bayes/learn.log 2>\&1#" \
        "$SRC/packaging/imapsieve/$p" > "$d/$p"
    grep -q "^exec $DRIVER learn --state .* >>$S/bayes/learn.log" "$d/$p" || mw_die "could not adapt $p"
    chmod 0755 "$d/$p"
  done
  chown -R 65534:65534 "$S/bayes"
  sed -e "s|/usr/lib/mailward/imapsieve|$d|g" "$SRC/packaging/imapsieve/90-mailward-imapsieve.conf" \
    >> "$MW_DOVECOT_CONF"
  sievec -c "$MW_DOVECOT_CONF" "$d/report-spam.sieve" || mw_die "sievec report-spam.sieve failed"
  sievec -c "$MW_DOVECOT_CONF" "$d/report-ham.sieve" || mw_die "sievec report-ham.sieve failed"
}

mw_up

imap() {  # python imaplib as alice: ACTION
  ns "$MW_PYTHON" - "$MW_IP_DOVECOT" "$MW_USER" "$MW_USER_PASSWORD" "$1" <<'PY'
import imaplib, sys, time
host, user, pw, action = sys.argv[1:5]
m = imaplib.IMAP4(host, 143)
m.login(user, pw)
if action == "setup":
    m.create("Junk")
    msg = (b"From: Prize Desk <win@lottery.example>\r\nTo: alice@mailward.example\r\n"
           b"Subject: You won the lottery\r\nMessage-ID: <imapsieve-1@lottery.example>\r\n\r\n"
           b"Claim your free casino bonus money now, click here.\r\n")
    typ, _ = m.append("INBOX", None, None, msg)
    assert typ == "OK", typ
elif action in ("to_junk", "from_junk"):
    src, dst = ("INBOX", "Junk") if action == "to_junk" else ("Junk", "INBOX")
    m.select(src)
    typ, data = m.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    assert len(uids) == 1, (src, uids)
    typ, data = m.uid("MOVE", uids[0], dst)
    assert typ == "OK", (typ, data)
m.logout()
PY
}

wait_log() {  # PATTERN
  for _ in $(seq 1 50); do
    grep -q "$1" "$S/bayes/learn.log" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "FAIL: '$1' not in learn.log:"; cat "$S/bayes/learn.log" 2>/dev/null || true
  ls -la "$S/bayes" "$S/imapsieve" || true; grep -iE "sieve|imap|error|pipe" "$MW_LOGS"/dovecot.* | tail -20 || true
  exit 1
}

imap setup
imap to_junk
wait_log "learned: 1 spam, 0 ham .*model user $MW_USER: 1 spam, 0 ham"
imap from_junk
wait_log "learned: 0 spam, 1 ham (moved from the other class: 1).*model user $MW_USER: 0 spam, 1 ham"
echo "PASS: Junk move taught spam, moving back out relearned it as ham"
cat "$S/bayes/learn.log"
