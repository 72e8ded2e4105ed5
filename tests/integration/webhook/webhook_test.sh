#!/usr/bin/env bash
# webhook_test.sh — the Sieve extension vnd.mailward.webhook through the real thing: Debian's Dovecot
# (private config, LMTP) loads lib90_sieve_mailward_plugin.so, a user script notifies, and the spool
# the plugin writes is checked. Brings the harness stack up without the milter and delivers straight
# to Dovecot's LMTP listener.
#
#   1. one LMTP delivery -> exactly one event file in SPOOL/new with the right content (a second
#      webhook call to the same target collapsed), mode 0640, unreadable by another user; the
#      message itself is in the Maildir
#   2. fileinto: the event names the mailbox the message went to
#   3. a target from a variable that is not configured, and one whose users list excludes bob, are
#      skipped with warnings; per-message limit: three distinct targets with limit 2 -> two events
#   3b. :url kept only when the target allows it, snippet only when the target asks for one
#   4. sievec (as the mail uid) rejects bad webhook calls with clear messages and their lines
#   5. spool unwritable -> the message is still delivered, the failure is logged with path + errno
#   6. broken mailward.conf -> error logged, extension unavailable, the message still delivered
#
# Usage: webhook_test.sh PLUGIN_SO [STATE_DIR]
set -euo pipefail
. "$(dirname "$0")/../lib/stack.sh"

PLUGIN="${1:-}"
MW_STATE="${2:-}"
unset MAILWARD_MILTER
fail() { echo "webhook_test: FAIL: $*" >&2; exit 1; }

[ -n "$PLUGIN" ] && [ -f "$PLUGIN" ] || fail "plugin not built: '${PLUGIN}' (build target sieve_mailward_plugin)"
for c in sievec setpriv swaks python3; do
  command -v "$c" >/dev/null 2>&1 || fail "missing command $c (dovecot-sieve, util-linux, swaks, python3)"
done

MAIL_UID=65534   # the harness's userdb gives every user uid/gid 65534
OTHER_UID=1      # "daemon": stands for any other local user

# Extend the harness's Dovecot config (stack.sh is not edited): the plugin, its extension and the
# mailward configuration it reads, appended to the generated dovecot.conf before Dovecot starts.
eval "mw_webhook_orig_dovecot_write() $(declare -f mw_dovecot_write | tail -n +2)"
mw_dovecot_write() {
  mw_webhook_orig_dovecot_write
  WH="$S/webhook"
  SPOOL="$WH/spool"
  MWCONF="$WH/mailward.conf"
  mkdir -p "$WH/plugins" "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/dead"
  cp "$PLUGIN" "$WH/plugins/"
  chmod 0755 "$WH" "$WH/plugins"; chmod 0644 "$WH/plugins/"*
  # Spool as documented in the README: directories group-owned by the group the mail user shares
  # with notifyd (here nogroup, gid 65534), setgid, no access for others. No slots/ on purpose: this
  # test covers the event files (the plugin's fallback, and what every check below reads); the
  # slots are covered by tests/integration/notify_e2e with notifyd.
  chown root:65534 "$SPOOL" "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/dead"
  chmod 2770 "$SPOOL/tmp" "$SPOOL/new" "$SPOOL/dead"
  chmod 0750 "$SPOOL"
  mw_webhook_config 2
  cat >>"$MW_DOVECOT_CONF" <<EOF
# mailward webhook integration test (appended)
plugin {
  sieve_plugin_dir = $WH/plugins
  sieve_plugins = sieve_mailward
  sieve_extensions = +vnd.mailward.webhook
  mailward_config = $MWCONF
}
EOF
}

# mw_webhook_config LIMIT: the administrator's targets (notifyd settings do not matter here).
mw_webhook_config() {
  cat >"$MWCONF.new" <<EOF
[notify]
spool = $SPOOL
per_message_limit = $1
[target.phone]
url = https://ntfy.example/mailward
format = ntfy
users = *
[target.chat]
url = https://chat.example/hooks/abc
format = slack
users = @$MW_LOCAL_DOMAIN
allow_user_url = yes
url_hosts = hooks.example.net
snippet = 30
[target.ops]
url = https://ops.example/hook
users = *
[target.boss]
url = https://boss.example/hook
users = carol@$MW_LOCAL_DOMAIN
EOF
  chmod 0644 "$MWCONF.new"
  mv "$MWCONF.new" "$MWCONF"
}

mw_up
work="$MW_STATE/work"; mkdir -p "$work"; chmod 0755 "$work"
home="$MW_MAIL/${MW_RCPT#*@}/${MW_RCPT%@*}"

