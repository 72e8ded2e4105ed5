#!/usr/bin/env bash
# package_test.sh — issue 6: the .deb and .rpm built from BUILD_DIR, installed, used and purged.
#
#   1. cpack builds both packages; dpkg-deb -c/-I and rpm -qp (--list, file flags and modes,
#      --scripts, --requires, --recommends) show the files, the conffile / %config(noreplace), the
#      maintainer scripts and the dependencies.
#   2. dpkg -i: user and group mailward, directories with their owners and modes, units installed and
#      enabled (not started), `mailward config check` passes on the shipped configuration, each
#      daemon's --check passes as user mailward, systemd-analyze security exposure of each unit.
#   3. In a network namespace (tests/integration/lib/stack.sh, not edited: two of its functions are
#      wrapped after sourcing): `mailward setup postfix --apply` / `mailward setup dovecot --apply`
#      against the stack's private Postfix and Dovecot configuration; the three daemons started with
#      the ExecStart= lines and User=/Group= of the installed units (setpriv: that user, no new
#      privileges, empty capability bounding set; the only change to the command line is the
#      --config path); one message through Postfix must come out authenticated
#      (Authentication-Results), scored (X-Spam-Status) and notified (the Sieve webhook event went
#      through the spool to notifyd and the receiver).
#   4. dpkg -r, then dpkg -P: nothing of the package is left (files, /etc/mailward, state, spools,
#      socket directory, unit enablement, user and group).
# The EXIT trap stops everything it started and purges the package, so a failure leaves the machine
# as it was; the test refuses to start when mailward is already installed or a mailward user exists
# (it would delete what it did not create).
#
# Usage: package_test.sh BUILD_DIR   (root; never skips: a missing prerequisite is a failure)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../../.." && pwd)"
# shellcheck disable=SC1091
. "$HERE/../lib/stack.sh"
unset MAILWARD_MILTER
export MW_PERSIST=1   # our own EXIT trap tears the stack down (before the purge)

fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
say() { echo "[package_test] $*" >&2; }

BUILD="${1:-}"
[ -n "$BUILD" ] && [ -f "$BUILD/CPackConfig.cmake" ] || fail "usage: package_test.sh BUILD_DIR (no CPackConfig.cmake in '$BUILD')"
BUILD="$(cd "$BUILD" && pwd)"
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i, ip netns); not skipping"
for c in cpack dpkg dpkg-deb dpkg-query dpkg-shlibdeps rpm rpmbuild setpriv systemd-analyze python3 swaks postconf; do
  command -v "$c" >/dev/null 2>&1 || fail "missing command $c (scripts/install-deps.sh installs it)"
done

# One run at a time on this machine, whichever build directory it comes from (CTest's resource lock
# only serialises the tests of one ctest run): the package is installed system-wide.
exec 9>/run/lock/mailward-package-test.lock
flock -w 540 9 || fail "another package_test.sh holds /run/lock/mailward-package-test.lock"

pkg_status() { dpkg-query -W -f='${Status}' mailward 2>/dev/null || true; }
st="$(pkg_status)"
case "$st" in *installed*|*config-files*|*unpacked*) fail "package mailward is already on this machine ($st): not touching it" ;; esac
getent passwd mailward >/dev/null && fail "a user mailward already exists: the purge check would delete it"
getent group mailward >/dev/null && fail "a group mailward already exists: the purge check would delete it"
LEFTOVER_PATHS="/etc/mailward /var/lib/mailward /var/spool/mailward /var/spool/postfix/mailward /usr/lib/mailward /usr/share/mailward /usr/share/doc/mailward"
for p in $LEFTOVER_PATHS; do [ ! -e "$p" ] || fail "$p exists before the test (left by something else?)"; done

WORK="$(mktemp -d /tmp/mwpkg.XXXXXX)"
chmod 0755 "$WORK"
MW_STATE="$WORK/st"
PIDS=()
INSTALLED_BY_US=0

cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  mw_down >/dev/null 2>&1
  if [ "$INSTALLED_BY_US" = 1 ]; then
    case "$(pkg_status)" in
      *installed*|*config-files*|*unpacked*|*half*) dpkg -P mailward >>"$WORK/cleanup.log" 2>&1 ;;
    esac
    # Whatever a failed purge left (we checked at the start that none of it existed before).
    getent passwd mailward >/dev/null && userdel mailward 2>/dev/null
    getent group mailward >/dev/null && groupdel mailward 2>/dev/null
    for p in $LEFTOVER_PATHS; do rm -rf "$p"; done
  fi
  if [ "$rc" -ne 0 ]; then
    say "logs of the failed run:"
    for f in "$WORK"/*.log "$WORK"/st/log/*.log "$WORK"/st/log/*.stderr; do
      [ -f "$f" ] || continue
      echo "--- $f (last 15 lines)" >&2; tail -15 "$f" >&2
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM HUP INT

UNITS="mailward-milter mailward-policyd mailward-notifyd"
# Every file the package must ship (both formats).
EXPECTED_FILES="
/usr/bin/mailward
/usr/sbin/mailward-milter
/usr/sbin/mailward-policyd
/usr/sbin/mailward-notifyd
/usr/sbin/mailward-auth-policy
/usr/lib/dovecot/modules/sieve/lib90_sieve_mailward_plugin.so
/usr/share/mailward/default.rules
/usr/share/mailward/dovecot/90-mailward-imapsieve.conf
/usr/lib/mailward/imapsieve/report-spam.sieve
/usr/lib/mailward/imapsieve/report-ham.sieve
/usr/lib/mailward/imapsieve/mailward-learn-spam
/usr/lib/mailward/imapsieve/mailward-learn-ham
/etc/mailward/mailward.conf
/usr/lib/systemd/system/mailward-milter.service
/usr/lib/systemd/system/mailward-policyd.service
/usr/lib/systemd/system/mailward-notifyd.service
/usr/share/man/man1/mailward.1
/usr/share/man/man8/mailward-milter.8
/usr/share/man/man8/mailward-policyd.8
/usr/share/man/man8/mailward-notifyd.8
/usr/share/doc/mailward/README.md
/usr/share/doc/mailward/README.packaging.md"

# has_line FILE LINE: FILE has exactly that line.
has_line() { grep -qxF -- "$2" "$1"; }

# === 1. build both packages, inspect them ==========================================================
say "1: cpack DEB and RPM from $BUILD"
PKG="$WORK/pkgs"
(cd "$BUILD" && cpack -G DEB -B "$PKG" --config CPackConfig.cmake) >"$WORK/cpack-deb.log" 2>&1 \
  || fail "cpack -G DEB failed (are the installed targets built? cmake --build BUILD --target package-deb): $(tail -5 "$WORK/cpack-deb.log")"
(cd "$BUILD" && cpack -G RPM -B "$PKG" --config CPackConfig.cmake) >"$WORK/cpack-rpm.log" 2>&1 \
  || fail "cpack -G RPM failed: $(tail -5 "$WORK/cpack-rpm.log")"
DEB="$(ls "$PKG"/mailward_*.deb 2>/dev/null | head -1)"
RPM="$(ls "$PKG"/mailward-*.rpm 2>/dev/null | head -1)"
[ -f "$DEB" ] || fail "no .deb in $PKG: $(ls "$PKG")"
[ -f "$RPM" ] || fail "no .rpm in $PKG: $(ls "$PKG")"

# .deb contents: paths and modes
dpkg-deb -c "$DEB" >"$WORK/deb-contents.txt"
awk '{ p = $6; sub(/^\./, "", p); print p }' "$WORK/deb-contents.txt" >"$WORK/deb-files.txt"
for f in $EXPECTED_FILES; do has_line "$WORK/deb-files.txt" "$f" || fail ".deb lacks $f"; done
awk '{ p = $6; sub(/^\./, "", p); print $1, $2, p }' "$WORK/deb-contents.txt" >"$WORK/deb-modes.txt"
has_line "$WORK/deb-modes.txt" "-rw-r----- root/root /etc/mailward/mailward.conf" \
  || fail "mailward.conf must be 0640 in the .deb: $(grep mailward.conf "$WORK/deb-modes.txt")"
for b in /usr/bin/mailward /usr/sbin/mailward-milter /usr/sbin/mailward-policyd /usr/sbin/mailward-notifyd \
         /usr/lib/mailward/imapsieve/mailward-learn-spam; do
  has_line "$WORK/deb-modes.txt" "-rwxr-xr-x root/root $b" || fail "$b must be 0755 root: $(grep " $b\$" "$WORK/deb-modes.txt")"
done
# .deb control: dependencies, conffiles, maintainer scripts
dpkg-deb -f "$DEB" Depends >"$WORK/deb-depends.txt"
for d in libc6 libssl3 libmilter1.0.1 libpsl5 libcurl4 liblmdb0 libhiredis0.14 publicsuffix passwd; do
  tr ',' '\n' <"$WORK/deb-depends.txt" | sed 's/^ *//' | mw_has "^$d\b" || fail ".deb Depends lacks $d: $(cat "$WORK/deb-depends.txt")"
