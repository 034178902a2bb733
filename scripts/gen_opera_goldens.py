#!/usr/bin/env python3
"""OPERA goldens for hallu's parity tests (run by hand after gen_decoding_goldens.py):

    /tmp/venv/bin/python scripts/gen_opera_goldens.py

Writes Tests/Fixtures/decoding/opera.json from the tiny random LLaVA that gen_decoding_goldens.py
saved in Tests/Fixtures/decoding/model. The reference below is written from the rules of OPERA's
`opera_beam_search` (shikiw/OPERA, transformers-4.29.2/src/transformers/generation/utils.py) on top
of transformers' LlavaForConditionalGeneration; every forward pass recomputes the whole sequence
(no cache) with eager attention so the last layer's probabilities can be read.

Each step, for every beam:
- attn_previous: the beam's last-layer attention (max over heads) of every position so far;
- candidates: the num_attn_candidates largest logits; each candidate is appended and run once more,
  and its attention row (max over heads) closes the square matrix;
- every row is divided by its sum; the local window is rows and columns from the response start;
  scaled by scale_factor; column j scores 1e-7 * prod_{i>=j} of its entries, stored in float16;
- penalty: while the window holds at most 10 tokens, minus the candidate's attention to the image;
  afterwards, the best column score; candidate score = logit - penalty_weights * penalty;
- the argmax column per candidate, its mode per beam (smallest of the most frequent, as torch.mode)
  goes into the history; the mode over beams is the rollback location;
- when every beam's history holds that location more than `threshold` times and it is at least 10,
  retrospection: back to position loc + 1 (one earlier once that position has been rolled back to
  num_attn_candidates times, none when both have), the step's logits recomputed, shifted by their
  minimum + 999, and the (beam, token) choices previously made there set to -999;
- otherwise the step's logits are -999 except the penalised candidates.
Then log-softmax and beam search. The finished hypotheses of a retried step stay with the restored
state (the code restores its beam scorer object, which the retried step then updates).

Deliberate choices, the same on both sides: beam scoring and tie order are hallu's (beam scores over
the generated length as current transformers, ties ranked by (beam, token)), beam 1 is the same rules
with one beam, row sums are taken in float64 (float32 summation order is not reproducible), and a
batch of prompts is decoded one prompt at a time (the code's rollback location is a mode over the
whole batch; per prompt it is over that prompt's beams).
"""
import copy
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_decoding_goldens as g  # noqa: E402

WINDOW = 512

PROMPTS = [
    dict(ids=[g.BOS, 12, g.IMAGE, 30, 31, 32], image=0),
    dict(ids=[g.BOS, 40, 41, g.IMAGE, 7, 8, 9, 10, 11], image=1),
    dict(ids=[g.BOS, g.IMAGE, 55, 56], image=1),
    dict(ids=[g.BOS, 90, 91, 92, g.IMAGE, 5], image=0),
]


class Model:
    def __init__(self, model, pixels):
        self.model, self.pixels, self.n = model, pixels, model.config.image_seq_length
        self.features = {}

    def image(self, i):
        if i not in self.features:
            f = self.model.model.get_image_features(
                pixel_values=self.pixels[i:i + 1], vision_feature_layer=self.model.config.vision_feature_layer,
                vision_feature_select_strategy=self.model.config.vision_feature_select_strategy)
            f = f if torch.is_tensor(f) else f.pooler_output
            self.features[i] = (f if torch.is_tensor(f) else torch.cat(list(f), 0)).reshape(self.n, -1)
        return self.features[i]

    def run(self, prompt, gen):
        """Logits of the last position and the last layer's attention, max over heads: [1, 1, L, L].
        The prompt's image placeholder becomes the image rows; generated ids (the placeholder id
        included) are embedded as tokens."""
        ids = prompt["ids"]
        x = torch.tensor([[t if t != g.IMAGE else g.PAD for t in ids] + gen])
        e = self.model.get_input_embeddings()(x)
        if g.IMAGE in ids:
            at = ids.index(g.IMAGE)
            e = torch.cat([e[:, :at], self.image(prompt["image"])[None], e[:, at + 1:]], 1)
        out = self.model(inputs_embeds=e, output_attentions=True)
        return out.logits[0, -1].float(), out.attentions[-1].max(1, keepdim=True).values


def topk(row, n):
    order = sorted(range(row.shape[0]), key=lambda i: (-float(row[i]), i))[:n]
    return torch.tensor([float(row[i]) for i in order], dtype=torch.float32), order