# install_script NAME: the user's active script (sieve = file:~/sieve;active=~/.dovecot.sieve).
install_script() {
  mkdir -p "$home/sieve"
  cp "$work/$1.sieve" "$home/sieve/$1.sieve"
  ln -sfn "sieve/$1.sieve" "$home/.dovecot.sieve"
  chown -R "$MAIL_UID:$MAIL_UID" "$MW_MAIL"
}

# lmtp MARKER SUBJECT: deliver one message to bob over LMTP; fails unless Dovecot answers 250.
lmtp() {
  local marker="$1" subject="$2"
  mw_message "$work/$marker.eml" "Alice Sender <alice@aligned.example>" "Bob <$MW_RCPT>" "$subject" "$marker"
  ns swaks --protocol LMTP --server "$MW_IP_DOVECOT" --port 24 --local-interface "$MW_IP_GOOD" \
    --helo mail.aligned.example --from alice@aligned.example --to "$MW_RCPT" \
    --data "@$work/$marker.eml" --timeout 60 >"$work/$marker.out" 2>&1 \
    || fail "LMTP delivery of $marker failed: $(mw_smtp_last "$work/$marker.out")"
  mw_smtp_replies "$work/$marker.out" | mw_has "^250 .*Saved" \
    || fail "LMTP did not answer 250 Saved for $marker: $(mw_smtp_replies "$work/$marker.out" | tail -2)"
  delivered "$marker" || fail "message $marker is not in bob's Maildir"
}

# delivered MARKER: true once a message carrying MARKER is in any folder of bob's Maildir.
delivered() {
  local i
  for i in $(seq 1 50); do
    grep -rlF -- "$1" "$home/Maildir" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

events() { find "$SPOOL/new" -maxdepth 1 -name '*.json' -newer "$1" | sort; }
log_has() { grep -F -- "$1" "$MW_LOGS/dovecot.log" >/dev/null; }

# --- 1. one delivery, one event -----------------------------------------------------------------
cat >"$work/main.sieve" <<'EOF'
require ["vnd.mailward.webhook", "variables", "fileinto", "mailbox"];
if header :matches "subject" "*" { set "subject" "${1}"; }
if header :contains "subject" "[alert]" { fileinto :create "Alerts"; }
webhook :title "New mail" :message "${subject}" :priority "high"
        :field "account" "work" :field "n" "${subject}" "phone";
webhook :title "collapsed into the first call" "phone";
EOF
install_script main
touch "$work/t1"; sleep 1.1
lmtp "wh1-$RANDOM$RANDOM" "Hello from Alice"
mapfile -t ev < <(events "$work/t1")
[ "${#ev[@]}" -eq 1 ] || fail "expected exactly 1 event file after one delivery, found ${#ev[@]}: ${ev[*]:-} (log: $(tail -5 "$MW_LOGS/dovecot.log"))"
f="${ev[0]}"
python3 - "$f" "$MW_RCPT" <<'EOF' || fail "event content wrong: $(cat "$f")"
import json, re, sys
e = json.load(open(sys.argv[1]))
want = {
    "version": 1, "user": sys.argv[2], "mailbox": "INBOX", "target": "phone",
    "envelope_from": "alice@aligned.example", "header_from": "Alice Sender <alice@aligned.example>",
    "to": "Bob <%s>" % sys.argv[2], "subject": "Hello from Alice", "title": "New mail",
    "message": "Hello from Alice", "priority": "high",
    "fields": [{"name": "account", "value": "work"}, {"name": "n", "value": "Hello from Alice"}],
}
bad = [f"{k}: {e.get(k)!r} != {v!r}" for k, v in want.items() if e.get(k) != v]
if not re.fullmatch(r"[0-9a-f]{32}", e.get("id", "")): bad.append("id %r" % e.get("id"))
if not re.fullmatch(r"<wh1-[0-9]+@mailward.test-harness>", e.get("message_id", "")): bad.append("message_id %r" % e.get("message_id"))
if not (isinstance(e.get("size"), int) and e["size"] > 200): bad.append("size %r" % e.get("size"))
if "url" in e or "snippet" in e: bad.append("url/snippet present without being asked for")
if bad: print("\n".join(bad), file=sys.stderr); sys.exit(1)
EOF
[ "$(stat -c %a "$f")" = 640 ] || fail "event file mode is $(stat -c %a "$f"), want 640"
if setpriv --reuid="$OTHER_UID" --regid="$OTHER_UID" --clear-groups cat "$f" >/dev/null 2>&1; then
  fail "another user (uid $OTHER_UID) can read the event file $f"
fi
[ -z "$(ls -A "$SPOOL/tmp")" ] || fail "files left in $SPOOL/tmp: $(ls -A "$SPOOL/tmp")"
log_has "queued notification" || fail "dovecot.log does not show the queued notification"
echo "1. one delivery -> one event: ok ($f)"

# --- 2. fileinto: the event names the mailbox ---------------------------------------------------
touch "$work/t2"; sleep 1.1
marker2="wh2-$RANDOM$RANDOM"
lmtp "$marker2" "[alert] disk full"
mapfile -t ev < <(events "$work/t2")
[ "${#ev[@]}" -eq 1 ] || fail "fileinto case: expected 1 event, found ${#ev[@]}"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); sys.exit(0 if e["mailbox"]=="Alerts" else 1)' "${ev[0]}" \
  || fail "fileinto case: mailbox is not Alerts: $(cat "${ev[0]}")"
