#!/usr/bin/env python3
"""Golden token ids of the decoding-time methods (VCD, M3ID, DoLa, OPERA) for hallu's parity tests.

    /tmp/venv/bin/python scripts/gen_decoding_goldens.py                # VCD, M3ID, OPERA (transformers 5)
    /tmp/venv-tf4/bin/python scripts/gen_decoding_goldens.py --dola     # DoLa (transformers 4.46's generate)

Writes Tests/Fixtures/decoding/: model/ (a tiny random LLaVA saved by transformers) and one
<method>.json per method with the prompts, options, decoding settings and the ids the reference
produced. The references are written from the rules of each method's official code on top of
transformers' LlavaForConditionalGeneration (every step recomputes the whole sequence, no cache):

- VCD (DAMO-NLP-SG/VCD, vcd_utils): logits of the clean and of the noised image, contrast
  (1+alpha) l - alpha l_cd, cut at log(beta) + max l. The noise is the diffusion forward process of
  vcd_add_noise.py; its Gaussian draws come from hallu's SplitMix64 generator and Box-Muller (seeded
  by the noise seed and a hash of the image), reimplemented below, so both sides noise alike.
- M3ID (arXiv 2403.14003): l_c + (1-g)/g (l_c - l_u), g = exp(-lambda t), when max p_c < alpha.
- DoLa: transformers 4.46's own generate(dola_layers=..., repetition_penalty=...) (greedy), and
  its per-step distribution for sampling.
- OPERA (shikiw/OPERA, generation/utils.py of its bundled transformers 4.29.2): beam search over
  the top num_attn_candidates logits of each beam, penalised by the over-trust score of the last
  layer's attention (max over heads), with the retrospection rollback.

Beam search and sampling follow hallu's conventions, checked here against transformers on plain
decoding: beam scores over generated length (current transformers), ties ranked by (beam, token);
sampling draws one uniform per step from SplitMix64(seed) and takes the first token, in order of
decreasing logit, whose cumulative probability exceeds it.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "decoding")
VOCAB, IMAGE, PAD, BOS = 120, 119, 0, 1
MASK64 = (1 << 64) - 1

SPEC = dict(
    vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                image_size=32, patch_size=8, hidden_act="quick_gelu", layer_norm_eps=1e-5),
    text=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
              num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False),
    vision_feature_layer=-2, vision_feature_select_strategy="default", tie=False, seed=2024)

PROMPTS = [[BOS, 12, IMAGE, 30, 31, 32], [BOS, 40, 41, IMAGE, 7, 8, 9, 10, 11]]


# ---------------------------------------------------------------- hallu's generator, in Python

class SplitMix64:
    def __init__(self, seed):
        self.state = (seed + 0x9E3779B97F4A7C15) & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def double(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        u1 = max(self.double(), 1e-300)
        u2 = self.double()
        return np.float32(math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2))


def image_seed(img, seed):
    h = 0xcbf29ce484222325 ^ seed
    for byte in np.ascontiguousarray(img, dtype="<f4").tobytes():
        h = ((h ^ byte) * 0x00000100000001B3) & MASK64
    return h


def vcd_schedule():
    """vcd_add_noise.py's schedule as torch computes it."""
    betas = torch.linspace(-6, 6, 1000)
    betas = torch.sigmoid(betas) * (0.5e-2 - 1e-5) + 1e-5
    alphas_prod = torch.cumprod(1 - betas, dim=0)
    return torch.sqrt(alphas_prod), torch.sqrt(1 - alphas_prod)


def vcd_noise(pixels, step, seed):
    signal, noise = vcd_schedule()
    out = []
    for img in pixels.numpy():
        rng = SplitMix64(image_seed(img, seed))
        eps = np.array([rng.normal() for _ in range(img.size)], dtype=np.float32).reshape(img.shape)
        out.append(signal[step] * torch.from_numpy(img) + noise[step] * torch.from_numpy(eps))
    return torch.stack(out)


# ---------------------------------------------------------------- the model and plain decoding

def make_model():
    import gen_llava_goldens as base
    return base.make_model(SPEC, SPEC["seed"])


def expand(ids, n):
    out = []
    for t in ids:
        out += [IMAGE] * n if t == IMAGE else [t]
    return out


def last_logits(model, ids, pixels, **kw):
    """Logits of the last position of one sequence (image placeholder not expanded)."""
    n = model.config.image_seq_length
    x = torch.tensor([expand(ids, n)])
    out = model(input_ids=x, pixel_values=pixels if IMAGE in ids else None, **kw)
    return out, out.logits[0, -1].float()


