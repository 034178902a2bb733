#!/usr/bin/env bash
# Kills a training run with SIGKILL at random points, KILLS times (default 20), resuming it after
# each kill, and checks that the finished run's weights and metrics.jsonl are byte-identical to an
# uninterrupted run's (same seed, same threads): no step logged twice, no torn line, no lost update.
#
#   bash scripts/kill_resume.sh [KILLS] [SEED]
#
# Uses the release build (HALLU_BIN to override) and the tiny default baseline as the base model
# (built into HALLU_CACHE on first use). Run it under `nice -n 10` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HALLU_BIN:-$PWD/.build/release/hallu}
KILLS=${1:-20}
SEED=${2:-$RANDOM}
T=$(mktemp -d /tmp/hallu-kill.XXXXXX)
export HALLU_CACHE=${HALLU_CACHE:-$T/cache} HALLU_THREADS=${HALLU_THREADS:-2}
trap 'rm -rf "$T"' EXIT
RANDOM=$SEED

BASE=$(ls -d "$HALLU_CACHE"/baseline-tiny-*/run/model 2>/dev/null | head -1 || true)
if [ -z "$BASE" ]; then
  echo "building the tiny baseline into $HALLU_CACHE (once)"
  "$BIN" run --method sft --preset tiny --steps 1 --skip-eval --runs-dir "$T/warmup" --name warmup >/dev/null
  BASE=$(ls -d "$HALLU_CACHE"/baseline-tiny-*/run/model | head -1)
fi

common=(--method sft --base "$BASE" --steps 240 --seed 11 --set save_every=7 --set keep_last=2 --skip-eval --runs-dir "$T/runs")
start=$(date +%s)
"$BIN" run "${common[@]}" --name straight >/dev/null
echo "uninterrupted run: $(( $(date +%s) - start )) s"

# The step of the newest checkpoint, and the step of the last complete line of metrics.jsonl.
ckpt_step() { ls "$T/runs/killed/checkpoint" 2>/dev/null | sed -n "s/^step-//p" | sort -n | tail -1 || true; }
last_step() { tail -c 4000 "$T/runs/killed/metrics.jsonl" 2>/dev/null | grep -o '"step":[0-9]*' | tail -1 | cut -d: -f2 || true; }

kills=0
while [ "$kills" -lt "$KILLS" ]; do
  [ -f "$T/runs/killed/summary.json" ] && { echo "the run finished after $kills kills; give it more steps"; exit 1; }
  resume=()
  [ -f "$T/runs/killed/config.json" ] && resume=(--resume)
  from=$(ckpt_step); from=${from:-0}
  # Lines past the checkpoint are cut when the run resumes; count progress past the last one logged.
  logged=$(last_step); logged=${logged:-0}; [ "$logged" -lt "$from" ] && logged=$from
  "$BIN" run "${common[@]}" --name killed "${resume[@]}" >>"$T/killed.log" 2>&1 &
  pid=$!
  if [ $((RANDOM % 4)) -eq 0 ]; then
    # A random time in the first 3 s: loading the model and the data, or the first steps.
    sleep "$(( RANDOM % 3 )).$(printf '%02d' $(( RANDOM % 100 )))"
    where="at $(( RANDOM % 3 )) s"
  else
    # A random step 1 to 12 past the last one logged, then a random fraction of a step: in a
    # step, in a checkpoint save (every 7 steps), or in writing the log.
    target=$(( logged + 1 + RANDOM % 12 ))
    for _ in $(seq 1 1200); do
      s=$(last_step); [ "${s:-0}" -ge "$target" ] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    sleep "0.$(printf '%02d' $(( RANDOM % 100 )))"
    where="near step $target"
  fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
    echo "kill $kills $where: resumed from step $from, logged up to step $(last_step), checkpoints: $(ls "$T/runs/killed/checkpoint" 2>/dev/null | tr '\n' ' ')"
  fi
  wait "$pid" 2>/dev/null || true
done
resume=()
[ -f "$T/runs/killed/config.json" ] && resume=(--resume)
"$BIN" run "${common[@]}" --name killed "${resume[@]}" >>"$T/killed.log" 2>&1 || { tail -20 "$T/killed.log"; exit 1; }

cmp "$T/runs/straight/model/model.safetensors" "$T/runs/killed/model/model.safetensors"
cmp "$T/runs/straight/metrics.jsonl" "$T/runs/killed/metrics.jsonl"
lines=$(wc -l < "$T/runs/killed/metrics.jsonl")
dups=$(grep -o '"step":[0-9]*' "$T/runs/killed/metrics.jsonl" | sort | uniq -d | wc -l)
echo "after $kills kills (seed $SEED) and resumes: weights identical, metrics.jsonl identical ($lines lines, $dups duplicated steps)"