grep -rlF "$marker2" "$home/Maildir/.Alerts" >/dev/null 2>&1 || fail "fileinto case: message not in .Alerts"
echo "2. fileinto -> mailbox Alerts: ok"

# --- 3. per-message limit -----------------------------------------------------------------------
cat >"$work/limit.sieve" <<'EOF'
require ["vnd.mailward.webhook", "variables"];
set "t" "nosuch";
webhook "${t}";
webhook "boss";
webhook "phone";
webhook "chat";
webhook "phone";
webhook "ops";
EOF
install_script limit
touch "$work/t3"; sleep 1.1
lmtp "wh3-$RANDOM$RANDOM" "limit"
mapfile -t ev < <(events "$work/t3")
[ "${#ev[@]}" -eq 2 ] || fail "limit 2 with targets phone, chat, phone, ops: expected 2 events, found ${#ev[@]}"
got="$(for x in "${ev[@]}"; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"])' "$x"; done | sort | tr '\n' ' ')"
[ "$got" = "chat phone " ] || fail "limit case: targets are '$got', want 'chat phone '"
# A runtime warning of a user script goes to the user's Sieve log (Pigeonhole's sieve_user_log,
# default ~/.dovecot.sieve.log), where the script's author sees it.
grep -qF 'per-message limit of 2 notifications reached; notification to target "ops" dropped' \
  "$home/.dovecot.sieve.log" 2>/dev/null \
  || fail "no warning about the per-message limit in $home/.dovecot.sieve.log: $(cat "$home/.dovecot.sieve.log" 2>&1)"
grep -qF 'webhook: unknown target "nosuch"; no notification' "$home/.dovecot.sieve.log" \
  || fail "no warning about the unknown target built from a variable"
grep -qF 'webhook: target "boss" is not available to this user; no notification' "$home/.dovecot.sieve.log" \
  || fail "no warning about the target whose users list excludes bob"
echo "3. unknown/forbidden targets skipped with warnings; limit 2 -> phone + chat, ops dropped with a warning: ok"

# --- 3b. user URL and snippet ----------------------------------------------------------------
cat >"$work/url.sieve" <<'EOF'
require ["vnd.mailward.webhook"];
webhook :url "https://hooks.example.net/mine" "chat";
webhook :url "https://hooks.example.net/x" "phone";
EOF
install_script url
touch "$work/t3b"; sleep 1.1
marker3b="wh3b-$RANDOM$RANDOM"
lmtp "$marker3b" "url and snippet"
mapfile -t ev < <(events "$work/t3b")
[ "${#ev[@]}" -eq 2 ] || fail "url case: expected 2 events, found ${#ev[@]}"
python3 - "$marker3b" "${ev[@]}" <<'EOF' || fail "url/snippet content wrong: $(cat "${ev[@]}")"
import json, sys
marker, files = sys.argv[1], sys.argv[2:]
events = {e["target"]: e for e in (json.load(open(f)) for f in files)}
chat, phone = events["chat"], events["phone"]
bad = []
if chat.get("url") != "https://hooks.example.net/mine": bad.append("chat url %r" % chat.get("url"))
want = ("Test message %s. This line is covered" % marker)[:30].rstrip()
if chat.get("snippet") != want: bad.append("chat snippet %r != %r" % (chat.get("snippet"), want))
if "url" in phone: bad.append("phone kept a user URL its target does not allow")
if "snippet" in phone: bad.append("phone has a snippet it did not ask for")
if bad: print("\n".join(bad), file=sys.stderr); sys.exit(1)
EOF
log_has 'ignored :url for target "phone": the target does not allow user URLs' \
  || fail "no warning about the refused user URL in dovecot.log"
