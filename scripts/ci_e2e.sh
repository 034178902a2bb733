#!/usr/bin/env bash
# End-to-end checks that drive the built `hallu` binary, as a user would:
#   1. the default job on the tiny preset (world + baseline built into a fresh cache, then a 50-step run);
#   2. exact resume: a run killed with SIGKILL mid-training and resumed ends with the same weights and
#      final loss as an uninterrupted run (same seed, same threads);
#   3. `hallu new-method` scaffolds a plugin that builds and trains for a few steps; the same plugin
#      built against a CoreRuntime whose public interface differs is refused with a rebuild message;
#   4. the end-to-end bench harness; 5. `eval model --decode` with each decoding plugin;
#   6. the example plugin of docs/ADDING_A_METHOD.md, built out of tree: it trains, is scored by its own
#      evaluator (metrics.json, summary.json, report.html, a sweep table, `hallu eval mentions`) and
#      decodes with its own hook.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HALLU_BIN:-$PWD/.build/release/hallu}
T=$(mktemp -d /tmp/hallu-e2e.XXXXXX)
export HALLU_CACHE=$T/cache HALLU_THREADS=2
trap 'rm -rf "$T"' EXIT

echo "== 1. default job, tiny preset"
start=$(date +%s)
"$BIN" run --method sft --preset tiny --steps 50 --runs-dir "$T/runs" --name default --eval-images 50
test -f "$T/runs/default/summary.json" && test -f "$T/runs/default/report.html"
echo "   finished in $(( $(date +%s) - start )) s (world and baseline included)"

BASE=$(ls -d "$HALLU_CACHE"/baseline-tiny-*/run/model)
echo "== 2. SIGKILL and resume"
common=(--method sft --base "$BASE" --steps 40 --seed 3 --set save_every=5 --set keep_last=2 --skip-eval --runs-dir "$T/runs")
"$BIN" run "${common[@]}" --name straight >/dev/null
"$BIN" run "${common[@]}" --name killed >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -d "$T/runs/killed/checkpoint/step-15" ] && break
  sleep 0.1
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [ -f "$T/runs/killed/summary.json" ]; then echo "the run finished before it could be killed"; exit 1; fi
"$BIN" run "${common[@]}" --name killed --resume >/dev/null
cmp "$T/runs/straight/model/model.safetensors" "$T/runs/killed/model/model.safetensors"
a=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['final_loss'])" "$T/runs/straight/summary.json")
b=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['final_loss'])" "$T/runs/killed/summary.json")
[ "$a" = "$b" ] || { echo "final loss differs: $a vs $b"; exit 1; }
echo "   identical weights and final loss ($a) after kill -9 and --resume"

echo "== 3. new-method scaffold"
"$BIN" new-method Foo --out "$T/Foo" --core "$PWD/Sources/CoreRuntime"
(cd "$T/Foo" && swift build 2>&1 | tail -1)
"$BIN" run --plugin "$T/Foo/.build/debug/libFoo.so" --method foo --base "$BASE" --steps 3 --skip-eval --runs-dir "$T/runs" --name foo
test -f "$T/runs/foo/summary.json"
# A copy of CoreRuntime with one more public declaration: a plugin built against it carries another
# interface fingerprint, and hallu refuses it before running any of its code.
# (The package's folder must keep its name: SwiftPM names a path dependency after its folder.)
mkdir -p "$T/changed"
cp -r Sources/CoreRuntime "$T/changed/CoreRuntime"
rm -rf "$T/changed/CoreRuntime/.build"
printf '\npublic func interfaceProbe() {}\n' >> "$T/changed/CoreRuntime/Version.swift"
"$BIN" new-method Probe --out "$T/Probe" --core "$T/changed/CoreRuntime" >/dev/null
(cd "$T/Probe" && swift build 2>&1 | tail -1)
if "$BIN" run --plugin "$T/Probe/.build/debug/libProbe.so" --method probe --base "$BASE" --steps 1 --skip-eval \
     --runs-dir "$T/runs" --name probe > "$T/probe.log" 2>&1; then
  echo "a plugin built against a changed CoreRuntime was accepted"; exit 1
fi
grep -q "another CoreRuntime interface" "$T/probe.log" && grep -q "rebuild the plugin" "$T/probe.log" \
  || { cat "$T/probe.log"; exit 1; }
echo "   refused: $(grep -o 'was built against another CoreRuntime interface[^:]*' "$T/probe.log")"

echo "== 4. end-to-end bench harness (tiny preset; a smoke test, not a measurement)"
"$BIN" bench e2e --quick --json > "$T/bench-e2e.json"
python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 2 and all(x['unit'] == 's' and x['hallu'] > 0 and x['peak_rss_mb'] > 0 for x in r), r
print('   ' + '; '.join('%s: %.1f s, %.0f MB' % (x['name'], x['hallu'], x['peak_rss_mb']) for x in r))
" "$T/bench-e2e.json"
echo "== 5. decoding methods on the baseline (plugins beside the binary)"
for d in vcd m3id dola opera; do
  "$BIN" eval model --model "$BASE" --images 4 --max-new-tokens 12 --batch-size 8 --decode "$d" --out "$T/eval-$d" --json > "$T/eval-$d.json"
  python3 -c "
