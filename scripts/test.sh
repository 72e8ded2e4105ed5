#!/usr/bin/env bash
# The test command (README, and .ci/run): installs what is needed, builds twice (gcc, and clang with
# ASan + UBSan + libFuzzer), runs the unit tests under the sanitizers, a short run of every fuzz
# target, then every test of the normal build (unit, fuzz seed replays, integration through real
# Postfix, Dovecot and nsd in a network namespace). Ends with CTest's summary line.
#
#   sudo scripts/test.sh            # everything
#   FUZZ_SECONDS=5 scripts/test.sh  # shorter fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${FUZZ_SECONDS:-20}

bash scripts/install-deps.sh

echo "== build (gcc, RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

echo "== build (clang, ASan + UBSan + libFuzzer)"
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMAILWARD_FUZZ=ON -DMAILWARD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"

echo "== unit tests under ASan + UBSan"
# Each test binary runs once with all its tests in one process (CTest would start one process per
# test case: over a thousand sanitizer start-ups).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan_failed=0
while IFS= read -r binary; do
  log=$(mktemp)
  if (cd "$(dirname "$binary")" && "$binary" --gtest_brief=1 >"$log" 2>&1); then
    echo "asan $(basename "$binary"): $(grep -aE '^\[  PASSED  \]' "$log" | head -n 1)"
  else
    echo "asan $(basename "$binary"): FAILED"; tail -n 60 "$log"; asan_failed=1
  fi
  rm -f "$log"
done < <(find "$root/build-asan" -type f -name '*_tests' -perm -u+x | sort)
[ "$asan_failed" -eq 0 ] || { echo "a unit test failed under the sanitizers"; exit 1; }

echo "== fuzz targets, ${fuzz_seconds}s each, ${jobs} at a time"
# run_fuzz TARGET RESULT_FILE: one short libFuzzer run from a copy of the seeds (never writes into
# the source tree); the verdict line (and the log's tail on failure) goes to RESULT_FILE.
run_fuzz() {
  local target=$1 result=$2 name=${1##*/fuzz_} corpus
  corpus=$(mktemp -d)
  cp -r "tests/fuzz/seeds/$name/." "$corpus/" 2>/dev/null || true
  if "$target" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=10 \
       -print_final_stats=0 "$corpus" >"$corpus.log" 2>&1; then
    echo "fuzz $name: ok, $(grep -ao 'Done [0-9]* runs' "$corpus.log" | head -n 1)" >"$result"
  else
    { echo "fuzz $name: FAILED"; tail -n 40 "$corpus.log"; } >"$result"
  fi
  rm -rf "$corpus" "$corpus.log"
}
mapfile -t fuzz_targets < <(find "$root/build-asan" -type f -name 'fuzz_*' -perm -u+x | sort)
[ "${#fuzz_targets[@]}" -gt 0 ] || { echo "no fuzz target was built"; exit 1; }
fuzz_results=$(mktemp -d)
for i in "${!fuzz_targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_fuzz "${fuzz_targets[$i]}" "$fuzz_results/$(printf '%03d' "$i")" &
done
wait
fuzz_failed=0
for f in "$fuzz_results"/*; do
  cat "$f"
  head -n 1 "$f" | grep -q ': ok' || fuzz_failed=1
done
[ "$(find "$fuzz_results" -type f | wc -l)" -eq "${#fuzz_targets[@]}" ] || fuzz_failed=1
rm -rf "$fuzz_results"
[ "$fuzz_failed" -eq 0 ] || { echo "a fuzz target failed"; exit 1; }

echo "== all tests (unit, fuzz replays, integration)"
unset ASAN_OPTIONS UBSAN_OPTIONS
cd build
# Integration tests hold one resource lock, so they still run one at a time; unit tests in parallel.
ctest --output-on-failure --timeout 600 -j"$jobs"