def mode(values):
    """torch.mode: the most frequent value, the smallest among equally frequent ones."""
    return int(torch.tensor(values).mode().values)


def over_trust(m, prompt, seq, logits, attn_previous, opts, span, P):
    """Candidates of one beam with their penalised scores and the beam's rollback-location mode."""
    C, scale, pw = opts["num_attn_candidates"], opts["scale_factor"], opts["penalty_weights"]
    values, cands = topk(logits, C)
    rows = []
    for c in cands:
        _, a = m.run(prompt, seq + [c])
        out = a[:, :, -1:, :]                                                    # [1, 1, 1, kv+1]
        square = torch.cat([attn_previous, torch.zeros_like(attn_previous).sum(-1, keepdim=True)], -1)
        rows.append(torch.cat([square, out], -2))                               # [1, 1, q+1, kv+1]
    attn_last = torch.cat(rows, 1)                                              # [1, C, q+1, kv+1]
    attn_last = attn_last / attn_last.double().sum(-1, keepdim=True).float()
    attn_local = scale * attn_last[:, :, P:, P:]
    w = attn_local.shape[-1]
    local_scores = torch.zeros((1, C, w), dtype=torch.float16)
    for j in range(w):
        local_scores[..., j] = (1e-7 * attn_local[..., j:, j].prod(-1)).to(torch.float32)
    if span is None:
        attn_i = torch.zeros((1, C))
    else:
        attn_i = attn_last[:, :, -1, span[0]:span[1]].double().sum(-1).float()
    rb_scores, rb_locs = local_scores.max(-1)
    penalty = -attn_i if w <= 10 else rb_scores
    scores = values[None] - pw * penalty
    return cands, scores[0], mode(rb_locs[0].tolist()), bool(torch.argmax(scores[0]) != 0)


def beam_step(st, logp_rows, k, eos, n, lp):
    """hallu's beam step (transformers' rules, ties by (beam, token)); updates st['finished'] in place."""
    cands = []
    for b in range(k):
        logp = logp_rows[b]
        for t in range(logp.shape[0]):
            cands.append((float(np.float32(st["scores"][b]) + logp[t]), b, t))
    cands.sort(key=lambda c: (-c[0], c[1], c[2]))
    last, norm = st["step"] == n - 1, float(np.float32(st["step"] + 1) ** np.float32(lp))
    running = []
    fin = st["finished"]
    for rank, (s, b, t) in enumerate(cands[:2 * k]):
        if t == eos or last:
            if rank < k:
                fin.append((float(np.float32(s) / np.float32(norm)), st["added"][0], st["beams"][b] + [t]))
                st["added"][0] += 1
        elif len(running) < k:
            running.append((s, b, t))
    fin[:] = sorted(fin, key=lambda f: (-f[0], f[1]))[:k]
    if last or not running:
        return None
    if len(fin) == k and np.float32(running[0][0]) / np.float32(norm) <= fin[-1][0]:
        return None
    return running


