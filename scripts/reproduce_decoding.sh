#!/usr/bin/env bash
# Reproduces the decoding-methods tables of docs/RESULTS.md: the default baseline, and the model that
# `hallu run --method hsadpo` trains with its own defaults, each evaluated with plain greedy search,
# beam 5, sampling and every decoding plugin (three seeds wherever a cell samples).
# Usage: scripts/reproduce_decoding.sh [OUT_DIR]   (default runs/decoding)
# EVAL_IMAGES (default 500), THREADS (default 2) and DECODERS (default: every one `hallu plugins` lists)
# narrow it. Finished cells are kept; rerunning continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HALLU_BIN:-$PWD/.build/release/hallu}
OUT=${1:-runs/decoding}
EVAL=${EVAL_IMAGES:-500}
THREADS=${THREADS:-2}
SEEDS=${SEEDS:-"0 1 2"}
mkdir -p "$OUT"

# The model trained by the default HSA-DPO job (builds the world and baseline into the cache first).
[ -f "$OUT/hsadpo/model/config.json" ] ||
  "$BIN" run --method hsadpo --skip-eval --threads "$THREADS" --runs-dir "$OUT" --name hsadpo > "$OUT/hsadpo.log" 2>&1
CACHE=${HALLU_CACHE:-$HOME/.cache/hallu}
BASE=$(ls -td "$CACHE"/baseline-small-*/run/model | head -1)

available=$("$BIN" plugins 2>/dev/null | grep -o -- '(--decode [a-z0-9_-]*)' | tr -d '()' | awk '{print $2}' | sort -u | tr '\n' ' ')
DECODERS=${DECODERS:-$available}

# name|flags. VCD is defined on sampling in its paper (temperature 1, top-p 1); the others on greedy
# search, OPERA on beam 5.
cells=("greedy|" "beam5|--num-beams 5")
for s in $SEEDS; do cells+=("sample-seed$s|--temperature 1 --top-p 1 --seed $s"); done
for d in $DECODERS; do
  case $d in
    vcd) cells+=("vcd-greedy|--decode vcd")
         for s in $SEEDS; do cells+=("vcd-sample-seed$s|--decode vcd --temperature 1 --top-p 1 --seed $s"); done ;;
    opera) cells+=("opera-beam5|--decode opera --num-beams 5" "opera-greedy|--decode opera") ;;
    *) cells+=("$d-greedy|--decode $d") ;;
  esac
done

for model in baseline hsadpo; do
  dir=$BASE; [ "$model" = hsadpo ] && dir=$OUT/hsadpo/model
  mkdir -p "$OUT/$model"
  for cell in "${cells[@]}"; do
    name=${cell%%|*}; flags=${cell#*|}
    out="$OUT/$model/$name"
    [ -f "$out/metrics.json" ] && continue
    echo "$model / $name"
    # shellcheck disable=SC2086
    HALLU_THREADS=$THREADS "$BIN" eval model --model "$dir" --images "$EVAL" $flags --out "$out" --json > /dev/null 2> "$out.log" ||
      echo "failed: $model / $name (see $out.log)"
  done
done
python3 scripts/decoding_table.py "$OUT" | tee "$OUT/DECODING.table.md"
