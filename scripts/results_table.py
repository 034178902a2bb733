#!/usr/bin/env python3
"""Aggregates run folders (NAME-seedS/summary.json) into the Markdown tables of docs/RESULTS.md:
mean +- standard deviation over seeds of every metric, baseline first. Standard library only."""
import json, os, statistics, sys
from collections import defaultdict

root = sys.argv[1]
rows = defaultdict(list)
baseline = None
for name in sorted(os.listdir(root)):
    f = os.path.join(root, name, "summary.json")
    if not os.path.isfile(f) or "-seed" not in name:
        continue
    s = json.load(open(f))
    if not s.get("trained"):
        continue
    rows[name.rsplit("-seed", 1)[0]].append(s)
    baseline = baseline or s.get("baseline")

def metrics(m):
    out = {"CHAIRs": m["chair"]["CHAIRs"], "CHAIRi": m["chair"]["CHAIRi"], "recall": m["chair"]["recall"],
           "len": m["chair"]["len"], "SHR": m["shr"]["shr"]}
    for split in ("random", "popular", "adversarial"):
        p = m["pope"][split]
        out[f"POPE-{split[:3]} acc"] = p["accuracy"]
        out[f"POPE-{split[:3]} F1"] = p["f1"]
    for k, v in (m.get("extra") or {}).items():
        out[k] = v
    return out

cols = ["CHAIRs", "CHAIRi", "recall", "len", "SHR", "POPE-ran acc", "POPE-ran F1", "POPE-pop acc", "POPE-pop F1",
        "POPE-adv acc", "POPE-adv F1"]
print("| config | seeds | " + " | ".join(cols) + " | train s |")
print("|---" * (len(cols) + 3) + "|")
if baseline:
    b = metrics(baseline)
    print("| baseline | - | " + " | ".join(f"{b[c]:.3f}" if c != "len" else f"{b[c]:.1f}" for c in cols) + " | - |")
for name, runs in rows.items():
    ms = [metrics(r["trained"]) for r in runs]
    cells = []
    for c in cols:
        vals = [m[c] for m in ms]
        mean = statistics.mean(vals)
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        cells.append(f"{mean:.1f}±{sd:.1f}" if c == "len" else f"{mean:.3f}±{sd:.3f}")
    secs = statistics.mean(r["seconds"] for r in runs)
    print(f"| {name} | {len(runs)} | " + " | ".join(cells) + f" | {secs:.0f} |")
extras = sorted({k for runs in rows.values() for r in runs for k in (r["trained"].get("extra") or {})})
if extras:
    print("\nMethod-specific numbers (mean over seeds):\n")
    for name, runs in rows.items():
        for k in extras:
            vals = [(r["trained"].get("extra") or {}).get(k) for r in runs]
            vals = [v for v in vals if v is not None]
            if vals:
                print(f"- {name}: {k} = {statistics.mean(vals):.3f}")

# scoring-eos: how well the drop decision finds the world's known overly detailed descriptions.
world = os.environ.get("HALLU_WORLD", os.path.expanduser(os.path.join(os.environ.get("HALLU_CACHE", "~/.cache/hallu"), "world-seed0")))
scenes = os.path.join(world, "scenes.jsonl")
if os.path.isfile(scenes):
    over = {}
    for line in open(scenes):
        r = json.loads(line)
        if r.get("split") == "train":
            over["%06d-detail" % r["id"]] = bool(r.get("over_detailed"))
    for name in sorted(os.listdir(root)):
        f = os.path.join(root, name, "scores.csv")
        if not name.startswith("scoring-eos") or not os.path.isfile(f):
            continue
        import csv
        rows_ = list(csv.DictReader(open(f)))
        dropped = {r["id"] for r in rows_ if r["kept"].strip().lower() in ("false", "0", "no")}
        truth = {i for i, o in over.items() if o}
        detail_dropped = {i for i in dropped if i in over}
        tp = len(detail_dropped & truth)
        prec = tp / max(len(dropped), 1)
        rec = tp / max(len(truth), 1)
        print(f"\n- {name}: dropped {len(dropped)} of {len(rows_)} samples ({len(detail_dropped)} detailed descriptions); "
              f"precision {prec:.3f} and recall {rec:.3f} against the {len(truth)} known overly detailed descriptions")