def opera_search(m, prompt, cfg, opts, events):
    k, eos, n, lp = cfg["num_beams"], cfg["eos"], cfg["max_new_tokens"], cfg.get("length_penalty", 1.0)
    C, threshold = opts["num_attn_candidates"], opts["threshold"]
    ids = prompt["ids"]
    P = len(g.expand(ids, m.n))
    span = None
    if g.IMAGE in ids:
        s0 = ids.index(g.IMAGE)
        span = (s0, s0 + m.n)
    st = dict(beams=[[] for _ in range(k)], scores=[0.0] + [-math.inf] * (k - 1), finished=[], added=[0], step=0)
    history = []        # beam states by step: copies, except the finished list a retried step updates
    locs = []           # per step: each beam's rollback-location mode
    choices = {}        # step -> the (beam, token) pairs chosen there
    rejects = [[] for _ in range(WINDOW)]
    times = [0] * WINDOW
    attn = [None] * k   # per beam: attention of its sequence [1, 1, L, L]
    parents = None
    while True:
        t = st["step"]
        history.append(dict(beams=[list(b) for b in st["beams"]], scores=list(st["scores"]),
                            finished=list(st["finished"]), added=st["added"], step=t))
        if parents is not None:
            choices[t - 1] = parents
        events["iterations"] += 1
        rows, modes, speculated = [], [], set()
        for b in range(k):
            logits, a = m.run(prompt, st["beams"][b])
            attn[b] = a
            cands, scores, loc, changed = over_trust(m, prompt, st["beams"][b], logits, a, opts, span, P)
            events["penalty_changed"] += int(changed)
            row = torch.full_like(logits, -999.)
            row[cands] = scores
            speculated |= {(b, c) for c in cands}
            rows.append(row)
            modes.append(loc)
        locs.append(modes)
        loc = mode(modes)
        target = None
        if all(sum(int(h[r] == loc) for h in locs) > threshold for r in range(k)) and loc >= 10:
            pos = loc + 1
            ok = pos < WINDOW - 1
            if ok and times[pos] >= C:
                pos -= 1
                ok = times[pos] < C
            if ok:
                times[pos] += 1
                cur = t + 1
                if cur - pos > WINDOW + 1:
                    pos = max(1, cur - WINDOW - 1)
                target = min(pos, t - 1)
                for j in range(max(0, cur - pos - 2)):
                    rejects[-(j + 1)] = []
                rejects[pos + 1] = []
                rejects[pos] = rejects[pos] + choices[target]
        if target is not None:
            events["rollbacks"].append([t, target])
            restored = history[target]
            del history[target + 1:]
            del locs[target + 1:]
            st = dict(beams=[list(b) for b in restored["beams"]], scores=list(restored["scores"]),
                      finished=restored["finished"], added=restored["added"], step=target)
            rows = []
            for b in range(k):
                logits, _ = m.run(prompt, st["beams"][b])
                rows.append(logits - (999. + logits.min()))
            for b, tok in rejects[pos]:
                rows[b][tok] = -999.
        logp = [torch.log_softmax(r, -1) for r in rows]
        running = beam_step(st, logp, k, eos, n, lp)
        if running is None:
            break
        if target is not None or any((b, tk) not in speculated for _, b, tk in running):
            events["unspeculated"] += 1
        parents = [(b, tk) for _, b, tk in running]
        st["beams"] = [st["beams"][b] + [tk] for _, b, tk in running]
        st["scores"] = [s for s, _, _ in running]
        st["step"] += 1
    return st["finished"][0][2] if st["finished"] else st["beams"][0]


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    import transformers
    from transformers import LlavaForConditionalGeneration
    transformers.logging.set_verbosity_error()
    model = LlavaForConditionalGeneration.from_pretrained(os.path.join(g.OUT, "model"), attn_implementation="eager")
    model.eval()
    with open(os.path.join(g.OUT, "inputs.json")) as f:
        common = json.load(f)
    pixels = torch.tensor(common["pixels"]).reshape(common["pixels_shape"])
    m = Model(model, pixels)
    cases = []
    with torch.no_grad():
        ref = m.run(PROMPTS[0], [])[0][:16].tolist()
        assert np.allclose(ref, common["check_logits"], atol=1e-5), "the saved model does not load as recorded"
        settings = [
            (dict(scale_factor=50.0, threshold=15, num_attn_candidates=5, penalty_weights=1.0),
             dict(mode="beam", num_beams=5, max_new_tokens=24, eos=3)),
            (dict(scale_factor=25.0, threshold=0, num_attn_candidates=8, penalty_weights=5.0),
             dict(mode="beam", num_beams=5, max_new_tokens=22, eos=3)),
            (dict(scale_factor=30.0, threshold=2, num_attn_candidates=5, penalty_weights=1.0),
             dict(mode="greedy", num_beams=1, max_new_tokens=28, eos=3)),
            (dict(scale_factor=20.0, threshold=1, num_attn_candidates=3, penalty_weights=2.0),
             dict(mode="greedy", num_beams=1, max_new_tokens=28, eos=17)),
        ]
        for opts, cfg in settings:
            out, per = [], []
            for p in PROMPTS:
                ev = dict(iterations=0, rollbacks=[], unspeculated=0, penalty_changed=0)
                out.append(opera_search(m, p, cfg, opts, ev))
                per.append(ev)
                print("  ", len(out[-1]), ev, flush=True)
            case = dict(options={k: str(v) for k, v in opts.items()}, config=cfg, ids=out, events=per)
            cases.append(case)
            print(opts, cfg["mode"], cfg["num_beams"], [len(x) for x in out],
                  [(e["rollbacks"], e["penalty_changed"], e["unspeculated"]) for e in per])
    doc = dict(transformers=transformers.__version__, torch=torch.__version__,
               prompts=[p["ids"] for p in PROMPTS], images=[p["image"] for p in PROMPTS], cases=cases)
    with open(os.path.join(g.OUT, "opera.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