done
[ "$(dpkg-deb -f "$DEB" Recommends)" = "postfix, dovecot-core, dovecot-sieve, dovecot-lmtpd" ] \
  || fail ".deb Recommends: '$(dpkg-deb -f "$DEB" Recommends)'"
[ "$(dpkg-deb -I "$DEB" conffiles)" = "/etc/mailward/mailward.conf" ] || fail ".deb conffiles: '$(dpkg-deb -I "$DEB" conffiles)'"
mkdir -p "$WORK/debctl"; dpkg-deb -e "$DEB" "$WORK/debctl"
for s in postinst prerm postrm; do
  [ -x "$WORK/debctl/$s" ] || fail ".deb has no executable $s"
  sh -n "$WORK/debctl/$s" || fail ".deb $s is not valid sh"
done
mw_has -F "useradd --system" "$WORK/debctl/postinst" || fail "postinst does not create the system user"
mw_has -F "deb-systemd-helper enable" "$WORK/debctl/postinst" || fail "postinst does not enable the units"
mw_has -F "systemctl stop" "$WORK/debctl/prerm" || fail "prerm does not stop the units"
mw_has -F "userdel" "$WORK/debctl/postrm" || fail "postrm does not remove the user"

# .rpm: file list, flags/modes/owners, scripts, requirements
rpm -qp --list "$RPM" >"$WORK/rpm-files.txt" 2>"$WORK/rpm-q.log" || fail "rpm -qp --list failed: $(cat "$WORK/rpm-q.log")"
for f in $EXPECTED_FILES; do has_line "$WORK/rpm-files.txt" "$f" || fail ".rpm lacks $f"; done
for d in /etc /usr/sbin /usr/lib/systemd/system /usr/lib/dovecot/modules/sieve /usr/share/man/man8; do
  has_line "$WORK/rpm-files.txt" "$d" && fail ".rpm owns the system directory $d"
done
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$RPM" \
  >"$WORK/rpm-attrs.txt" 2>>"$WORK/rpm-q.log"
has_line "$WORK/rpm-attrs.txt" "cn -rw-r----- root:mailward /etc/mailward/mailward.conf" \
  || fail ".rpm mailward.conf is not %config(noreplace) 0640 root:mailward: $(grep mailward.conf "$WORK/rpm-attrs.txt")"
has_line "$WORK/rpm-attrs.txt" " drwxr-x--- root:mailward /etc/mailward" \
  || fail ".rpm /etc/mailward is not 0750 root:mailward: $(grep ' /etc/mailward$' "$WORK/rpm-attrs.txt")"
rpm -qp --scripts "$RPM" >"$WORK/rpm-scripts.txt" 2>>"$WORK/rpm-q.log"
for s in "preinstall scriptlet" "postinstall scriptlet" "preuninstall scriptlet" "postuninstall scriptlet"; do
  mw_has -F "$s" "$WORK/rpm-scripts.txt" || fail ".rpm has no $s"
done
for w in "useradd --system" "systemctl --no-reload preset" "systemctl --no-reload disable" "userdel" "install -d -o"; do
  mw_has -F -- "$w" "$WORK/rpm-scripts.txt" || fail ".rpm scripts lack '$w'"
done
rpm -qp --requires "$RPM" >"$WORK/rpm-requires.txt" 2>>"$WORK/rpm-q.log"
for r in "libcrypto.so.3()(64bit)" "libhs.so.5()(64bit)" "libmilter.so.1.0.1()(64bit)" "publicsuffix-list" "shadow-utils"; do
  mw_has -F -- "$r" "$WORK/rpm-requires.txt" || fail ".rpm Requires lacks $r: $(tr '\n' ' ' <"$WORK/rpm-requires.txt")"
done
rpm -qp --recommends "$RPM" >"$WORK/rpm-recommends.txt" 2>>"$WORK/rpm-q.log"
for r in postfix dovecot dovecot-pigeonhole; do
  has_line "$WORK/rpm-recommends.txt" "$r" || fail ".rpm Recommends lacks $r: $(tr '\n' ' ' <"$WORK/rpm-recommends.txt")"
