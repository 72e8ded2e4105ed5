#!/bin/bash
# dovecot_plugin_check.sh — what `mailward setup dovecot --apply` writes works with the real
# Pigeonhole: on a copy of /etc/dovecot (never /etc/dovecot itself), with the built Sieve plugin and
# the packaged imapsieve scripts,
#   1. a user script (compiled by sievec as an unprivileged user) can use vnd.mailward.webhook, and a
#      script naming an unknown target is refused with the plugin's own message: the plugin is loaded
#      next to sieve_imapsieve and sieve_extprograms and the extension is offered to user scripts;
#   2. the imapsieve scripts compile (vnd.dovecot.pipe / environment from sieve_global_extensions).
# Usage: dovecot_plugin_check.sh MAILWARD_BINARY PLUGIN_SO SOURCE_DIR
set -euo pipefail
MW="${1:?usage: dovecot_plugin_check.sh MAILWARD PLUGIN SOURCE_DIR}"
PLUGIN="${2:?plugin}"
SRC="${3:?source dir}"
fail() { echo "dovecot_plugin_check: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (sievec runs as nobody through setpriv)"
for c in sievec doveconf setpriv; do command -v "$c" >/dev/null || fail "missing $c (dovecot-sieve, dovecot-core, util-linux)"; done
[ -f "$PLUGIN" ] || fail "plugin not built: $PLUGIN"
[ -d /usr/lib/dovecot/modules/sieve ] || fail "Debian's Pigeonhole plugins are missing (dovecot-sieve)"

W="$(mktemp -d /tmp/mailward-setup-plugin.XXXXXX)"
trap 'rm -rf "$W"' EXIT
chmod 0755 "$W"
cp -a /etc/dovecot "$W/dovecot"
mkdir -p "$W/plugins" "$W/imapsieve" "$W/spool/tmp" "$W/spool/new" "$W/work"
cp "$PLUGIN" "$W/plugins/"
for so in /usr/lib/dovecot/modules/sieve/*.so; do   # Pigeonhole's own (a packaged copy of ours: skipped)
  [ -e "$W/plugins/$(basename "$so")" ] || ln -s "$so" "$W/plugins/"
done
cp "$SRC/packaging/imapsieve/report-spam.sieve" "$SRC/packaging/imapsieve/report-ham.sieve" "$W/imapsieve/"
printf '[notify]\nspool = %s/spool\n[target.phone]\nurl = https://ntfy.example/x\nformat = ntfy\nusers = *\n' "$W" >"$W/mw.conf"
chmod -R a+rX "$W"
chown 65534:65534 "$W/work"

"$MW" setup dovecot --apply --dovecot-dir "$W/dovecot" --config "$W/mw.conf" --imapsieve-dir "$W/imapsieve" \
  >"$W/setup.out" 2>&1 || fail "setup dovecot --apply failed: $(cat "$W/setup.out")"
# The package installs the plugin into Pigeonhole's default directory; here it is only built.
printf 'plugin {\n  sieve_plugin_dir = %s/plugins\n}\n' "$W" >"$W/dovecot/conf.d/99-test-plugin-dir.conf"
CONF="$W/dovecot/dovecot.conf"

cat >"$W/work/good.sieve" <<'SIEVE'
require ["vnd.mailward.webhook", "variables"];
webhook :title "New mail" "phone";
SIEVE
cat >"$W/work/bad.sieve" <<'SIEVE'
require ["vnd.mailward.webhook"];
webhook "nosuch";
SIEVE
chmod 0644 "$W/work/"*.sieve
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }
as_nobody sievec -c "$CONF" "$W/work/good.sieve" "$W/work/good.svbin" >"$W/good.out" 2>&1 \
  || fail "sievec refused a webhook script: $(cat "$W/good.out")"
[ -s "$W/work/good.svbin" ] || fail "sievec wrote no binary: $(cat "$W/good.out")"
if as_nobody sievec -c "$CONF" "$W/work/bad.sieve" "$W/work/bad.svbin" >"$W/bad.out" 2>&1; then
  fail "sievec accepted an unknown target"
fi
grep -qF 'unknown webhook target "nosuch" (configured targets: phone)' "$W/bad.out" \
  || fail "the refusal is not the plugin's: $(cat "$W/bad.out")"
echo "1. the webhook extension is loaded and offered to user scripts: ok"
for s in report-spam report-ham; do
  sievec -c "$CONF" "$W/imapsieve/$s.sieve" >"$W/$s.out" 2>&1 || fail "sievec $s.sieve: $(cat "$W/$s.out")"
  [ -s "$W/imapsieve/$s.svbin" ] || fail "no $s.svbin"
done
echo "2. the imapsieve scripts compile: ok"
echo "dovecot_plugin_check: PASS"
