#!/usr/bin/env python3
"""Markdown tables of scripts/reproduce_decoding.sh's evaluations (standard library only).

Reads OUT/<model>/<cell>/metrics.json and decoding_cost.json; cells that differ only in their
"-seedN" suffix are one row (mean, and the spread over seeds as +-sd when there are several).
Usage: scripts/decoding_table.py OUT_DIR
"""
import json
import os
import re
import statistics
import sys

ORDER = ["greedy", "beam5", "sample", "vcd-greedy", "vcd-sample", "m3id-greedy", "dola-greedy", "opera-greedy", "opera-beam5"]
LABEL = {
    "greedy": "greedy", "beam5": "beam 5", "sample": "sampling (T 1, top-p 1)",
    "vcd-greedy": "VCD, greedy", "vcd-sample": "VCD, sampling (T 1, top-p 1)", "m3id-greedy": "M3ID, greedy",
    "dola-greedy": "DoLa, greedy", "opera-greedy": "OPERA, beam 1", "opera-beam5": "OPERA, beam 5",
}
COLUMNS = [
    ("CHAIRs", lambda m, c: m["chair"]["CHAIRs"], 3),
    ("CHAIRi", lambda m, c: m["chair"]["CHAIRi"], 3),
    ("recall", lambda m, c: m["chair"]["recall"], 3),
    ("len", lambda m, c: m["chair"]["len"], 1),
    ("POPE acc r", lambda m, c: m["pope"]["random"]["accuracy"], 3),
    ("POPE acc p", lambda m, c: m["pope"]["popular"]["accuracy"], 3),
    ("POPE acc a", lambda m, c: m["pope"]["adversarial"]["accuracy"], 3),
    ("POPE F1 mean", lambda m, c: m["pope"]["average"]["f1"], 3),
    ("SHR", lambda m, c: m["shr"]["shr"], 3),
    ("passes/token", lambda m, c: c["forward_passes_per_token"], 2),
    ("tokens/s", lambda m, c: c["tokens_per_second"], 0),
]


def cell(name):
    return re.sub(r"-seed\d+$", "", name)


def fmt(values, digits):
    mean = statistics.fmean(values)
    if len(values) > 1:
        return f"{mean:.{digits}f} ±{statistics.stdev(values):.{digits}f}"
    return f"{mean:.{digits}f}"


def table(folder):
    groups = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(os.path.join(path, "metrics.json")):
            continue
        with open(os.path.join(path, "metrics.json")) as f:
            metrics = json.load(f)
        with open(os.path.join(path, "decoding_cost.json")) as f:
            cost = json.load(f)
        groups.setdefault(cell(name), []).append((metrics, cost))
    keys = sorted(groups, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    lines = ["| decoding | seeds | " + " | ".join(c[0] for c in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for k in keys:
        runs = groups[k]
        row = [fmt([get(m, c) for m, c in runs], digits) for _, get, digits in COLUMNS]
        lines.append(f"| {LABEL.get(k, k)} | {len(runs)} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/decoding"
    for model in ("baseline", "hsadpo"):
        folder = os.path.join(out, model)
        if os.path.isdir(folder):
            print(f"### {model}\n\n{table(folder)}\n")


if __name__ == "__main__":
    main()