done
say "1: ok ($(basename "$DEB"), $(basename "$RPM"))"

# === 2. install the .deb ==========================================================================
say "2: dpkg -i"
INSTALLED_BY_US=1
dpkg -i "$DEB" >"$WORK/dpkg-install.log" 2>&1 || fail "dpkg -i failed: $(tail -10 "$WORK/dpkg-install.log")"
[ "$(pkg_status)" = "install ok installed" ] || fail "package status after dpkg -i: $(pkg_status)"

IFS=: read -r _ _ MW_UID MW_GID _ MW_HOME MW_SHELL < <(getent passwd mailward) || fail "no user mailward after install"
MW_GROUP_GID="$(getent group mailward | cut -d: -f3)" || fail "no group mailward after install"
[ "$MW_GID" = "$MW_GROUP_GID" ] || fail "user mailward's primary group is $MW_GID, not mailward ($MW_GROUP_GID)"
[ "$MW_UID" -lt 1000 ] || fail "mailward is not a system user (uid $MW_UID)"
[ "$MW_HOME" = /var/lib/mailward ] || fail "mailward's home is $MW_HOME"
case "$MW_SHELL" in */nologin|/bin/false) ;; *) fail "mailward's shell is $MW_SHELL (no login wanted)" ;; esac

check_path() { # PATH OWNER:GROUP MODE
  [ -e "$1" ] || fail "$1 missing after install"
  local got; got="$(stat -c '%U:%G %a' "$1")"
  [ "$got" = "$2 $3" ] || fail "$1 is '$got', want '$2 $3'"
}
check_path /etc/mailward root:mailward 750
check_path /etc/mailward/mailward.conf root:mailward 640
check_path /var/lib/mailward mailward:mailward 750
check_path /var/spool/mailward mailward:mailward 750
check_path /var/spool/mailward/notify mailward:mailward 750
check_path /var/spool/mailward/notify/tmp mailward:mailward 2770
check_path /var/spool/mailward/notify/new mailward:mailward 2770
check_path /var/spool/mailward/notify/free mailward:mailward 2770
check_path /var/spool/mailward/notify/slots mailward:mailward 2770
check_path /var/spool/mailward/notify/state mailward:mailward 750
check_path /var/spool/mailward/notify/dead mailward:mailward 750
check_path /var/spool/postfix/mailward mailward:postfix 2750
for u in $UNITS; do
  [ -f "/lib/systemd/system/$u.service" ] || fail "/lib/systemd/system/$u.service missing"
  [ -L "/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service is not enabled (no multi-user.target.wants link)"
  systemd-analyze security --offline=yes "/lib/systemd/system/$u.service" >"$WORK/security-$u.txt" 2>&1 \
    || fail "systemd-analyze security $u: $(tail -3 "$WORK/security-$u.txt")"
  score="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$WORK/security-$u.txt")"
  [ -n "$score" ] || fail "no exposure level for $u: $(tail -2 "$WORK/security-$u.txt")"
  python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)" || fail "$u exposure $score > 2.0"
  say "2: $u.service exposure $score"
done
# Enabled, not started: nothing runs as the new user.
if pgrep -u mailward >/dev/null 2>&1; then fail "processes run as mailward right after install: $(pgrep -a -u mailward)"; fi

mailward config check >"$WORK/config-check.out" 2>&1 || fail "mailward config check on the shipped configuration: $(cat "$WORK/config-check.out")"
has_line "$WORK/config-check.out" "configuration OK: /etc/mailward/mailward.conf" || fail "config check said: $(cat "$WORK/config-check.out")"
as_mailward() { setpriv --reuid=mailward --regid=mailward --init-groups --no-new-privs "$@"; }
as_mailward mailward-milter --check >"$WORK/milter-check.out" 2>&1 || fail "mailward-milter --check as mailward: $(cat "$WORK/milter-check.out")"
as_mailward mailward-policyd --check >"$WORK/policyd-check.out" 2>&1 || fail "mailward-policyd --check as mailward: $(cat "$WORK/policyd-check.out")"
as_mailward mailward-notifyd --config /etc/mailward/mailward.conf --check >"$WORK/notifyd-check.out" 2>&1 \
  || fail "mailward-notifyd --check as mailward: $(cat "$WORK/notifyd-check.out")"
