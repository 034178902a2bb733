#!/usr/bin/env bash
# Structured fuzzing of every input hallu reads (docs/RELIABILITY.md). Every case must end in
# success or a clear error: a signal, a hang (past the timeout) or an unclear error fails the run,
# and the failing inputs are saved for the corpus (Tests/Fixtures/fuzz/corpus).
#
#   bash scripts/fuzz.sh                       CI: a fixed seed and case count (about a minute)
#   bash scripts/fuzz.sh long N [SEED] [JOBS]  by hand: N cases under nice -n 10
#   bash scripts/fuzz.sh replay                the corpus of inputs that once failed
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ=${HALLU_FUZZ_BIN:-$PWD/.build/release/hallu-fuzz}
SAVE=${FUZZ_SAVE:-/tmp/hallu-fuzz-failures}
case ${1:-ci} in
  ci)
    "$FUZZ" run --cases "${FUZZ_CASES:-3000}" --seed 1 --jobs 2 --timeout 120 --fixtures Tests/Fixtures \
      --save "$SAVE" --summary "${FUZZ_SUMMARY:-/tmp/hallu-fuzz-ci.json}" ;;
  long)
    nice -n 10 "$FUZZ" run --cases "${2:-100000}" --seed "${3:-$RANDOM}" --jobs "${4:-2}" --timeout 120 --fixtures Tests/Fixtures \
      --save "$SAVE" --summary "${FUZZ_SUMMARY:-/tmp/hallu-fuzz-long.json}" ;;
  replay)
    "$FUZZ" replay Tests/Fixtures/fuzz/corpus --fixtures Tests/Fixtures ;;
  *)
    echo "usage: bash scripts/fuzz.sh [ci | long N [SEED] [JOBS] | replay]"; exit 2 ;;
esac
