#!/usr/bin/env python3
"""The PyTorch reference that `hallu bench model` measures itself against.

    python bench/torch_reference.py --case sft --model DIR --batch FILE --threads 2

`--model` is a checkpoint folder written by hallu (config.json + model.safetensors), loaded as
transformers' LlavaForConditionalGeneration, so both sides run the same architecture with the same
weights. `--batch` is a JSON file written by hallu with the token ids (ONE image placeholder per
sequence, expanded here to the image's feature count as LLaVA processors do), labels and pixels.

Cases (each is what a careful PyTorch user would write in eager mode, float32, CPU):
  sft        forward + backward + clip-grad-norm + AdamW step; the LM head runs on the supervised
             positions only, as hallu does.
  dpo        policy on 2B sequences (chosen then rejected; image features computed once per pair)
             + a frozen reference copy without autograd; DPO loss (beta 0.1); backward, clip, AdamW.
  lora_sft   sft with LoRA adapters (r, alpha from the options) on the decoder's projections and
             every other weight frozen.
  lora_dpo   dpo with LoRA; the reference is the same model with the adapters switched off.
  generate   greedy decoding with a KV cache: one prefill on the left-padded prompts, then one
             token per step (past_key_values, logits of the last position only).
  peak       torch.mm of two 2048x2048 float32 matrices (the machine's sgemm as PyTorch reaches it);
             --model and --batch are not read.

--compile runs the training cases through torch.compile (inductor, default mode): the loss
function (forward, and backward through AOTAutograd) is compiled once for the batch's fixed shapes;
compilation happens in the warm-up iterations and is not timed (it is reported as
compile_seconds). The optimiser step stays eager. If compilation fails, the script exits with
status 3 and prints the reason on stderr.

Prints one JSON object: seconds (median of the timed iterations), all timings, tokens per
iteration, the first loss (for a cross-check against hallu), peak RSS of this process in MB, and
the torch version. Timings start after `--warmup` untimed iterations.
"""
import argparse
import copy
import json
import os
import resource
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", required=True, choices=["sft", "dpo", "lora_sft", "lora_dpo", "generate", "peak"])
    p.add_argument("--compile", action="store_true", help="torch.compile the loss (training cases)")
    p.add_argument("--model", required=True, help="checkpoint folder (config.json, model.safetensors)")
    p.add_argument("--batch", required=True, help="JSON batch written by hallu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=7)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    p.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
    return p.parse_args()


args = parse_args()
# Thread counts must be set before torch starts its pools.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass


class LoRALinear(torch.nn.Module):
    """y = base(x) + (x A^T B^T) * alpha / r, B starting at zero (PEFT's initialisation)."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.a = torch.nn.Parameter(torch.empty(r, base.in_features))
        torch.nn.init.kaiming_uniform_(self.a, a=5 ** 0.5)
        self.b = torch.nn.Parameter(torch.zeros(base.out_features, r))
        self.scaling = alpha / r
        self.enabled = True

    def forward(self, x):
        y = self.base(x)
        if self.enabled:
            y = y + (x @ self.a.t() @ self.b.t()) * self.scaling
        return y


def add_lora(model, targets, r, alpha):
    for p in model.parameters():
        p.requires_grad_(False)
    adapters = []
    lm = model.model.language_model
    for name, module in list(lm.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear) and child_name in targets:
                wrapped = LoRALinear(child, r, alpha)
                setattr(module, child_name, wrapped)
                adapters.append(wrapped)
    return adapters


def set_adapters(adapters, on):
    for a in adapters:
        a.enabled = on


def load_model(folder):
    from transformers import LlavaForConditionalGeneration
    model = LlavaForConditionalGeneration.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="sdpa")
    return model


def expand(ids, n, image_token):
    out = []
    for t in ids:
        out += [image_token] * n if t == image_token else [t]
    return out


def expand_labels(ids, labels, n, image_token):
    out = []
    for t, l in zip(ids, labels):
        out += [-100] * n if t == image_token else [l]
    return out


def padded(rows, value, left=False):
    t = max(len(r) for r in rows)
    return [([value] * (t - len(r)) + r) if left else (r + [value] * (t - len(r))) for r in rows]


class Batch:
    def __init__(self, spec, n_img, image_token):
        ids = [expand(r, n_img, image_token) for r in spec["ids"]]
        self.lengths = [len(r) for r in ids]
        self.tokens = sum(self.lengths)
        left = spec.get("left_pad", False)
        self.input_ids = torch.tensor(padded(ids, 0, left))
        self.mask = torch.tensor(padded([[1] * n for n in self.lengths], 0, left))
        self.pixels = torch.tensor(spec["pixels"], dtype=torch.float32).reshape(spec["pixel_shape"])
        if spec.get("labels"):
            labels = [expand_labels(r, l, n_img, image_token) for r, l in zip(spec["ids"], spec["labels"])]
            lab = torch.tensor(padded(labels, -100, left))
            # Position t predicts the label at t + 1; only supervised positions reach the LM head.
            nxt = torch.full_like(lab, -100)
            nxt[:, :-1] = lab[:, 1:]
            flat = nxt.reshape(-1)
            self.rows = (flat != -100).nonzero().squeeze(1)
            self.targets = flat[self.rows]
            self.segment = self.rows // lab.shape[1]
        self.image_positions = self.input_ids == image_token


def hidden_from_pixels(model, b):
    return model.model(input_ids=b.input_ids, pixel_values=b.pixels, attention_mask=b.mask).last_hidden_state


def hidden_from_features(model, b, feats):
    emb = model.model.get_input_embeddings()(b.input_ids)
    emb = emb.masked_scatter(b.image_positions.unsqueeze(-1), feats.reshape(-1, feats.shape[-1]))
    return model.model.language_model(inputs_embeds=emb, attention_mask=b.mask).last_hidden_state


def image_features(model, pixels):
    out = model.model.get_image_features(pixel_values=pixels)
    feats = out.pooler_output if hasattr(out, "pooler_output") else out
    return torch.stack(list(feats)) if isinstance(feats, (list, tuple)) else feats


def supervised_logits(model, h, b):
    return model.lm_head(h.reshape(-1, h.shape[-1])[b.rows])


def sequence_logps(model, h, b, n):
    logp = -F.cross_entropy(supervised_logits(model, h, b), b.targets, reduction="none")
    return torch.zeros(n, dtype=logp.dtype).index_add(0, b.segment, logp)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(step, warmup, iters):
    first = None
    for i in range(warmup):
        v = step()
        if first is None:
            first = v
    times = []
    for i in range(iters):
        t0 = time.perf_counter()
        v = step()
        times.append(time.perf_counter() - t0)
        if first is None:
            first = v
    return times, first


def peak():
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    c = torch.empty(2048, 2048)

    def step():
        torch.mm(a, b, out=c)
        return None

    times, _ = timed(step, max(1, args.warmup), max(3, args.iters))
    med = statistics.median(times)
    print(json.dumps({"case": "peak", "seconds": med, "all_seconds": times, "tokens": 0,
                      "gflops": 2 * 2048 ** 3 / med / 1e9, "first": None, "threads": torch.get_num_threads(),
                      "peak_rss_mb": peak_rss_mb(), "torch": torch.__version__}))


def main():
    if args.case == "peak":
        return peak()
    with open(args.batch) as f:
        spec = json.load(f)
    model = load_model(args.model)
    cfg = model.config
    image_token = cfg.image_token_id if hasattr(cfg, "image_token_id") else cfg.image_token_index
    n_img = cfg.image_seq_length
    b = Batch(spec, n_img, image_token)
    case = args.case
    lora = case.startswith("lora_")
    adapters = []
    if lora:
        adapters = add_lora(model, set(args.lora_targets.split(",")), args.lora_r, args.lora_alpha)
    params = [p for p in model.parameters() if p.requires_grad]
    tokens = b.tokens
    compile_seconds = None

    if case == "generate":
        model.eval()
        new = args.new_tokens

        def step():
            with torch.inference_mode():
                mask = b.mask
                pos = (mask.cumsum(-1) - 1).clamp(min=0)
                out = model(input_ids=b.input_ids, pixel_values=b.pixels, attention_mask=mask, position_ids=pos,
                            use_cache=True, logits_to_keep=1)
                past = out.past_key_values
                nxt = out.logits[:, -1].argmax(-1)
                last = pos[:, -1]
                generated = [nxt]
                for _ in range(new - 1):
                    mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
                    last = last + 1
                    out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last[:, None],
                                past_key_values=past, use_cache=True, logits_to_keep=1)
                    past = out.past_key_values
                    nxt = out.logits[:, -1].argmax(-1)
                    generated.append(nxt)
                return torch.stack(generated, 1)[0].tolist()

        tokens = b.input_ids.shape[0] * new
        times, first = timed(step, args.warmup, args.iters)
    else:
        model.train()
        opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
        pairs = case.endswith("dpo")
        ref = None
        if pairs and not lora:
            ref = copy.deepcopy(model).eval()
            for p in ref.parameters():
                p.requires_grad_(False)

        def sft_loss():
            h = hidden_from_pixels(model, b)
            return F.cross_entropy(supervised_logits(model, h, b), b.targets)

        loss_fn = sft_loss
        if args.compile:
            loss_fn = torch.compile(sft_loss)

        def sft_step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            return loss.item()

        def dpo_step():
            opt.zero_grad(set_to_none=True)
            n = b.input_ids.shape[0]
            half = n // 2
            feats = image_features(model, b.pixels)
            feats2 = torch.cat([feats, feats], 0)
            policy = sequence_logps(model, hidden_from_features(model, b, feats2), b, n)
            with torch.no_grad():
                if lora:
                    set_adapters(adapters, False)
                    # Adapters live in the decoder only: the policy's image features are the reference's.
                    ref_lp = sequence_logps(model, hidden_from_features(model, b, feats2.detach()), b, n)
                    set_adapters(adapters, True)
                else:
                    rf = image_features(ref, b.pixels)
                    ref_lp = sequence_logps(ref, hidden_from_features(ref, b, torch.cat([rf, rf], 0)), b, n)
            h = (policy[:half] - ref_lp[:half]) - (policy[half:] - ref_lp[half:])
            loss = -F.logsigmoid(args.beta * h).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            return loss.item()

        if args.compile and pairs:
            raise SystemExit("--compile applies to the sft and lora_sft cases")
        t0 = time.perf_counter()
        compiled_first = None
        if args.compile:
            try:
                compiled_first = sft_step()
            except Exception as e:  # noqa: BLE001 - any failure of the compiler is reported
                print(f"torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                      file=sys.stderr)
                sys.exit(3)
        compile_seconds = time.perf_counter() - t0 if args.compile else None
        times, first = timed(dpo_step if pairs else sft_step, args.warmup, args.iters)
        if compiled_first is not None:
            first = compiled_first

    med = statistics.median(times)
    print(json.dumps({
        "case": case,
        "compiled": bool(args.compile),
        "compile_seconds": compile_seconds,
        "seconds": med,
        "all_seconds": times,
        "tokens": tokens,
        "tokens_per_second": tokens / med,
        "first": first,
        "threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
