#!/usr/bin/env bash
# fixture.sh up|down STATE_DIR — the CTest fixture around the scenario tests: brings the stack (with
# mailward-milter from $MAILWARD_MILTER) up and leaves it running, or tears it down.
set -euo pipefail
. "$(dirname "$0")/lib/stack.sh"
case "${1:-}" in
  up)
    [ -n "${MAILWARD_MILTER:-}" ] || mw_die "fixture.sh up: MAILWARD_MILTER is not set"
    MW_STATE="$2" MW_PERSIST=1
    # If bring-up fails half-way, take down what exists so nothing leaks.
    trap 'rc=$?; [ $rc -eq 0 ] || mw_down' EXIT
    mw_up
    ;;
  down)
    mw_attach "$2"
    mw_down
    ;;
  *) echo "usage: fixture.sh up|down STATE_DIR" >&2; exit 2 ;;
esac
