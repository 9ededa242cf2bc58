#!/usr/bin/env bash
# Run the unit tests (not the notebooks) N times (default 20), each in a random order
# drawn from a different seed, and stop at the first failure. Proves that no test leaks
# state into another or depends on the order: see CS231N_TEST_SHUFFLE in tests/conftest.py.
#
#   bash scripts/shuffled_runs.sh [N] [pytest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
shift || true
log=$(mktemp)
for seed in $(seq 1 "$runs"); do
  if ! CS231N_TEST_SHUFFLE=$seed python -m pytest tests -q -p no:cacheprovider "$@" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "run $seed of $runs (CS231N_TEST_SHUFFLE=$seed) failed"
    exit 1
  fi
  echo "run $seed of $runs (CS231N_TEST_SHUFFLE=$seed): $(tail -n 1 "$log")"
done
rm -f "$log"
echo "$runs shuffled runs, no failure."