def choose(scores, mode, rng, cfg):
    if mode == "greedy":
        return int(torch.argmax(scores))
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper
    s = scores[None].clone()
    s = TemperatureLogitsWarper(cfg["temperature"])(None, s)
    if cfg.get("top_k", 0) > 0:
        s = TopKLogitsWarper(cfg["top_k"])(None, s)
    if cfg.get("top_p", 1.0) < 1:
        s = TopPLogitsWarper(cfg["top_p"])(None, s)
    p = torch.softmax(s[0].double(), -1)
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    u, acc = rng.double(), 0.0
    for i in order:
        acc += float(p[i])
        if u < acc:
            return i
    return order[-1]


def sample_or_greedy(scores_fn, prompt, mode, cfg):
    rng = SplitMix64(cfg.get("seed", 0))
    out = []
    for _ in range(cfg["max_new_tokens"]):
        tok = choose(scores_fn(prompt, out), mode, rng, cfg)
        out.append(tok)
        if tok == cfg["eos"]:
            break
    return out


def beam_search(scores_fn, prompt, cfg):
    """transformers' beam search (early_stopping=False) with hallu's tie order."""
    k, eos, lp, n = cfg["num_beams"], cfg["eos"], cfg.get("length_penalty", 1.0), cfg["max_new_tokens"]
    beams, scores, finished, added = [[] for _ in range(k)], [0.0] + [-math.inf] * (k - 1), [], 0
    for step in range(n):
        cands = []
        for b in range(k):
            logp = torch.log_softmax(scores_fn(prompt, beams[b]), -1)
            for t in range(logp.shape[0]):
                cands.append((float(np.float32(scores[b]) + logp[t]), b, t))
        cands.sort(key=lambda c: (-c[0], c[1], c[2]))
        last, norm = step == n - 1, float(np.float32(step + 1) ** np.float32(lp))
        running = []
        for rank, (s, b, t) in enumerate(cands[:2 * k]):
            if t == eos or last:
                if rank < k:
                    finished.append((float(np.float32(s) / np.float32(norm)), added, beams[b] + [t]))
                    added += 1
            elif len(running) < k:
                running.append((s, b, t))
        finished = sorted(finished, key=lambda f: (-f[0], f[1]))[:k]
        if last or not running:
            break
        if len(finished) == k and np.float32(running[0][0]) / np.float32(norm) <= finished[-1][0]:
            break
        beams = [beams[b] + [t] for _, b, t in running]
        scores = [s for s, _, _ in running]
    return finished[0][2] if finished else beams[0]


# ---------------------------------------------------------------- the methods' rules

def vcd_scores(model, pixels_of, noised_of, alpha, beta):
    def fn(prompt, gen):
        ids = prompt + gen
        _, l = last_logits(model, ids, pixels_of(prompt))
        _, lcd = last_logits(model, ids, noised_of(prompt))
        cutoff = torch.log(torch.tensor(beta)) + l.max(-1, keepdim=True).values
        diffs = (1 + alpha) * l - alpha * lcd
        return diffs.masked_fill(l < cutoff, -float("inf"))
    return fn


def m3id_scores(model, pixels_of, lam, alpha):
    def fn(prompt, gen):
        ids = prompt + gen
        _, l = last_logits(model, ids, pixels_of(prompt))
        _, lu = last_logits(model, [t for t in ids if t != IMAGE], None)
        lc, lu = torch.log_softmax(l, -1), torch.log_softmax(lu, -1)
        g = math.exp(-lam * (len(gen) + 1))
        w = np.float32((1 - g) / g)
        if float(torch.exp(lc.max())) < alpha:
            return lc + w * (lc - lu)
        return lc
    return fn


def plain_scores(model, pixels_of):
    def fn(prompt, gen):
        return last_logits(model, prompt + gen, pixels_of(prompt))[1]
    return fn


# ---------------------------------------------------------------- cases

def modes(eos, n=12):
    return [dict(mode="greedy", max_new_tokens=n, eos=eos),
            dict(mode="sampling", max_new_tokens=n, eos=eos, temperature=1.0, top_p=0.9, seed=7),
            dict(mode="sampling", max_new_tokens=n, eos=eos, temperature=0.7, seed=11),
            dict(mode="beam", max_new_tokens=8, eos=eos, num_beams=3)]


