# Shared part of the mailward maintainer scripts (deb postinst/prerm/postrm, rpm %pre/%post/%preun/
# %postun). cmake/Packaging.cmake pastes it into each script at @MAILWARD_MAINT_COMMON@, so every
# script is self-contained (at purge time nothing of the package is left to source).
# Everything here is safe without systemd as PID 1: only systemctl calls that need a running
# manager are guarded with [ -d /run/systemd/system ].

MW_USER=mailward
MW_GROUP=mailward
MW_UNITS="mailward-milter.service mailward-policyd.service mailward-notifyd.service"
MW_STATE=/var/lib/mailward
MW_SPOOL=/var/spool/mailward
MW_NOTIFY_SPOOL=/var/spool/mailward/notify
MW_POSTFIX_DIR=/var/spool/postfix/mailward
MW_ETC=/etc/mailward

mw_nologin() {
  for s in /usr/sbin/nologin /sbin/nologin; do
    [ -x "$s" ] && { echo "$s"; return; }
  done
  echo /bin/false
}

# System group and user "mailward" (no login, no home directory created).
mw_create_user() {
  if ! getent group "$MW_GROUP" >/dev/null; then
    groupadd --system "$MW_GROUP"
  fi
  if ! getent passwd "$MW_USER" >/dev/null; then
    useradd --system --gid "$MW_GROUP" --home-dir "$MW_STATE" --no-create-home \
      --shell "$(mw_nologin)" --comment "mailward daemons" "$MW_USER"
  fi
}

# mw_dir PATH OWNER GROUP MODE: create PATH if missing (an existing directory keeps what the
# administrator gave it, except the owner when it is not ours yet).
mw_dir() {
  if [ ! -d "$1" ]; then
    install -d -o "$2" -g "$3" -m "$4" "$1"
  fi
}

# Directories (modes documented in packaging/README.md, "Files and modes"):
#   /var/lib/mailward            mailward:mailward 0750  state store, Bayes model
#   /var/spool/mailward          mailward:mailward 0750  only the group enters
#   .../notify                   mailward:mailward 0750  notifyd's spool
#   .../notify/tmp, new          mailward:mailward 2770  the Sieve plugin (mail user in group
#                                                        mailward) writes; setgid keeps the group
#   .../notify/free              mailward:mailward 2770  sent event files notifyd keeps for the
#                                                        plugin to reuse (notifyd README)
#   .../notify/slots             mailward:mailward 2770  event slots the plugin overwrites in place
#                                                        (notifyd README, "Event slots")
#   .../notify/state, dead       mailward:mailward 0750  notifyd only
#   /var/spool/postfix/mailward  mailward:postfix  2750  milter and policy sockets inside Postfix's
#                                                        chroot; setgid gives the sockets group postfix
mw_create_dirs() {
  mw_dir "$MW_STATE" "$MW_USER" "$MW_GROUP" 0750
  mw_dir "$MW_SPOOL" "$MW_USER" "$MW_GROUP" 0750
  mw_dir "$MW_NOTIFY_SPOOL" "$MW_USER" "$MW_GROUP" 0750
  mw_dir "$MW_NOTIFY_SPOOL/tmp" "$MW_USER" "$MW_GROUP" 2770
  mw_dir "$MW_NOTIFY_SPOOL/new" "$MW_USER" "$MW_GROUP" 2770
  mw_dir "$MW_NOTIFY_SPOOL/free" "$MW_USER" "$MW_GROUP" 2770
  mw_dir "$MW_NOTIFY_SPOOL/slots" "$MW_USER" "$MW_GROUP" 2770
  mw_dir "$MW_NOTIFY_SPOOL/state" "$MW_USER" "$MW_GROUP" 0750
  mw_dir "$MW_NOTIFY_SPOOL/dead" "$MW_USER" "$MW_GROUP" 0750
  if [ -d /var/spool/postfix ] && getent group postfix >/dev/null; then
    mw_dir "$MW_POSTFIX_DIR" "$MW_USER" postfix 2750
  else
    echo "mailward: Postfix is not installed: create $MW_POSTFIX_DIR (mailward:postfix 2750) after installing it" >&2
  fi
  # The configuration is read by the daemons (user mailward) and by Dovecot's delivery processes
  # (the mail user, to be put in group mailward): never world-readable.
  if [ -d "$MW_ETC" ]; then
    chgrp "$MW_GROUP" "$MW_ETC" && chmod 0750 "$MW_ETC"
    if [ -f "$MW_ETC/mailward.conf" ]; then
      chgrp "$MW_GROUP" "$MW_ETC/mailward.conf" && chmod 0640 "$MW_ETC/mailward.conf"
    fi
  fi
}

mw_systemd_running() { [ -d /run/systemd/system ]; }

mw_daemon_reload() {
  if mw_systemd_running; then systemctl --system daemon-reload >/dev/null 2>&1 || true; fi
}

mw_stop_units() {
  if mw_systemd_running; then
    # shellcheck disable=SC2086
    systemctl stop $MW_UNITS >/dev/null 2>&1 || true
  fi
}

mw_try_restart_units() {
  if mw_systemd_running; then
    # shellcheck disable=SC2086
    systemctl try-restart $MW_UNITS >/dev/null 2>&1 || true
  fi
}

# Everything the package created at run time (purge on Debian, erase on RPM systems). /etc/mailward
# goes too on Debian purge (conffiles and what the administrator added there: DKIM keys, secrets).
mw_remove_data() {
  rm -rf "$MW_STATE" "$MW_SPOOL" "$MW_POSTFIX_DIR"
}

# Binaries Pigeonhole compiled from the packaged imapsieve scripts (sievec, or Dovecot itself when
# the directory is writable): not in the package's file list, so removed here.
mw_remove_compiled_sieve() {
  rm -f /usr/lib/mailward/imapsieve/*.svbin
  rmdir /usr/lib/mailward/imapsieve /usr/lib/mailward 2>/dev/null || true
}

mw_remove_user() {
  if getent passwd "$MW_USER" >/dev/null; then userdel "$MW_USER" >/dev/null 2>&1 || true; fi
  if getent group "$MW_GROUP" >/dev/null; then groupdel "$MW_GROUP" >/dev/null 2>&1 || true; fi
}
