# stack.sh — bash harness that runs a real Debian mail stack (nsd, Postfix, Dovecot, and optionally
# mailward-milter) inside a private network namespace, for the integration tests and scripts/demo.sh.
#
# Source it, set MW_STATE (state directory; default: a fresh one under ${TMPDIR:-/tmp}) and optionally
# MAILWARD_MILTER (milter binary), MAILWARD_CLI (the `mailward` command, used for keygen) and
# MW_MILTER_USER (the milter's `user =`, privilege drop), then call mw_up. Another process can reuse a running stack with
# `mw_attach STATE`. mw_down stops every process of the namespace and deletes it; mw_up installs an EXIT
# trap doing that unless MW_PERSIST=1 (CTest fixtures, the demo).
#
# Layout inside the namespace (all on lo, none of them 127.0.0.1 so nothing is "trusted loopback"):
#   127.0.0.53  nsd, authoritative for the *.example test zones and 127.in-addr.arpa
#   127.0.0.10  the MX: Postfix mx.mailward.example, port 25 (milter) and 587 (SASL submission)
#   127.0.0.11  Dovecot: LMTP 24 (Postfix delivers here), IMAP 143
#   127.0.0.20  outside client, authorised by SPF for the aligned/quarantine/none/nodmarc test domains
#   127.0.0.30  outside client, authorised by nothing (the spoofer)
#   127.0.0.40  submission client (authenticates with SASL)
#   127.0.0.60  a second Postfix, the outside sending MTA (relay.outside.example) that retries
#   127.0.0.61  client injecting into that outside MTA
#
# Nothing here touches /etc/resolv.conf, /etc/postfix or /etc/dovecot; the namespace's resolver is
# /etc/netns/NS/resolv.conf, created and removed with the namespace.

MW_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

MW_IP_DNS=127.0.0.53
MW_IP_MX=127.0.0.10
MW_IP_DOVECOT=127.0.0.11
MW_IP_GOOD=127.0.0.20
MW_IP_SPOOF=127.0.0.30
MW_IP_SUBMIT=127.0.0.40
MW_IP_OUT=127.0.0.60
MW_IP_OUT_CLIENT=127.0.0.61
MW_ALL_IPS="$MW_IP_DNS $MW_IP_MX $MW_IP_DOVECOT $MW_IP_GOOD $MW_IP_SPOOF $MW_IP_SUBMIT $MW_IP_OUT $MW_IP_OUT_CLIENT"

MW_AUTHSERV_ID=mx.mailward.example
MW_LOCAL_DOMAIN=mailward.example
MW_USER=alice@mailward.example
MW_USER_PASSWORD=alice-secret-pw
MW_RCPT=bob@mailward.example
MW_SIGN_SELECTOR=sel1
# Outside domains with their DMARC record ("" = none published). All authorise 127.0.0.20 (and
# 127.0.0.60, the outside MTA) in SPF, and all publish a DKIM key under selector s1.
declare -A MW_DMARC=(
  [aligned.example]="v=DMARC1; p=reject; adkim=r; aspf=r"
  [quarantine.example]="v=DMARC1; p=quarantine"
  [none.example]="v=DMARC1; p=none"
  [nodmarc.example]=""
  [dnsdown.example]="v=DMARC1; p=reject"   # only used while nsd is down (never cached)
)
MW_OUT_SELECTOR=s1
MW_PYTHON=/usr/bin/python3   # python3-dkim lives in Debian's python, not in a pyenv one

mw_log() { printf '[harness] %s\n' "$*" >&2; }
mw_die() { printf '[harness] FATAL: %s\n' "$*" >&2; exit 1; }
# `producer | grep -q` is racy under pipefail: grep -q exits at the first match and the producer,
# still writing (bash writes echo output line by line), dies of SIGPIPE, failing the pipeline.
# mw_has reads its whole input: use it wherever a pipeline's output is tested for a match.
mw_has() { grep "$@" >/dev/null; }
# ns CMD...: run CMD inside the stack's network namespace (a function: never background it and use
# $!, that is the pid of a subshell; call ip netns exec directly for that).
ns() { ip netns exec "$MW_NS" "$@"; }