echo "3b. :url kept only where allowed, snippet only where asked: ok"

# --- 4. sievec rejects bad calls ----------------------------------------------------------------
cat >"$work/bad.sieve" <<'EOF'
require ["vnd.mailward.webhook"];
webhook :priority "urgent" "phone";
webhook :field "two words" "v" "phone";
webhook "nosuch";
webhook :title 5 "phone";
webhook :colour "red" "phone";
webhook :title "a" :title "b" "phone";
EOF
cp "$work/main.sieve" "$work/good.sieve"
chmod 0644 "$work"/*.sieve
as_mail_user() { setpriv --reuid="$MAIL_UID" --regid="$MAIL_UID" --clear-groups "$@"; }
if as_mail_user sievec -c "$MW_DOVECOT_CONF" "$work/bad.sieve" "$work/bad.out.svbin" >"$work/sievec.bad" 2>&1; then
  fail "sievec accepted the bad script"
fi
for want in \
  'line 2: error: invalid :priority value for the webhook command: "urgent" (expected "low", "normal" or "high")' \
  'line 3: error: invalid :field name for the webhook command: "two words"' \
  'line 4: error: unknown webhook target "nosuch" (configured targets: phone, chat, ops, boss)' \
  'line 5: error: the :title tag for the webhook command requires a string as parameter, but a number was found' \
  "line 6: error: unknown tagged argument ':colour' for the webhook command" \
  'line 7: error: encountered duplicate :title argument for the webhook command'; do
  grep -qF -- "$want" "$work/sievec.bad" || fail "sievec output lacks: $want
--- sievec said:
$(cat "$work/sievec.bad")"
done
as_mail_user sievec -c "$MW_DOVECOT_CONF" "$work/good.sieve" "$work/good.out.svbin" >"$work/sievec.good" 2>&1 \
  || fail "sievec rejected the good script: $(cat "$work/sievec.good")"
echo "4. sievec rejects bad calls with their lines, accepts the good script: ok"

# --- 5. spool unwritable: delivered anyway, failure logged --------------------------------------
install_script main
chmod 0500 "$SPOOL/tmp"
touch "$work/t5"; sleep 1.1
lmtp "wh5-$RANDOM$RANDOM" "spool down"
chmod 2770 "$SPOOL/tmp"
mapfile -t ev < <(events "$work/t5")
[ "${#ev[@]}" -eq 0 ] || fail "an event appeared although the spool was not writable"
grep -F "failed to write notification event for target \"phone\" into spool $SPOOL" "$MW_LOGS/dovecot.log" \
  | mw_has -F "$SPOOL/tmp/" || fail "no error naming the spool path in dovecot.log"
grep -F "failed to write notification event" "$MW_LOGS/dovecot.log" | mw_has -F "Permission denied" \
  || fail "the logged failure does not give the errno text"
echo "5. spool unwritable -> delivered, failure logged with path and errno: ok"

# --- 6. broken configuration: delivered anyway, extension unavailable -------------------------
printf '[target.phone]\nurl = https://ntfy.example/x\nformat = carrier-pigeon\n' >"$MWCONF"
touch "$work/t6"; sleep 1.1
lmtp "wh6-$RANDOM$RANDOM" "config broken"
mapfile -t ev < <(events "$work/t6")
[ "${#ev[@]}" -eq 0 ] || fail "an event was written with a broken configuration"
log_has "invalid mailward configuration: $MWCONF:3" || fail "the broken config is not logged with file:line"
log_has "extension vnd.mailward.webhook is unavailable" || fail "no log line saying the extension is unavailable"
if as_mail_user sievec -c "$MW_DOVECOT_CONF" "$work/good.sieve" "$work/good2.svbin" >"$work/sievec.unconf" 2>&1; then
  fail "sievec accepted a webhook script while the configuration is broken"
fi
grep -qF "vnd.mailward.webhook" "$work/sievec.unconf" || fail "sievec did not name the unavailable extension: $(cat "$work/sievec.unconf")"
# No target configured: the extension is not offered either.
printf '[notify]\nspool = %s\n' "$SPOOL" >"$MWCONF"
if as_mail_user sievec -c "$MW_DOVECOT_CONF" "$work/good.sieve" "$work/good3.svbin" >"$work/sievec.none" 2>&1; then
  fail "sievec accepted a webhook script while no target is configured"
fi
echo "6. broken or empty configuration -> delivered, extension unavailable: ok"

echo "webhook_test: PASS"