for p in mailward mailward-milter mailward-policyd mailward-notifyd; do
  "$p" --help >"$WORK/help.out" 2>&1 || fail "$p --help exits $?"
  mw_has -i "usage" "$WORK/help.out" || fail "$p --help prints no usage"
done
for m in mailward mailward-milter mailward-policyd mailward-notifyd; do
  man -w "$m" >/dev/null 2>&1 || fail "no manual page for $m"
done
say "2: ok (uid $MW_UID, units enabled, configuration valid)"

# === 3. the installed daemons in front of a real Postfix + Dovecot ================================
say "3: stack with the installed package"
TESTCONF="$WORK/mailward.conf"
RECV_IP=127.0.0.70
REQ="$WORK/requests.jsonl"

# write_testconf: the shipped configuration with only what the namespace needs changed: the sockets
# inside the stack's Postfix queue directory, nsd as resolver, the authserv-id, one webhook target.
write_testconf() {
  python3 - /etc/mailward/mailward.conf "$TESTCONF" "$MW_SPOOL_MX" "$MW_IP_DNS" "$MW_AUTHSERV_ID" "$RECV_IP" <<'PY'
import re, sys
src, dst, spool, dns, authserv, recv = sys.argv[1:7]
want = {("dns", "servers"): dns + ":53",
        ("milter", "socket"): spool + "/mailward/milter.sock",
        ("milter", "authserv_id"): authserv,
        ("policy", "socket"): spool + "/mailward/policy.sock",
        ("notify", "rescan_interval"): "1s"}
out, section, done = [], None, set()
lines = open(src).read().splitlines()
def flush(sec):
    for (s, k), v in want.items():
        if s == sec and (s, k) not in done:
            out.append(f"{k} = {v}"); done.add((s, k))
for line in lines:
    m = re.match(r"^\[([a-z0-9._-]+)\]\s*$", line)
    if m:
        flush(section); section = m.group(1)
    m = re.match(r"^#?\s*([a-z0-9_.-]+)\s*=", line)
    if m and section and (section, m.group(1)) in want:
        if (section, m.group(1)) not in done:
            out.append(f"{m.group(1)} = {want[(section, m.group(1))]}"); done.add((section, m.group(1)))
        continue
    out.append(line)
flush(section)
missing = set(want) - done
if missing: sys.exit(f"sections missing in the shipped configuration: {sorted(missing)}")
out += ["", "[target.pkgtest]", f"url = http://{recv}:8080/hook", "format = generic", "users = *",
        "max_attempts = 20", "timeout = 3s"]
open(dst, "w").write("\n".join(out) + "\n")
PY
  chgrp mailward "$TESTCONF"; chmod 0640 "$TESTCONF"
}

# Dovecot: the harness's users get group mailward (the documented set-up for the Sieve plugin: the
# mail user in group mailward, so it can read mailward.conf and write the spool), a conf.d include,
# then `mailward setup dovecot --apply` writes its conf.d file.
eval "pkg_orig_dovecot_write() $(declare -f mw_dovecot_write | tail -n +2)"
mw_dovecot_write() {
  pkg_orig_dovecot_write
  sed -i "s/:65534:65534::/:65534:$MW_GID::/" "$S/dovecot/users"
  mkdir -p "$S/dovecot/conf.d"
  printf '# package_test (appended)\n!include_try conf.d/*.conf\n' >>"$MW_DOVECOT_CONF"
  mailward setup dovecot --apply --dovecot-dir "$S/dovecot" --config "$TESTCONF" >"$WORK/setup-dovecot.log" 2>&1 \
    || fail "mailward setup dovecot --apply failed: $(tail -5 "$WORK/setup-dovecot.log")"
}
# Postfix: `mailward setup postfix --apply` on the stack's main.cf/master.cf (a copy of Debian's
# master.cf); the socket directory inside its queue directory as the package makes it.
eval "pkg_orig_postfix_mx_write() $(declare -f mw_postfix_mx_write | tail -n +2)"
mw_postfix_mx_write() {
  pkg_orig_postfix_mx_write
  write_testconf || fail "writing the test configuration failed"   # mw_up writes Postfix first
  chown mailward:postfix "$MW_SPOOL_MX/mailward"; chmod 2750 "$MW_SPOOL_MX/mailward"
  mailward setup postfix --apply --postfix-dir "$MW_PF_MX" --config "$TESTCONF" >"$WORK/setup-postfix.log" 2>&1 \
    || fail "mailward setup postfix --apply failed: $(tail -5 "$WORK/setup-postfix.log")"
}
mw_up
chmod 0755 "$MW_STATE"
postconf -c "$MW_PF_MX" -h smtpd_milters | mw_has -F "unix:mailward/milter.sock" \
  || fail "setup postfix did not hook the milter in: $(postconf -c "$MW_PF_MX" -h smtpd_milters)"
