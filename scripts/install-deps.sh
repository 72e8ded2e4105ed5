#!/usr/bin/env bash
# Installs every system dependency of mailward from Debian 12's own packages.
# Used by the README's set-up commands and by .ci/run; safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix asks a question on install; answer it in advance (DESIGN.md, test environment).
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string mailward.invalid" | debconf-set-selections

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # libraries mailward links
  libmilter-dev libssl-dev libpsl-dev psl
  dovecot-dev libcurl4-openssl-dev libhiredis-dev liblmdb-dev libhyperscan-dev nlohmann-json3-dev
  # test oracles, fixtures and benchmark anchors
  libopendkim-dev opendkim opendkim-tools opendmarc python3-dkim libyaml-cpp-dev
  postfix-policyd-spf-python postfwd spamassassin spamd rspamd curl openssl python3
  # the real mail stack the integration tests and the demo run
  postfix dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve nsd swaks redis-server
  iproute2 procps psmisc zstd ca-certificates
  # packaging: cpack DEB/RPM, dpkg-shlibdeps, systemd-analyze security (tests/integration/package)
  rpm dpkg-dev systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps.sh: all ${#packages[@]} packages present"
