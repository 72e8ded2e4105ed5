#!/usr/bin/env bash
# run_scenario.sh NAME STATE_DIR — runs scenarios/NAME.sh against the stack the fixture brought up.
# Every failure is reported as "scenario NAME: FAIL: reason", with the relevant log lines.
set -Eeuo pipefail
# No silent exits: a command failing under set -e names itself and the scenario.
trap 'echo "scenario ${MW_SCENARIO:-?}: FAIL: unexpected failure of \"$BASH_COMMAND\" (line $LINENO)" >&2' ERR
. "$(dirname "$0")/lib/stack.sh"
MW_SCENARIO="$1"
mw_attach "$2"
MW_WORK="$MW_STATE/work/$MW_SCENARIO"
rm -rf "$MW_WORK"; mkdir -p "$MW_WORK"

fail() {
  echo "scenario $MW_SCENARIO: FAIL: $*" >&2
  echo "--- last milter log lines ($MW_MILTER_LOG):" >&2; tail -15 "$MW_MILTER_LOG" >&2 2>/dev/null || true
  echo "--- last postfix mx log lines:" >&2; tail -15 "$MW_PF_MX_LOG" >&2 2>/dev/null || true
  exit 1
}
# marker: a token unique to this run, for finding the delivered copy.
marker() { echo "$MW_SCENARIO-$1-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; }
# expect_reply TRANSCRIPT REGEX WHAT: the last SMTP reply must match REGEX.
expect_reply() {
  local last; last="$(mw_smtp_last "$1")"
  [[ "$last" =~ $2 ]] || fail "$3: expected a reply matching /$2/, got '$last' (transcript $1)"
  echo "  $3: $last"
}
# ar_ours FILE: the Authentication-Results headers carrying our authserv-id (RFC 8601 §2.2).
ar_ours() { mw_header "$1" Authentication-Results | grep -E "^$MW_AUTHSERV_ID( |;)" || true; }

# shellcheck disable=SC1090
. "$(dirname "$0")/scenarios/$MW_SCENARIO.sh"
echo "scenario $MW_SCENARIO: PASS"