# --- preconditions -------------------------------------------------------------------------------

mw_require() {
  if [ "$(id -u)" -ne 0 ]; then
    mw_die "the integration stack needs root (ip netns, postfix, dovecot, nsd); run the tests as root (CI does). Not skipping: this is a failure."
  fi
  local c missing=()
  for c in ip postfix postconf postqueue dovecot nsd swaks openssl ss "$MW_PYTHON" dkimsign dkimverify; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ "${#missing[@]}" -eq 0 ] || mw_die "missing commands: ${missing[*]} (run scripts/install-deps.sh)"
  [ -x /usr/lib/postfix/configure-instance.sh ] || mw_die "Debian's /usr/lib/postfix/configure-instance.sh is missing"
}

# --- state ---------------------------------------------------------------------------------------

mw_state_init() {
  if [ -z "${MW_STATE:-}" ]; then
    MW_STATE="$(mktemp -d "${TMPDIR:-/tmp}/mw.XXXXXX")"
  fi
  mkdir -p "$MW_STATE"
  MW_STATE="$(cd "$MW_STATE" && pwd)"
  # Unix socket paths are limited to 108 bytes; Postfix and Dovecot put theirs below the state dir.
  [ "${#MW_STATE}" -le 60 ] || mw_die "state dir path too long for unix sockets (${#MW_STATE} > 60): $MW_STATE"
}

mw_paths() {
  S="$MW_STATE"
  MW_LOGS="$S/log"
  MW_KEYS="$S/keys"
  MW_ZONES="$S/zones"
  MW_PF_MX="$S/pf-mx"       # config_directory of the MX
  MW_SPOOL_MX="$S/sp-mx"    # its queue_directory (and chroot)
  MW_PF_OUT="$S/pf-out"
  MW_SPOOL_OUT="$S/sp-out"
  MW_DOVECOT_CONF="$S/dovecot/dovecot.conf"
  MW_MAIL="$S/mail"
  MW_MILTER_CONF="$S/milter.conf"
  MW_MILTER_LOG="$MW_LOGS/milter.log"
  MW_MILTER_SOCKET="$MW_SPOOL_MX/mailward/milter.sock"
  MW_PF_MX_LOG="$MW_LOGS/postfix-mx.log"
  MW_PF_OUT_LOG="$MW_LOGS/postfix-out.log"
}

mw_write_env() {
  cat >"$MW_STATE/stack.env" <<EOF
MW_NS=$MW_NS
MW_STATE=$MW_STATE
MAILWARD_MILTER=${MAILWARD_MILTER:-}
MAILWARD_CLI=${MAILWARD_CLI:-}
EOF
}

# mw_attach STATE: use a stack another process brought up.
mw_attach() {
  MW_STATE="$1"
  [ -f "$MW_STATE/stack.env" ] || mw_die "no stack at $MW_STATE (stack.env missing: did the setup fail?)"
  # shellcheck disable=SC1091
  . "$MW_STATE/stack.env"
  mw_paths
  ip netns list | mw_has -w "$MW_NS" || mw_die "namespace $MW_NS of $MW_STATE does not exist any more"
}

# --- DNS: keys, zones, nsd -----------------------------------------------------------------------

# mw_genkey DOMAIN SELECTOR: writes $MW_KEYS/DOMAIN.SELECTOR.key (PKCS#8 PEM, 0600) and .txt (the
# p= value: base64 of the DER SubjectPublicKeyInfo, RFC 6376 §3.6.1).
mw_genkey() {
  local key="$MW_KEYS/$1.$2.key"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null || mw_die "openssl genpkey failed"
  chmod 0600 "$key"
  openssl pkey -in "$key" -pubout -outform DER 2>/dev/null | base64 -w0 >"$MW_KEYS/$1.$2.txt"
}