# (Postfix lists: commas and spaces both separate elements)
postconf -c "$MW_PF_MX" -h smtpd_relay_restrictions | tr ',' ' ' | tr -s ' ' | mw_has -F "check_policy_service unix:mailward/policy.sock" \
  || fail "setup postfix did not hook the policy service in: $(postconf -c "$MW_PF_MX" -h smtpd_relay_restrictions)"
ns postfix -c "$MW_PF_MX" reload >/dev/null 2>&1 </dev/null || true

# The webhook receiver (plain HTTP) and bob's Sieve script naming the target.
ns ip addr add "$RECV_IP/32" dev lo
echo '{"status": 200}' >"$WORK/recv-control"
# (receiver.py always loads a certificate, even for --plain)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$RECV_IP" -keyout "$WORK/recv.key" \
  -out "$WORK/recv.pem" >/dev/null 2>&1 || fail "openssl req failed"
ip netns exec "$MW_NS" python3 "$SRC/tests/integration/notify/receiver.py" --plain --bind "$RECV_IP:8080" \
  --cert "$WORK/recv.pem" --key "$WORK/recv.key" --log "$REQ" --control "$WORK/recv-control" >"$WORK/receiver.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 50); do mw_has ready "$WORK/receiver.log" 2>/dev/null && break; sleep 0.1; done
mw_has ready "$WORK/receiver.log" || fail "receiver did not start: $(cat "$WORK/receiver.log")"
home="$MW_MAIL/${MW_RCPT#*@}/${MW_RCPT%@*}"
mkdir -p "$home/sieve"
cat >"$home/sieve/notify.sieve" <<'SIEVE'
require ["vnd.mailward.webhook", "variables"];
if header :matches "subject" "*" { set "subject" "${1}"; }
webhook :title "New mail" :message "${subject}" "pkgtest";
SIEVE
ln -sfn sieve/notify.sieve "$home/.dovecot.sieve"
chown -R "65534:$MW_GID" "$MW_MAIL"

# The daemons, as the installed units say. MemoryDenyWriteExecute=yes is reproduced with the kernel's
# own equivalent, prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (Linux >= 6.3, kept across execve),
# so Hyperscan, OpenSSL and libcurl are shown to work without writable+executable memory.
MDWE_PY='import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit("prctl(PR_SET_MDWE): errno %d" % ctypes.get_errno())
os.execvp(sys.argv[1], sys.argv[1:])'
for u in $UNITS; do
  unit="/lib/systemd/system/$u.service"
  exec_line="$(sed -n 's/^ExecStart=//p' "$unit")"
  user="$(sed -n 's/^User=//p' "$unit")"; group="$(sed -n 's/^Group=//p' "$unit")"
  [ -n "$exec_line" ] && [ -n "$user" ] && [ -n "$group" ] || fail "$unit lacks ExecStart=, User= or Group="
  mw_has -F -- "--config /etc/mailward/mailward.conf" <<<"$exec_line" || fail "$unit ExecStart does not name /etc/mailward/mailward.conf: $exec_line"
  cmd="${exec_line/\/etc\/mailward\/mailward.conf/$TESTCONF}"
  say "3: $u: $cmd (as $user:$group)"
  mdwe=()
  if mw_has -x "MemoryDenyWriteExecute=yes" "$unit"; then mdwe=("$MW_PYTHON" -c "$MDWE_PY"); fi
  # shellcheck disable=SC2086
  ip netns exec "$MW_NS" setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
    --bounding-set=-all --inh-caps=-all "${mdwe[@]}" $cmd </dev/null >"$WORK/$u.log" 2>&1 &
  PIDS+=("$!")
done
for sock in milter policy; do
  for _ in $(seq 100); do [ -S "$MW_SPOOL_MX/mailward/$sock.sock" ] && break; sleep 0.1; done
  [ -S "$MW_SPOOL_MX/mailward/$sock.sock" ] || fail "$sock socket not created: $(tail -3 "$WORK"/mailward-*.log)"
  got="$(stat -c '%U:%G %a' "$MW_SPOOL_MX/mailward/$sock.sock")"
  [ "$got" = "mailward:postfix 660" ] || fail "$sock socket is $got, want mailward:postfix 660"