import json, sys
m, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert m['settings']['decode'] == sys.argv[3] and 0 <= m['chair']['CHAIRs'] <= 1, m['settings']
assert c['forward_passes_per_token'] > 0 and c['tokens_per_second'] > 0, c
print('   %s: %.2f forward passes per token' % (sys.argv[3], c['forward_passes_per_token']))
" "$T/eval-$d.json" "$T/eval-$d/decoding_cost.json" "$d"
done
echo "== 6. the example plugin (docs/ADDING_A_METHOD.md), built out of tree"
start=$(date +%s)
CORE="$PWD/Sources/CoreRuntime"
cp -r examples/plugins/ObjectUnlikelihood "$T/ObjectUnlikelihood"
rm -rf "$T/ObjectUnlikelihood/.build"
# Built in step 3's build folder, whose debug build of the same CoreRuntime it reuses; its own tests
# include the gradient check of its custom op.
(cd "$T/ObjectUnlikelihood" && HALLU_CORE="$CORE" swift build --scratch-path "$T/Foo/.build" 2>&1 | tail -1 \
   && HALLU_CORE="$CORE" swift test --scratch-path "$T/Foo/.build" 2>&1 | tail -1)
LIB="$T/Foo/.build/debug/libObjectUnlikelihood.so"
WORLD="$HALLU_CACHE/world-seed0"
RUN="$T/runs/object-ul"
"$BIN" run --plugin "$LIB" --method object-ul --base "$BASE" --steps 3 --eval-images 8 --runs-dir "$T/runs" --name object-ul \
  > "$T/object-ul.log" 2>&1 || { cat "$T/object-ul.log"; exit 1; }
"$BIN" eval mentions --plugin "$LIB" --captions "$RUN/eval/chair_captions.jsonl" --truth "$WORLD/chair_gt_objects.json" --json \
  > "$T/mentions.json"
IMAGE="$WORLD/$(python3 -c "import json,sys;print(json.loads(open(sys.argv[1]).readline())['image'])" "$WORLD/chair_prompts.jsonl")"
eager=(--plugin "$LIB" --model "$RUN/model" --decode eager-eos --set eager-eos.margin=100 --set eager-eos.min_tokens=4)
"$BIN" eval model "${eager[@]}" --images 4 --max-new-tokens 24 --out "$T/eval-eager" --json > "$T/eval-eager.json"
"$BIN" generate "${eager[@]}" --image "$IMAGE" --prompt "Describe the image." --max-new-tokens 24 > "$T/generate-eager.txt"
printf '{"name": "object-ul", "base": {"base": "%s", "method": "object-ul", "steps": 2, "eval_images": 4}, "grid": {"object-ul.alpha": [1]}, "seeds": [0]}\n' \
  "$BASE" > "$T/object-ul-sweep.json"
HALLU_PLUGIN_PATH="$(dirname "$LIB")" "$BIN" sweep "$T/object-ul-sweep.json" --out "$T/sweeps" > /dev/null
python3 -c "
import json, sys
t = sys.argv[1]
run = t + '/runs/object-ul'
metrics, summary = json.load(open(run + '/eval/metrics.json')), json.load(open(run + '/summary.json'))
config = json.load(open(run + '/config.json'))
steps = [json.loads(l) for l in open(run + '/metrics.jsonl')]
assert config['lr'] == 1e-4 and config['batch_size'] == 8, 'run defaults not applied: %s' % config
assert len(steps) == 3 and all('unlikelihood' in s for s in steps), steps
m = metrics['mentions']
assert m['descriptions'] == 8 and summary['trained']['mentions'] == m and 'mentions' in summary['baseline'], summary
assert 'absent objects named' in open(run + '/report.html').read()
assert json.load(open(t + '/mentions.json')) == m, 'hallu eval mentions disagrees with the run'
e = json.load(open(t + '/eval-eager.json'))
assert e['settings']['decode'] == 'eager-eos', e['settings']
texts = [json.loads(l)['text'] for l in open(t + '/eval-eager/chair_captions.jsonl')]
generated = open(t + '/generate-eager.txt').read().strip()
assert len(texts) == 4 and all(len(x.split()) <= 4 for x in texts + [generated]), (texts, generated)
sweep = json.load(open(t + '/sweeps/object-ul/results.json'))
assert 'mentions_absent' in json.dumps(sweep), 'the sweep table has no mentions column'
print('   trained 3 steps (unlikelihood %.4f), mentions: %s absent / %s named per description; eager-eos answers of <= 4 words'
      % (steps[-1]['unlikelihood'], m['absent'], m['named']))
" "$T"
echo "   finished in $(( $(date +%s) - start )) s"
echo "e2e: all passed"