# mw_txt STRING: the zone-file form of a TXT RDATA, split in 250-byte character-strings (RFC 1035 §3.3.14).
mw_txt() {
  local s="$1" out=""
  while [ "${#s}" -gt 250 ]; do out+="\"${s:0:250}\" "; s="${s:250}"; done
  printf '( %s"%s" )' "$out" "$s"
}

mw_zone_header() {
  cat <<EOF
\$ORIGIN $1.
\$TTL 60
@ IN SOA ns.mailward.example. hostmaster.mailward.example. ( 1 3600 600 86400 60 )
@ IN NS ns.mailward.example.
EOF
}

mw_zones_write() {
  mkdir -p "$MW_ZONES" "$MW_KEYS"
  local d conf="$S/nsd.conf"
  # The local domain's signing key: made by `mailward dkim keygen` when MAILWARD_CLI is given (its
  # printed zone-file line is published verbatim, so nsd checks the syntax and DKIM the key), else
  # by openssl here.
  local key_line
  if [ -n "${MAILWARD_CLI:-}" ]; then
    [ -x "$MAILWARD_CLI" ] || mw_die "MAILWARD_CLI=$MAILWARD_CLI is not executable"
    key_line="$("$MAILWARD_CLI" dkim keygen --domain "$MW_LOCAL_DOMAIN" --selector "$MW_SIGN_SELECTOR" \
      --out "$MW_KEYS" 2>>"$MW_LOGS/keygen.stderr" | grep -E '[[:space:]]IN[[:space:]]+TXT[[:space:]]' || true)"
    [ -n "$key_line" ] || mw_die "mailward dkim keygen printed no TXT line (see $MW_LOGS/keygen.stderr)"
    [ "$(stat -c %a "$MW_KEYS/$MW_LOCAL_DOMAIN.$MW_SIGN_SELECTOR.key" 2>/dev/null)" = 600 ] \
      || mw_die "mailward dkim keygen did not write $MW_KEYS/$MW_LOCAL_DOMAIN.$MW_SIGN_SELECTOR.key with mode 0600"
  else
    mw_genkey "$MW_LOCAL_DOMAIN" "$MW_SIGN_SELECTOR"
    key_line="$MW_SIGN_SELECTOR._domainkey IN TXT $(mw_txt "v=DKIM1; k=rsa; p=$(cat "$MW_KEYS/$MW_LOCAL_DOMAIN.$MW_SIGN_SELECTOR.txt")")"
  fi
  {
    mw_zone_header "$MW_LOCAL_DOMAIN"
    cat <<EOF
@ IN MX 10 mx
@ IN TXT "v=spf1 ip4:$MW_IP_MX -all"
ns IN A $MW_IP_DNS
mx IN A $MW_IP_MX
mx IN TXT "v=spf1 a -all"
_dmarc IN TXT "v=DMARC1; p=reject; adkim=r; aspf=r"
$key_line
EOF
  } >"$MW_ZONES/$MW_LOCAL_DOMAIN.zone"
  for d in "${!MW_DMARC[@]}"; do
    mw_genkey "$d" "$MW_OUT_SELECTOR"
    {
      mw_zone_header "$d"
      echo "@ IN TXT \"v=spf1 ip4:$MW_IP_GOOD ip4:$MW_IP_OUT -all\""
      echo "@ IN MX 10 mail"
      echo "mail IN A $MW_IP_GOOD"
      echo "mail IN TXT \"v=spf1 a -all\""
      [ -z "${MW_DMARC[$d]}" ] || echo "_dmarc IN TXT \"${MW_DMARC[$d]}\""
      echo "$MW_OUT_SELECTOR._domainkey IN TXT $(mw_txt "v=DKIM1; k=rsa; p=$(cat "$MW_KEYS/$d.$MW_OUT_SELECTOR.txt")")"
    } >"$MW_ZONES/$d.zone"
  done
  {
    mw_zone_header outside.example
    echo "relay IN A $MW_IP_OUT"
    echo "relay IN TXT \"v=spf1 a -all\""
    echo "spoofer IN A $MW_IP_SPOOF"
    echo "client IN A $MW_IP_SUBMIT"
  } >"$MW_ZONES/outside.example.zone"
  {
    mw_zone_header 127.in-addr.arpa
    echo "10.0.0 IN PTR mx.mailward.example."
    echo "20.0.0 IN PTR mail.aligned.example."
    echo "30.0.0 IN PTR spoofer.outside.example."
    echo "40.0.0 IN PTR client.outside.example."
    echo "60.0.0 IN PTR relay.outside.example."
  } >"$MW_ZONES/127.in-addr.arpa.zone"

  cat >"$conf" <<EOF
server:
  ip-address: $MW_IP_DNS@53
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$MW_ZONES"
  database: ""
  zonelistfile: "$S/nsd.zonelist"
  xfrdfile: "$S/nsd.xfrd"
  xfrdir: "$S"
  pidfile: "$S/nsd.pid"
  logfile: "$MW_LOGS/nsd.log"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
EOF
  for d in "$MW_LOCAL_DOMAIN" "${!MW_DMARC[@]}" outside.example 127.in-addr.arpa; do
    printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$d" "$d" >>"$conf"
  done
  nsd-checkconf "$conf" >/dev/null || mw_die "nsd-checkconf rejected $conf"
}

