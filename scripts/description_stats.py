#!/usr/bin/env python3
"""What a model's scene-world descriptions get right, beyond CHAIR.

Usage: scripts/description_stats.py EVAL_DIR WORLD_DIR [--json]

EVAL_DIR holds chair_captions.jsonl (a run's eval/ or eval/baseline/ folder); WORLD_DIR is the scene
world it was evaluated on (scenes.jsonl, world.json). Prints, over the described images:
  colour_right     share of drawn objects named as "a [large] <colour> <category>" whose colour is right
  extras           "There is also ..." sentences (the overly detailed ending) per description
  named_by_size    share of the drawn objects of each size (small, large, tiny) whose category is named
Standard library only.
"""
import json
import re
import sys
from pathlib import Path


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    eval_dir, world_dir = Path(argv[0]), Path(argv[1])
    captions_path = eval_dir / "chair_captions.jsonl"
    scenes_path = world_dir / "scenes.jsonl"
    for p in (captions_path, scenes_path):
        if not p.exists():
            sys.exit(f"{p}: no such file")
    scenes = {}
    with open(scenes_path) as f:
        for line_no, line in enumerate(f, 1):
            try:
                r = json.loads(line)
                scenes[str(r["id"])] = r
            except (json.JSONDecodeError, KeyError) as e:
                sys.exit(f"{scenes_path}:{line_no}: {e}")
    named, total, colour_ok, colour_n, extras, n = {}, {}, 0, 0, 0, 0
    with open(captions_path) as f:
        for line_no, line in enumerate(f, 1):
            c = json.loads(line)
            scene = scenes.get(str(c.get("image_id")))
            if scene is None:
                sys.exit(f"{captions_path}:{line_no}: image_id {c.get('image_id')!r} is not in {scenes_path}")
            text = c["text"]
            n += 1
            extras += len(re.findall(r"(?:^|\. )There is also ", text))
            for o in scene["objects"]:
                size = o["size"]
                total[size] = total.get(size, 0) + 1
                if re.search(r"\b" + re.escape(o["category"]) + r"\b", text):
                    named[size] = named.get(size, 0) + 1
                m = re.search(r"There is an? (?:large )?(\w+) " + re.escape(o["category"]) + r"\b", text)
                if m:
                    colour_n += 1
                    colour_ok += m.group(1) == o["color"]
    out = {
        "descriptions": n,
        "colour_right": round(colour_ok / max(colour_n, 1), 3),
        "extras": round(extras / max(n, 1), 3),
        "named_by_size": {k: round(named.get(k, 0) / v, 3) for k, v in sorted(total.items())},
    }
    if "--json" in argv:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:14s} {v}")


if __name__ == "__main__":
    main(sys.argv[1:])