def run(scores_fn, cfg):
    out = []
    for p in PROMPTS:
        if cfg["mode"] == "beam":
            out.append(beam_search(scores_fn, p, cfg))
        else:
            out.append(sample_or_greedy(scores_fn, p, cfg["mode"], cfg))
    return out


def check_plain_against_transformers(model, pixels_of):
    """The Python beam search and greedy above reproduce transformers' generate on plain decoding."""
    n = model.config.image_seq_length
    for eos in (3, 17):
        for k in (1, 3):
            for p in PROMPTS:
                x = torch.tensor([expand(p, n)])
                ref = model.generate(input_ids=x, attention_mask=torch.ones_like(x), pixel_values=pixels_of(p),
                                     do_sample=False, num_beams=k, max_new_tokens=8, eos_token_id=eos,
                                     pad_token_id=PAD, early_stopping=False)[0, x.shape[1]:].tolist()
                cfg = dict(mode="beam" if k > 1 else "greedy", num_beams=k, max_new_tokens=8, eos=eos)
                mine = beam_search(plain_scores(model, pixels_of), p, cfg) if k > 1 else \
                    sample_or_greedy(plain_scores(model, pixels_of), p, "greedy", cfg)
                assert ref == mine, (eos, k, p, ref, mine)


def write(name, doc):
    doc = {k: v for k, v in doc.items() if k not in ("pixels", "pixels_shape", "check_logits")}  # in inputs.json
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    for c in doc["cases"]:
        print("%s %s %s: %s" % (name, c["config"]["mode"], c.get("options", {}), c["ids"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dola", action="store_true", help="write dola.json (run with transformers 4.46)")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    import transformers
    transformers.logging.set_verbosity_error()
    os.makedirs(OUT, exist_ok=True)
    if args.dola:
        import gen_dola_goldens
        return gen_dola_goldens.main(OUT, PROMPTS, IMAGE)

    model = make_model()
    ckpt = os.path.join(OUT, "model")
    if os.path.isdir(ckpt):
        shutil.rmtree(ckpt)
    model.save_pretrained(ckpt, safe_serialization=True)
    gen_config = os.path.join(ckpt, "generation_config.json")
    if os.path.exists(gen_config):
        os.remove(gen_config)
    vc = model.config.vision_config
    g = torch.Generator().manual_seed(SPEC["seed"] + 1)
    pixels = torch.randn(2, vc.num_channels, vc.image_size, vc.image_size, generator=g)
    pixels_of = lambda p: pixels[PROMPTS.index(p):PROMPTS.index(p) + 1]
    common = {"transformers": transformers.__version__, "torch": torch.__version__, "prompts": PROMPTS,
              "pixels": pixels.flatten().tolist(), "pixels_shape": list(pixels.shape)}

    with torch.no_grad():
        check_plain_against_transformers(model, pixels_of)
        common["check_logits"] = last_logits(model, PROMPTS[0], pixels_of(PROMPTS[0]))[1][:16].tolist()
        with open(os.path.join(OUT, "inputs.json"), "w") as f:
            json.dump(common, f, separators=(",", ":"))

        signal, noise = vcd_schedule()
        cases = []
        for opts in (dict(alpha=1.0, beta=0.2, noise_step=500, noise_seed=0),
                     dict(alpha=0.5, beta=0.1, noise_step=999, noise_seed=3)):
            noised = vcd_noise(pixels, opts["noise_step"], opts["noise_seed"])
            noised_of = lambda p: noised[PROMPTS.index(p):PROMPTS.index(p) + 1]
            fn = vcd_scores(model, pixels_of, noised_of, opts["alpha"], opts["beta"])
            for cfg in modes(eos=3):
                cases.append(dict(options={k: str(v) for k, v in opts.items()}, config=cfg, ids=run(fn, cfg)))
        write("vcd", dict(common, schedule={str(t): [float(signal[t]), float(noise[t])] for t in (0, 1, 250, 500, 999)},
                          noised_pixels_500_seed0=vcd_noise(pixels, 500, 0)[0, 0, 0, :8].tolist(), cases=cases))

        cases = []
        for opts in (dict(**{"lambda": 0.02, "alpha": 0.9}), dict(**{"lambda": 0.3, "alpha": 1.0})):
            fn = m3id_scores(model, pixels_of, opts["lambda"], opts["alpha"])
            for cfg in modes(eos=3):
                cases.append(dict(options={k: str(v) for k, v in opts.items()}, config=cfg, ids=run(fn, cfg)))
        write("m3id", dict(common, cases=cases))


if __name__ == "__main__":
    main()
