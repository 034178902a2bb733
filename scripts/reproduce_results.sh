#!/usr/bin/env bash
# Reproduces docs/RESULTS.md: every method against continued SFT on the default scene world, over
# three seeds, from the cached default baseline (built first if absent). Runs two cells at a time on
# one thread each. Usage: scripts/reproduce_results.sh [OUT_DIR]   (default runs/results)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HALLU_BIN:-$PWD/.build/release/hallu}
OUT=${1:-runs/results}
SEEDS=${SEEDS:-"0 1 2"}
STEPS=${STEPS:-100}
EVAL=${EVAL_IMAGES:-500}
mkdir -p "$OUT"

# The baseline (trained once, cached); its own evaluation is not needed here.
"$BIN" run --method sft --steps 1 --skip-eval --runs-dir "$OUT" --name .baseline-warmup >/dev/null 2>&1 || true

common="--steps $STEPS --eval-images $EVAL --threads 1 --runs-dir $OUT"
cells=(
  "sft|--set lr=3e-4 --set batch_size=16"
  "selective-eos|--set lr=3e-4 --set batch_size=16"
  "selective-eos-lr1e-4|--method selective-eos --set lr=1e-4 --set batch_size=16"
  "scoring-eos|--set lr=3e-4 --set batch_size=16"
  "ha-dpo|--set lr=1e-5 --set batch_size=8"
  "hsadpo|--set lr=1e-5 --set batch_size=8"
  "hsadpo-noscore|--method hsadpo --set hsadpo.use_rejected_score=false --set lr=1e-5 --set batch_size=8"
  "hsadpo-pipeline|--method hsadpo --set hsadpo.pipeline=true --set lr=1e-5 --set batch_size=8"
  "hacl|--set lr=3e-4 --set batch_size=8"
  "ha-dpo-lr1e-4|--method ha-dpo --set lr=1e-4 --set batch_size=8"
  "hsadpo-lr1e-4|--method hsadpo --set lr=1e-4 --set batch_size=8"
  "hsadpo-noscore-lr1e-4|--method hsadpo --set hsadpo.use_rejected_score=false --set lr=1e-4 --set batch_size=8"
  "hsadpo-pipeline-correct|--method hsadpo --set hsadpo.pipeline=true --set hsadpo.rewrite=correct --set lr=1e-5 --set batch_size=8"
)
jobs=()
for seed in $SEEDS; do
  for cell in "${cells[@]}"; do
    name=${cell%%|*}; flags=${cell#*|}
    method=$name
    [[ "$flags" == --method* ]] && method=""
    run="$name-seed$seed"
    [ -f "$OUT/$run/summary.json" ] && continue
    resume=""; [ -d "$OUT/$run" ] && resume="--resume"
    jobs+=("$BIN run ${method:+--method $method} $flags --seed $seed $common --name $run $resume")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} bash -c '{} > /dev/null 2>&1 || echo "failed: {}"'
python3 scripts/results_table.py "$OUT" > "$OUT/RESULTS.table.md"
cat "$OUT/RESULTS.table.md"
