#!/usr/bin/env python3
"""Is hallu's scene world learnable by a PyTorch LLaVA of the same shape in a few minutes?

    python scripts/torch_learnability.py                       # 290 s budget
    python scripts/torch_learnability.py --steps 3000 --budget 0

Trains hallu's initial checkpoint (config.json + model.safetensors, loaded as transformers'
LlavaForConditionalGeneration, float32, CPU, 2 threads) on the world's llava_train.json with the
recipe of the PyTorch prototype the world was calibrated with, then evaluates POPE and
greedy descriptions on the world's eval images. It is independent of hallu's Swift engine: it only
reads hallu's files, so a gap between this and hallu's own baseline points at hallu's trainer, and a
gap between this and the prototype points at the world data.

Data (as hallu's ChatTemplate.llavaV1 renders it, system prompt from the checkpoint's hallu.json,
empty by default):

    "{system} USER: <image>\\n{question} ASSISTANT: {answer}</s>"

tokenized as LLaVA's tokenizer_image_token does (text cut at <image>, each piece tokenized on its
own, BOS once in front, <image> -> one image id expanded to the 16 image features). Labels are the
tokens whose span overlaps the answer from the space after "ASSISTANT:" to the end of "</s>" (so the
space token, the answer and EOS are supervised; nothing else).

Training: each step draws `--desc-batch` description conversations (every non-yes/no sample:
"detail" and "caption" ids, or only the kinds in --desc-kinds) and `--yn-batch` yes/no conversations
(questions starting with "Is there"), each group in its own forward/backward (right padding within
the group only, attention mask), losses averaged over the groups (each group: mean over its
supervised tokens), one AdamW step (lr, wd 0.01), linear warm-up, cosine decay to --min-lr-ratio,
grad-norm clip 1.0. With a time budget the cosine runs in wall-clock time (progress = time since the
end of warm-up / budget left after warm-up), so the schedule ends when the budget does; with --budget 0
it runs over --steps.

Evaluation:
  POPE  one forward per question on "... ASSISTANT:" + the space token that always follows in the
        training data; the answer is "Yes" when logit("Yes") > logit("No") at that position (these
        are the first answer tokens: "Yes, there is ..." / "No, there is no ..."). Accuracy, yes-rate,
        F1 per split (random / popular / adversarial).
  CHAIR --n-desc eval images from chair_prompts.jsonl, greedy decoding with a KV cache (max
        --max-new tokens, stop at </s>); a category is mentioned when its name (optionally plural)
        occurs as whole words. recall = mentioned GT / GT (micro), CHAIRi = mentioned non-GT / mentioned
        (micro, unique categories per description), CHAIRs = share of descriptions with a non-GT one.

Prints one JSON summary at the end (and progress lines to stderr). OMP_WAIT_POLICY defaults to PASSIVE
(see below): the machine's two cores are often shared with a compiler.
"""
import argparse
import glob
import json
import math
import os
import random
import re
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    home = os.path.expanduser("~/.cache/hallu")
    p.add_argument("--world", default=os.path.join(home, "world-seed0"))
    inits = sorted(glob.glob(os.path.join(home, "baseline-small-*", "init")))
    p.add_argument("--model", default=inits[0] if inits else None, required=not inits,
                   help="initial checkpoint folder (default: the cached baseline's init/)")
    p.add_argument("--budget", type=float, default=290.0, help="training wall-clock seconds (0: no limit)")
    p.add_argument("--steps", type=int, default=100000, help="max steps (the schedule's length when --budget 0)")
    p.add_argument("--hard-stop", type=float, default=0.0, help="with --budget 0: stop training after this many seconds anyway")
    p.add_argument("--desc-batch", type=int, default=64)
    p.add_argument("--yn-batch", type=int, default=64)
    p.add_argument("--desc-kinds", default="detail,caption", help="id suffixes counted as descriptions")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--wd", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--min-lr-ratio", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--system", default=None, help="override the system prompt of hallu.json")
    p.add_argument("--n-desc", type=int, default=200, help="eval images for greedy descriptions")
    p.add_argument("--max-new", type=int, default=80)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save", default=None, help="write generations and the summary to this folder")
    return p.parse_args()


args = parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)
# Passive OpenMP waiting: when another process holds one of the two cores, spinning worker threads make
# every step ~7x slower (measured: 7.2 s/step spinning vs 1.06 s/step passive, 0.58 s/step on idle cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

torch.set_num_threads(args.threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tokenization (hallu's llava_v1)

class Template:
    def __init__(self, model_dir, system_override):
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        info = {}
        p = os.path.join(model_dir, "hallu.json")
        if os.path.exists(p):
            with open(p) as f:
                info = json.load(f)
        self.system = info.get("system_prompt", "") if system_override is None else system_override
        assert info.get("chat_template", "llava_v1") == "llava_v1"
        self.bos = self.tok.token_to_id("<s>")
        self.eos = self.tok.token_to_id("</s>")
        self.pad = self.tok.token_to_id("<pad>")
        self.image = self.tok.token_to_id("<image>")
        self.space = self.tok.encode(" ", add_special_tokens=False).ids
        self.yes = self.tok.token_to_id("Yes")
        self.no = self.tok.token_to_id("No")

    def _chunk(self, text, base, ids, spans):
        if not text:
            return
        e = self.tok.encode(text, add_special_tokens=False)
        ids += e.ids
        spans += [(a + base, b + base) for a, b in e.offsets]

    def encode(self, question, answer=None):
        """(ids, labels) with one <image> id; answer None gives the generation prompt ending in 'ASSISTANT:'."""
        if "<image>" not in question:
            question = "<image>\n" + question
        text = self.system + " " + "USER: " + question + " " + "ASSISTANT:"
        sup = None
        if answer is not None:
            start = len(text)
            text += " " + answer + "</s>"
            sup = (start, len(text))
        ids, spans = [self.bos], [(0, 0)]
        pos = 0
        for k, piece in enumerate(text.split("<image>")):
            if k > 0:
                ids.append(self.image)
                spans.append((pos, pos + 7))
                pos += 7
            self._chunk(piece, pos, ids, spans)
            pos += len(piece)
        labels = [-100] * len(ids)
        if sup is not None:
            for t, (a, b) in enumerate(spans):
                if b > a and ids[t] != self.image and a < sup[1] and b > sup[0]:
                    labels[t] = ids[t]
        return ids, labels


# ---------------------------------------------------------------- images

def load_pixels(world, rel_paths, pre):
    mean = np.array(pre["image_mean"], dtype=np.float32)[:, None, None]
    std = np.array(pre["image_std"], dtype=np.float32)[:, None, None]
    out = np.empty((len(rel_paths), 3, 32, 32), dtype=np.float32)
    for i, r in enumerate(rel_paths):
        a = np.asarray(Image.open(os.path.join(world, r)).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
        out[i] = (a / 255.0 - mean) / std
    return torch.from_numpy(out)


# ---------------------------------------------------------------- batches

def expand(ids, n, image_token):
    out = []
    for t in ids:
        out += [image_token] * n if t == image_token else [t]
    return out


def collate(samples, n_img, tpl):
    """Right-padded batch: input_ids, mask, next-token targets of supervised positions."""
    ids = [expand(s[0], n_img, tpl.image) for s in samples]
    labs = [expand_labels(s, n_img, tpl.image) for s in samples]
    T = max(len(r) for r in ids)
    inp = torch.full((len(ids), T), tpl.pad, dtype=torch.long)
    mask = torch.zeros((len(ids), T), dtype=torch.long)
    lab = torch.full((len(ids), T), -100, dtype=torch.long)
    for i, (r, l) in enumerate(zip(ids, labs)):
        inp[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
        lab[i, :len(l)] = torch.tensor(l)
    nxt = torch.full_like(lab, -100)
    nxt[:, :-1] = lab[:, 1:]
    flat = nxt.reshape(-1)
    rows = (flat != -100).nonzero().squeeze(1)
    return inp, mask, rows, flat[rows]


def expand_labels(sample, n, image_token):
    out = []
    for t, l in zip(sample[0], sample[1]):
        out += [-100] * n if t == image_token else [l]
    return out


class Sampler:
    """Epochs of a shuffled index list."""

    def __init__(self, idx, rng):
        self.idx, self.rng, self.pos = list(idx), rng, len(idx)

    def take(self, n):
        out = []
        while len(out) < n:
            if self.pos >= len(self.idx):
                self.rng.shuffle(self.idx)
                self.pos = 0
            k = min(n - len(out), len(self.idx) - self.pos)
            out += self.idx[self.pos:self.pos + k]
            self.pos += k
        return out


# ---------------------------------------------------------------- scoring

def mentions(text, categories):
    t = text.lower()
    found = set()
    for c in categories:
        if re.search(r"\b" + re.escape(c) + r"(s|es)?\b", t):
            found.add(c)
    return found


def main():
    t_start = time.time()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    W = args.world
    tpl = Template(args.model, args.system)
    with open(os.path.join(args.model, "preprocessor_config.json")) as f:
        pre = json.load(f)
    with open(os.path.join(W, "world.json")) as f:
        world = json.load(f)
    categories = world["categories"]

    from transformers import LlavaForConditionalGeneration
    model = LlavaForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32, attn_implementation="sdpa")
    cfg = model.config
    image_token = cfg.image_token_id if hasattr(cfg, "image_token_id") else cfg.image_token_index
    assert image_token == tpl.image, (image_token, tpl.image)
    n_img = cfg.image_seq_length
    n_params = sum(p.numel() for p in model.parameters())

    # ---- data
    with open(os.path.join(W, "llava_train.json")) as f:
        convs = json.load(f)
    kinds = set(args.desc_kinds.split(","))
    image_paths = sorted({c["image"] for c in convs})
    img_index = {p: i for i, p in enumerate(image_paths)}
    train_pixels = load_pixels(W, image_paths, pre)
    samples, desc_idx, yn_idx = [], [], []
    for c in convs:
        turns = c["conversations"]
        assert len(turns) == 2 and turns[0]["from"] == "human" and turns[1]["from"] == "gpt"
        q = turns[0]["value"]
        qtext = q.replace("<image>", "").strip()
        ids, labels = tpl.encode(q, turns[1]["value"])
        samples.append((ids, labels, img_index[c["image"]]))
        if qtext.startswith("Is there"):
            yn_idx.append(len(samples) - 1)
        elif c["id"].rsplit("-", 1)[-1] in kinds:
            desc_idx.append(len(samples) - 1)

    def length_stats(idx):
        L = [len(samples[i][0]) - 1 + n_img for i in idx]
        S = [sum(1 for l in samples[i][1] if l != -100) for i in idx]
        return {"count": len(idx), "tokens_mean": round(float(np.mean(L)), 1), "tokens_min": min(L), "tokens_max": max(L),
                "supervised_mean": round(float(np.mean(S)), 1)}

    lengths = {"description": length_stats(desc_idx), "yes_no": length_stats(yn_idx)}
    for k in sorted(kinds):
        lengths["desc_" + k] = length_stats([i for i in desc_idx if convs[i]["id"].endswith("-" + k)])
    ex = samples[yn_idx[0]]
    log("example yes/no ids: %s" % ex[0])
    log("decoded: %r" % tpl.tok.decode(ex[0], skip_special_tokens=False))
    log("supervised: %r" % tpl.tok.decode([l for l in ex[1] if l != -100], skip_special_tokens=False))
    log("lengths (incl. %d image tokens): %s" % (n_img, json.dumps(lengths)))

    # ---- training
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    samplers = []
    if args.desc_batch > 0:
        samplers.append(("desc", Sampler(desc_idx, rng), args.desc_batch))
    if args.yn_batch > 0:
        samplers.append(("yn", Sampler(yn_idx, rng), args.yn_batch))

    warm_end = [None]  # wall-clock time when warm-up ended: the cosine covers the rest of the budget

    def lr_at(step, elapsed):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        if warm_end[0] is None:
            warm_end[0] = elapsed
        if args.budget > 0:
            p = min(1.0, (elapsed - warm_end[0]) / max(1e-9, args.budget - warm_end[0]))
        else:
            p = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
        return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))

    model.train()
    hist = {name: [] for name, _, _ in samplers}
    if args.yn_batch > 0:
        hist["yn_answer"] = []
    n_samples = n_tokens = 0
    step = 0
    t0 = time.time()
    while step < args.steps:
        elapsed = time.time() - t0
        if args.budget > 0 and elapsed >= args.budget:
            break
        if args.hard_stop > 0 and elapsed >= args.hard_stop:
            break
        lr = lr_at(step, elapsed)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        for name, sampler, bs in samplers:
            idx = sampler.take(bs)
            batch = [samples[i] for i in idx]
            inp, mask, rows, targets = collate(batch, n_img, tpl)
            pix = train_pixels[[s[2] for s in batch]]
            h = model.model(input_ids=inp, pixel_values=pix, attention_mask=mask).last_hidden_state
            logits = model.lm_head(h.reshape(-1, h.shape[-1])[rows])
            per_token = F.cross_entropy(logits, targets, reduction="none")
            loss = per_token.mean()
            (loss / len(samplers)).backward()
            hist[name].append(loss.item())
            if name == "yn":  # the one informative token of a yes/no answer: "Yes" or "No"
                hist["yn_answer"].append(per_token[(targets == tpl.yes) | (targets == tpl.no)].mean().item())
            n_samples += bs
            n_tokens += int(mask.sum())
        gn = torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        step += 1
        if step % args.log_every == 0 or step == 1:
            e = time.time() - t0
            log("step %d  %.0fs  lr %.2e  gnorm %.2f  %s  %.0f samples/s" % (
                step, e, lr, float(gn), "  ".join("%s %.4f" % (k, float(np.mean(v[-args.log_every:]))) for k, v in hist.items()),
                n_samples / e))
    train_seconds = time.time() - t0

    # ---- evaluation
    model.eval()
    t_eval = time.time()
    pope = {}
    for split in ("random", "popular", "adversarial"):
        with open(os.path.join(W, "pope_%s.jsonl" % split)) as f:
            qs = [json.loads(l) for l in f if l.strip()]
        pix_all = load_pixels(W, [q["image"] for q in qs], pre)
        preds = []
        with torch.inference_mode():
            for b in range(0, len(qs), 256):
                chunk = qs[b:b + 256]
                prompts = [(tpl.encode(q["text"])[0] + tpl.space, None) for q in chunk]
                ids = [expand(p[0], n_img, tpl.image) for p in prompts]
                T = max(len(r) for r in ids)
                inp = torch.full((len(ids), T), tpl.pad, dtype=torch.long)
                mask = torch.zeros((len(ids), T), dtype=torch.long)
                for i, r in enumerate(ids):
                    inp[i, :len(r)] = torch.tensor(r)
                    mask[i, :len(r)] = 1
                h = model.model(input_ids=inp, pixel_values=pix_all[b:b + 256], attention_mask=mask).last_hidden_state
                last = h[torch.arange(len(ids)), torch.tensor([len(r) - 1 for r in ids])]
                lg = model.lm_head(last)
                preds += (lg[:, tpl.yes] > lg[:, tpl.no]).tolist()
        labels = [q["label"] == "yes" for q in qs]
        tp = sum(p and l for p, l in zip(preds, labels))
        fp = sum(p and not l for p, l in zip(preds, labels))
        fn = sum((not p) and l for p, l in zip(preds, labels))
        acc = sum(p == l for p, l in zip(preds, labels)) / len(qs)
        prec = tp / max(1, tp + fp)
        rec = tp / max(1, tp + fn)
        pope[split] = {"n": len(qs), "accuracy": round(acc, 4), "yes_rate": round(sum(preds) / len(qs), 4),
                       "f1": round(2 * prec * rec / max(1e-9, prec + rec), 4)}
        log("POPE %s: %s" % (split, pope[split]))

    with open(os.path.join(W, "chair_prompts.jsonl")) as f:
        cps = [json.loads(l) for l in f if l.strip()][:args.n_desc]
    with open(os.path.join(W, "chair_gt_objects.json")) as f:
        gt = json.load(f)
    gens = []
    with torch.inference_mode():
        for b in range(0, len(cps), 100):
            chunk = cps[b:b + 100]
            ids = [expand(tpl.encode(c["text"])[0], n_img, tpl.image) for c in chunk]
            T = max(len(r) for r in ids)
            inp = torch.full((len(ids), T), tpl.pad, dtype=torch.long)
            mask = torch.zeros((len(ids), T), dtype=torch.long)
            for i, r in enumerate(ids):  # left padding
                inp[i, T - len(r):] = torch.tensor(r)
                mask[i, T - len(r):] = 1
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            pix = load_pixels(W, [c["image"] for c in chunk], pre)
            out = model(input_ids=inp, pixel_values=pix, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1)
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1)
            last = pos[:, -1]
            done = torch.zeros(len(ids), dtype=torch.bool)
            toks = []
            for _ in range(args.max_new):
                toks.append(torch.where(done, torch.full_like(nxt, tpl.eos), nxt))
                done |= nxt == tpl.eos
                if bool(done.all()):
                    break
                mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
                last = last + 1
                out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last[:, None],
                            past_key_values=past, use_cache=True, logits_to_keep=1)
                past = out.past_key_values
                nxt = out.logits[:, -1].argmax(-1)
            seq = torch.stack(toks, 1).tolist()
            for c, s in zip(chunk, seq):
                n = s.index(tpl.eos) if tpl.eos in s else len(s)
                gens.append({"image_id": c["image_id"], "tokens": n, "ended": tpl.eos in s,
                             "text": tpl.tok.decode(s[:n], skip_special_tokens=True).strip()})
    gt_total = gt_hit = ment_total = ment_hall = caps_hall = 0
    for g in gens:
        truth = set(gt[str(g["image_id"])])
        m = mentions(g["text"], categories)
        gt_total += len(truth)
        gt_hit += len(m & truth)
        ment_total += len(m)
        ment_hall += len(m - truth)
        caps_hall += bool(m - truth)
        g["mentioned"], g["hallucinated"] = sorted(m), sorted(m - truth)
    chair = {"n": len(gens), "recall": round(gt_hit / max(1, gt_total), 4), "chair_i": round(ment_hall / max(1, ment_total), 4),
             "chair_s": round(caps_hall / max(1, len(gens)), 4),
             "tokens_mean": round(float(np.mean([g["tokens"] for g in gens])), 1),
             "ended_share": round(float(np.mean([g["ended"] for g in gens])), 3)}
    eval_seconds = time.time() - t_eval

    summary = {
        "world": W, "model": args.model, "params": n_params, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "system_prompt": tpl.system,
        "recipe": {"desc_batch": args.desc_batch, "yn_batch": args.yn_batch, "desc_kinds": sorted(kinds), "lr": args.lr, "wd": args.wd,
                   "warmup": args.warmup, "min_lr_ratio": args.min_lr_ratio, "clip": args.clip, "seed": args.seed,
                   "budget": args.budget, "max_steps": args.steps},
        "steps": step, "train_seconds": round(train_seconds, 1), "seconds_per_step": round(train_seconds / max(1, step), 4),
        "samples_per_second": round(n_samples / train_seconds, 1), "tokens_per_second": round(n_tokens / train_seconds, 0),
        "epochs": {"desc": round(step * args.desc_batch / max(1, len(desc_idx)), 2), "yn": round(step * args.yn_batch / max(1, len(yn_idx)), 2)},
        "final_loss": {k: round(float(np.mean(v[-50:])), 4) for k, v in hist.items()},
        "first_loss": {k: round(v[0], 4) for k, v in hist.items() if v},
        "sequence_lengths": lengths,
        "pope": pope, "descriptions": chair,
        "examples": [g["text"] for g in gens[:3]],
        "eval_seconds": round(eval_seconds, 1), "total_seconds": round(time.time() - t_start, 1),
    }
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        with open(os.path.join(args.save, "generations.jsonl"), "w") as f:
            for g in gens:
                f.write(json.dumps(g) + "\n")
        with open(os.path.join(args.save, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