done
for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a daemon exited at start: $(tail -3 "$WORK"/mailward-*.log)"; done

marker="pkg-$RANDOM$RANDOM"
mw_message "$WORK/m1.eml" "Alice <alice@aligned.example>" "Bob <$MW_RCPT>" "Package test $marker" "$marker"
mw_send "$WORK/m1.out" "$MW_IP_GOOD" mail.aligned.example alice@aligned.example "$MW_RCPT" "$WORK/m1.eml" \
  || fail "SMTP to the stack failed: $(mw_smtp_last "$WORK/m1.out")"
mw_smtp_replies "$WORK/m1.out" | mw_has "^250 .*queued as" || fail "message not accepted: $(mw_smtp_last "$WORK/m1.out")"
delivered="$(mw_wait_delivery "$marker" 30)" || fail "message $marker not delivered (postfix log: $(tail -3 "$MW_PF_MX_LOG"))"
ar="$(mw_header "$delivered" Authentication-Results)"
mw_has -F "$MW_AUTHSERV_ID;" <<<"$ar" || fail "no Authentication-Results of $MW_AUTHSERV_ID: '$ar'"
mw_has -F "spf=pass" <<<"$ar" || fail "SPF not pass: '$ar'"
mw_has -F "dmarc=pass" <<<"$ar" || fail "DMARC not pass: '$ar'"
spam="$(mw_header "$delivered" X-Spam-Status)"
mw_has "^No, score=" <<<"$spam" || fail "not scored (X-Spam-Status: '$spam')"
for _ in $(seq 100); do mw_has -F "$marker" "$REQ" 2>/dev/null && break; sleep 0.1; done
mw_has -F "$marker" "$REQ" 2>/dev/null || fail "no notification for $marker at the receiver (notifyd: $(tail -3 "$WORK/mailward-notifyd.log"); spool new/: $(ls /var/spool/mailward/notify/new); bob's Sieve log: $(cat "$home/.dovecot.sieve.log" 2>/dev/null); Dovecot: $(grep -i 'sieve\|mailward' "$MW_LOGS/dovecot.log" | tail -3))"
mw_has -F "passed" "$WORK/mailward-policyd.log" || fail "mailward-policyd logged no decision: $(tail -3 "$WORK/mailward-policyd.log")"
say "3: ok (authenticated, scored, notified; policy consulted)"

for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
mw_down >/dev/null 2>&1

# === 4. remove, purge: nothing left ==================================================================
say "4: dpkg -r, dpkg -P"
dpkg -r mailward >"$WORK/dpkg-remove.log" 2>&1 || fail "dpkg -r failed: $(tail -5 "$WORK/dpkg-remove.log")"
[ "$(pkg_status)" = "deinstall ok config-files" ] || fail "status after dpkg -r: $(pkg_status)"
for f in $EXPECTED_FILES; do
  [ "$f" = /etc/mailward/mailward.conf ] && continue
  [ ! -e "$f" ] || fail "$f still there after dpkg -r"
done
[ -f /etc/mailward/mailward.conf ] || fail "dpkg -r removed the conffile (only purge may)"
dpkg -P mailward >"$WORK/dpkg-purge.log" 2>&1 || fail "dpkg -P failed: $(tail -5 "$WORK/dpkg-purge.log")"
[ -z "$(pkg_status)" ] || [ "$(pkg_status)" = "unknown ok not-installed" ] || fail "status after dpkg -P: $(pkg_status)"
for f in $EXPECTED_FILES; do [ ! -e "$f" ] || fail "$f still there after purge"; done
for p in $LEFTOVER_PATHS; do [ ! -e "$p" ] || fail "$p still there after purge: $(ls -la "$p" 2>&1 | head -5)"; done
getent passwd mailward >/dev/null && fail "user mailward still there after purge"
getent group mailward >/dev/null && fail "group mailward still there after purge"
left="$(find /etc/systemd/system /var/lib/systemd -name '*mailward*' 2>/dev/null || true)"
[ -z "$left" ] || fail "systemd state left after purge: $left"
left="$(grep -rl mailward /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked 2>/dev/null || true)"
[ -z "$left" ] || fail "deb-systemd-helper state left after purge: $left"
INSTALLED_BY_US=0
say "4: ok (nothing left)"
say "PASS"