mw_nsd_start() {
  ip netns exec "$MW_NS" setsid nsd -d -c "$S/nsd.conf" </dev/null >>"$MW_LOGS/nsd.stderr" 2>&1 &
  echo $! >"$S/nsd.run.pid"
  local i
  for i in $(seq 1 50); do
    if ns "$MW_PYTHON" - "$MW_IP_DNS" >/dev/null 2>&1 <<'EOF'
import sys, dns.resolver
r = dns.resolver.Resolver(configure=False); r.nameservers = [sys.argv[1]]; r.lifetime = 1
r.resolve("mx.mailward.example", "A")
EOF
    then return 0; fi
    sleep 0.2
  done
  mw_die "nsd did not answer on $MW_IP_DNS (see $MW_LOGS/nsd.log, nsd.stderr)"
}

mw_nsd_stop() {
  local pid
  pid="$(cat "$MW_STATE/nsd.run.pid" 2>/dev/null)" || return 0
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$MW_STATE/nsd.run.pid"
}

# --- Dovecot (LMTP delivery, SASL for Postfix, IMAP for the demo) --------------------------------

mw_dovecot_write() {
  mkdir -p "$S/dovecot" "$S/dr" "$S/dovecot/state" "$MW_MAIL"
  chown 65534:65534 "$MW_MAIL"
  local u
  : >"$S/dovecot/users"
  for u in "$MW_USER:$MW_USER_PASSWORD" "$MW_RCPT:bob-secret-pw"; do
    local name="${u%%:*}" pw="${u#*:}"
    echo "$name:{PLAIN}$pw:65534:65534::$MW_MAIL/${name#*@}/${name%@*}::" >>"$S/dovecot/users"
  done
  chmod 0640 "$S/dovecot/users"; chgrp dovecot "$S/dovecot/users"
  cat >"$MW_DOVECOT_CONF" <<EOF
# Private Dovecot of the mailward integration stack (generated).
base_dir = $S/dr
state_dir = $S/dovecot/state
instance_name = mw-dovecot-$MW_NS
hostname = mx.$MW_LOCAL_DOMAIN
log_path = $MW_LOGS/dovecot.log
info_log_path = $MW_LOGS/dovecot.log
protocols = lmtp imap
listen = $MW_IP_DOVECOT
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1000
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN $S/dovecot/users
}
userdb {
  driver = passwd-file
  args = $S/dovecot/users
}
service lmtp {
  inet_listener lmtp {
    address = $MW_IP_DOVECOT
    port = 24
  }
}
service imap-login {
  inet_listener imap {
    address = $MW_IP_DOVECOT
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
service auth {
  unix_listener $MW_SPOOL_MX/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
  postmaster_address = postmaster@$MW_LOCAL_DOMAIN
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
EOF
}

mw_dovecot_start() {
  ns dovecot -c "$MW_DOVECOT_CONF" </dev/null >>"$MW_LOGS/dovecot.stderr" 2>&1 \
    || mw_die "dovecot did not start: $(tail -5 "$MW_LOGS/dovecot.stderr" "$MW_LOGS/dovecot.log" 2>/dev/null)"
  mw_wait_port "$MW_IP_DOVECOT" 24 "dovecot lmtp"
}

# --- Postfix ------------------------------------------------------------------------------------

# mw_postfix_write NAME CONFDIR SPOOL MAIN_CF_LINES: a private instance with Debian's master.cf
# (chroot on), its own queue and data directories, logging to a file.
mw_postfix_write() {
  local name="$1" conf="$2" spool="$3" extra="$4"
  mkdir -p "$conf" "$spool" "$S/data-$name"
  chown postfix "$S/data-$name"
  cp /etc/postfix/master.cf "$conf/master.cf"
  cat >"$conf/main.cf" <<EOF
# Private Postfix "$name" of the mailward integration stack (generated).
compatibility_level = 3.6
queue_directory = $spool
data_directory = $S/data-$name
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-$name
maillog_file = $MW_LOGS/postfix-$name.log
maillog_file_prefixes = $MW_LOGS
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP
delay_warning_time = 0
$extra
EOF
  # The queue directory must exist before post-install create-missing (DESIGN.md, test environment).
  # `postfix check` runs post-install create-missing; its errors go to maillog_file, not to stderr.
  ns postfix -c "$conf" check >>"$MW_LOGS/postfix-$name.setup" 2>&1 \
    || mw_die "postfix check (create-missing) failed for $name: $(tail -3 "$MW_LOGS/postfix-$name.log" 2>/dev/null)"
  # Debian's helper copies resolv.conf (the namespace's), hosts, services, nss libs into the chroot.
  ns env MAIL_CONFIG="$conf" /usr/lib/postfix/configure-instance.sh - >>"$MW_LOGS/postfix-$name.setup" 2>&1 \
    || mw_die "configure-instance.sh failed for $name"
  grep -q "$MW_IP_DNS" "$spool/etc/resolv.conf" || mw_die "chroot resolv.conf of $name is not the namespace's"
}

mw_postfix_mx_write() {
  local milter_lines=""
  if [ -n "${MAILWARD_MILTER:-}" ]; then
    milter_lines="smtpd_milters = unix:mailward/milter.sock
milter_default_action = tempfail
milter_protocol = 6"
  fi
  mw_postfix_write mx "$MW_PF_MX" "$MW_SPOOL_MX" "myhostname = mx.$MW_LOCAL_DOMAIN
mydomain = $MW_LOCAL_DOMAIN
myorigin = \$mydomain
inet_interfaces = $MW_IP_MX
smtp_bind_address = $MW_IP_MX
mynetworks = 127.0.0.1/32
virtual_mailbox_domains = $MW_LOCAL_DOMAIN
virtual_transport = lmtp:inet:[$MW_IP_DOVECOT]:24
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = no
$milter_lines"
  cat >>"$MW_PF_MX/master.cf" <<EOF
# mailward integration stack: SASL submission (no TLS inside the test namespace)
587       inet  n       -       y       -       -       smtpd
  -o syslog_name=postfix-mx/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
EOF
  mkdir -p "$MW_SPOOL_MX/mailward"
  chmod 0755 "$MW_SPOOL_MX/mailward"
}

mw_postfix_out_write() {
  mw_postfix_write out "$MW_PF_OUT" "$MW_SPOOL_OUT" "myhostname = relay.outside.example
mydomain = outside.example
inet_interfaces = $MW_IP_OUT
smtp_bind_address = $MW_IP_OUT
mynetworks = $MW_IP_OUT_CLIENT/32
relay_domains =
smtpd_relay_restrictions = permit_mynetworks reject
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s"
}

mw_postfix_start() { # NAME CONFDIR IP
  ns postfix -c "$2" start </dev/null >>"$MW_LOGS/postfix-$1.setup" 2>&1 \
    || mw_die "postfix $1 did not start: $(tail -5 "$MW_LOGS/postfix-$1.log" 2>/dev/null)"
  mw_wait_port "$3" 25 "postfix $1"
}

# --- mailward-milter ----------------------------------------------------------------------------

mw_milter_write() {
  cat >"$MW_MILTER_CONF" <<EOF
# mailward-milter configuration of the integration stack (generated).
[log]
destination = $MW_MILTER_LOG
level = ${MW_MILTER_LOG_LEVEL:-debug}
[dns]
servers = $MW_IP_DNS:53
timeout = 2s
attempts = 2
[milter]
socket = $MW_MILTER_SOCKET
socket_mode = 0660
socket_group = postfix
${MW_MILTER_USER:+user = $MW_MILTER_USER
}authserv_id = $MW_AUTHSERV_ID
fail_mode = tempfail
trusted_networks = 127.0.0.1/32
[spf]
enabled = yes
[dkim]
verify = yes
min_rsa_bits = 1024
[dkim-sign]
key = $MW_LOCAL_DOMAIN $MW_SIGN_SELECTOR $MW_KEYS/$MW_LOCAL_DOMAIN.$MW_SIGN_SELECTOR.key
[dmarc]
enabled = yes
enforce = yes
quarantine = header
psl_file = /usr/share/publicsuffix/public_suffix_list.dat
EOF
}

mw_milter_start() {
  [ -n "${MAILWARD_MILTER:-}" ] || mw_die "mw_milter_start: MAILWARD_MILTER is not set"
  [ -x "$MAILWARD_MILTER" ] || mw_die "MAILWARD_MILTER=$MAILWARD_MILTER is not executable"
  rm -f "$MW_MILTER_SOCKET"
  ip netns exec "$MW_NS" setsid "$MAILWARD_MILTER" --config "$MW_MILTER_CONF" </dev/null >>"$MW_LOGS/milter.stderr" 2>&1 &
  echo $! >"$S/milter.run.pid"
  local i pid=$!
  for i in $(seq 1 100); do
    [ -S "$MW_MILTER_SOCKET" ] && return 0
    kill -0 "$pid" 2>/dev/null || mw_die "mailward-milter exited at start: $(tail -5 "$MW_LOGS/milter.stderr" "$MW_MILTER_LOG" 2>/dev/null)"
    sleep 0.1
  done
  mw_die "mailward-milter did not create $MW_MILTER_SOCKET within 10 s"
}

# mw_milter_stop [SIGNAL]: default TERM; KILL for the crash scenario.
mw_milter_stop() {
  local sig="${1:-TERM}" pid i
  pid="$(cat "$MW_STATE/milter.run.pid" 2>/dev/null)" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$MW_STATE/milter.run.pid"
}

# --- bring-up and tear-down ---------------------------------------------------------------------

mw_wait_port() { # IP PORT WHAT
  local i
  for i in $(seq 1 100); do
    ns ss -Hltn "src $1:$2" 2>/dev/null | mw_has . && return 0
    sleep 0.1
  done
  mw_die "$3 is not listening on $1:$2"
}

mw_up() {
  mw_require
  mw_state_init
  if [ -f "$MW_STATE/stack.env" ]; then
    mw_log "a previous stack left state in $MW_STATE: tearing it down first"
    (mw_attach "$MW_STATE" 2>/dev/null; mw_down) || true
  fi
  find "$MW_STATE" -mindepth 1 -delete 2>/dev/null || true
  chmod 0755 "$MW_STATE"
  MW_NS="mw-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
  mw_paths
  mkdir -p "$MW_LOGS"
  mw_write_env
  if [ "${MW_PERSIST:-0}" != 1 ]; then
    trap 'mw_down' EXIT
    trap 'exit 143' TERM HUP INT   # so a CTest timeout still runs the EXIT trap
  fi
  mw_log "namespace $MW_NS, state $MW_STATE"

  ip netns add "$MW_NS" || mw_die "ip netns add $MW_NS failed (need root and CAP_SYS_ADMIN; not skipping)"
  mkdir -p "/etc/netns/$MW_NS"
  printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$MW_IP_DNS" >"/etc/netns/$MW_NS/resolv.conf"
  ns ip link set lo up
  local ip
  for ip in $MW_ALL_IPS; do ns ip addr add "$ip/32" dev lo 2>/dev/null || true; done

  mkdir -p "$MW_KEYS"
  mw_zones_write
  mw_nsd_start
  mw_postfix_mx_write
  mw_postfix_out_write
  mw_dovecot_write
  mw_dovecot_start
  if [ -n "${MAILWARD_MILTER:-}" ]; then
    mw_milter_write
    mw_milter_start
  fi
  mw_postfix_start mx "$MW_PF_MX" "$MW_IP_MX"
  mw_wait_port "$MW_IP_MX" 587 "postfix mx submission"
  mw_postfix_start out "$MW_PF_OUT" "$MW_IP_OUT"
  mw_log "stack up (milter: ${MAILWARD_MILTER:-none})"
}

# mw_down: stop every process of the namespace (all of them were started by this harness), delete it.
mw_down() {
  [ -n "${MW_NS:-}" ] || return 0
  if ip netns list 2>/dev/null | mw_has -w "$MW_NS"; then
    [ -z "${MW_PF_MX:-}" ] || ns postfix -c "$MW_PF_MX" stop >/dev/null 2>&1 </dev/null || true
    [ -z "${MW_PF_OUT:-}" ] || ns postfix -c "$MW_PF_OUT" stop >/dev/null 2>&1 </dev/null || true
    mw_milter_stop TERM
    mw_nsd_stop
    [ -z "${MW_DOVECOT_CONF:-}" ] || ns doveadm -c "$MW_DOVECOT_CONF" stop >/dev/null 2>&1 </dev/null || true
    local pids i
    for i in $(seq 1 30); do
      pids="$(ip netns pids "$MW_NS" 2>/dev/null)"
      [ -n "$pids" ] || break
      # shellcheck disable=SC2086
      [ "$i" -lt 20 ] && kill $pids 2>/dev/null || kill -9 $pids 2>/dev/null
      sleep 0.2
    done
    ip netns del "$MW_NS" 2>/dev/null || true
  fi
  rm -rf "/etc/netns/$MW_NS"
  [ -z "${MW_STATE:-}" ] || rm -f "$MW_STATE/stack.env"
  mw_log "namespace $MW_NS torn down"
  MW_NS=""
}

# --- messages -----------------------------------------------------------------------------------

# mw_message OUT FROM TO SUBJECT MARKER [EXTRA_HEADER_LINES]: a CRLF message whose Message-ID and body
# carry MARKER, so the delivered copy can be found.
mw_message() {
  local out="$1" from="$2" to="$3" subject="$4" marker="$5" extra="${6:-}"
  {
    [ -z "$extra" ] || printf '%s\n' "$extra"
    printf 'From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@mailward.test-harness>\n' \
      "$from" "$to" "$subject" "$(LC_ALL=C date -R)" "$marker"
    printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
    printf 'Test message %s.\nThis line is covered by the DKIM body hash.\n' "$marker"
  } | sed 's/$/\r/' >"$out"
}

# mw_dkim_sign IN OUT DOMAIN [SELECTOR]: sign with the domain's test key using python3-dkim (an
# implementation independent of mailward), relaxed/relaxed.
mw_dkim_sign() {
  local sel="${4:-$MW_OUT_SELECTOR}"
  "$MW_PYTHON" /usr/bin/dkimsign --hcanon relaxed --bcanon relaxed "$sel" "$3" "$MW_KEYS/$3.$sel.key" \
    <"$1" >"$2" || mw_die "dkimsign failed for $3"
}

# mw_dkim_verify FILE: python3-dkim's verdict on the first signature, against the nsd-published key.
mw_dkim_verify() {
  ns "$MW_PYTHON" /usr/bin/dkimverify <"$1"
}

# mw_swaks OUT SRC_IP [swaks args]: one SMTP session from SRC_IP to the MX (port 25 unless --port is
# given); the transcript goes to OUT. Returns swaks's status.
mw_swaks() {
  local out="$1" src="$2"; shift 2
  ns swaks --server "$MW_IP_MX" --local-interface "$src" --timeout 120 "$@" >"$out" 2>&1
}

# mw_send OUT SRC_IP HELO MAIL_FROM RCPT FILE [swaks args]
mw_send() {
  local out="$1" src="$2" helo="$3" from="$4" rcpt="$5" file="$6"; shift 6
  mw_swaks "$out" "$src" --helo "$helo" --from "$from" --to "$rcpt" --data "@$file" "$@"
}

# mw_smtp_last TRANSCRIPT: the last line of the server's last reply before QUIT (swaks marks replies
# "<-" and error replies "<**").
mw_smtp_last() {
  awk '/^ *-> QUIT/ { q = 1; next }
       /^ *(<-|<\*\*) / { if (!q) last = $0; q = 0 }
       END { print last }' "$1" | tr -d '\r' | sed -E 's/^ *(<-|<\*\*) +//'
}
# mw_smtp_replies TRANSCRIPT: every reply line, markers removed.
mw_smtp_replies() { awk '/^ *(<-|<\*\*) /' "$1" | tr -d '\r' | sed -E 's/^ *(<-|<\*\*) +//'; }
# mw_queue_id TRANSCRIPT: the queue id Postfix gave the message ("" if not queued).
mw_queue_id() { grep -oE 'queued as [0-9A-Za-z]+' "$1" | tail -1 | awk '{print $3}' || true; }

# mw_wait_delivery MARKER [SECONDS]: prints the Maildir file holding MARKER once Dovecot stored it.
mw_wait_delivery() {
  local marker="$1" t="${2:-30}" i f
  for i in $(seq 1 $((t * 5))); do
    f="$(grep -rlF -- "$marker" "$MW_MAIL"/*/*/Maildir/new "$MW_MAIL"/*/*/Maildir/cur 2>/dev/null | head -1)"
    [ -n "$f" ] && { echo "$f"; return 0; }
    sleep 0.2
  done
  return 1
}

# mw_header FILE NAME: every instance of header NAME (case-insensitive), unfolded, one per line.
mw_header() {
  awk -v want="$(echo "$2" | tr 'A-Z' 'a-z')" '
    function flush() { if (on) print cur; on = 0; cur = "" }
    /^\r?$/ { exit }
    /^[ \t]/ { if (on) cur = cur " " $0; next }
    { flush()
      n = index($0, ":"); name = tolower(substr($0, 1, n - 1))
      if (name == want) { on = 1; cur = substr($0, n + 1) } }
    END { flush() }' "$1" | tr -d '\r' | sed -E 's/[ \t]+/ /g; s/^ //; s/ $//'
}

# mw_qid_of_marker MARKER [mx|out] [SECONDS]: the queue id whose Message-ID carries MARKER, from the
# cleanup log line (also for messages refused at end of DATA, which get no "queued as").
mw_qid_of_marker() {
  local i q
  for i in $(seq 1 $(( ${3:-5} * 5 ))); do
    q="$(grep -F "message-id=<$1@" "$MW_LOGS/postfix-${2:-mx}.log" 2>/dev/null | tail -1 | sed -E 's/.*\]: ([0-9A-Za-z]+): message-id=.*/\1/' || true)"
    [ -n "$q" ] && { echo "$q"; return 0; }
    sleep 0.2
  done
  return 1
}
# mw_read_delivered MARKER: the delivered message carrying MARKER, on stdout.
mw_read_delivered() { local f; f="$(mw_wait_delivery "$1" "${2:-30}")" && cat "$f"; }
# mw_fate QUEUE_ID [mx|out]: the Postfix log lines for that queue id.
mw_fate() { grep -F " ${1}: " "$MW_LOGS/postfix-${2:-mx}.log" 2>/dev/null; }
