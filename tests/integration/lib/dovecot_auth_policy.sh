# dovecot_auth_policy.sh — Dovecot's authentication policy (auth_policy_*) pointed at mailward's
# auth-policy endpoint, and an IMAP LOGIN attempt from a chosen source address, for the stack of
# stack.sh. Used by tests/integration/auth_policy/guessing.sh and scripts/demo.sh. Source it after
# stack.sh (it uses ns, MW_PYTHON, MW_IP_DOVECOT, MW_DOVECOT_CONF).

# mw_dovecot_auth_policy_write IP PORT KEY ORIGIN: appends to $MW_DOVECOT_CONF the auth policy served
# at http://IP:PORT/auth-policy with the API key KEY (X-API-Key header; the hash nonce is derived from
# it), checked before and after authentication and told the result, Dovecot's own fixed failure
# delay and anvil penalty switched off so that every delay seen is the policy's. ORIGIN names the
# caller in the comment line. Call it from a wrapped mw_dovecot_write (after the harness's writer).
mw_dovecot_auth_policy_write() {
  local ip="$1" port="$2" key="$3" origin="$4"
  cat >>"$MW_DOVECOT_CONF" <<EOF
# mailward auth policy ($origin)
auth_policy_server_url = http://$ip:$port/auth-policy
auth_policy_server_api_header = X-API-Key: $key
auth_policy_hash_nonce = nonce-$key
auth_policy_reject_on_fail = no
auth_policy_check_before_auth = yes
auth_policy_check_after_auth = yes
auth_policy_report_after_auth = yes
# Dovecot's own delays would hide mailward's: the fixed delay after a failure, and the per-address
# penalty kept in anvil (disabled by making its socket unusable, as Dovecot's documentation says).
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
}

# mw_imap_login SRC USER PASSWORD [DIGITS]: one IMAP connection from SRC to Dovecot, LOGIN USER
# PASSWORD; prints "ok SECONDS" or "no SECONDS" (the LOGIN's answer and how long it took, with DIGITS
# decimals, default 2). Exits non-zero when the connection itself fails.
mw_imap_login() {
  ns "$MW_PYTHON" - "$MW_IP_DOVECOT" "$1" "$2" "$3" "${4:-2}" <<'PY'
import imaplib, socket, sys, time
host, src, user, pw, digits = sys.argv[1:6]
class Client(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(src, 0))
c = Client(host, 143, timeout=30)
t0 = time.monotonic()
try:
    c.login(user, pw)
    result = "ok"
    c.logout()
except imaplib.IMAP4.error:
    result = "no"
print(result, "%.*f" % (int(digits), time.monotonic() - t0))
PY
}
