#!/usr/bin/env python3
"""The transformers side of `hallu bench real`: one checkpoint, the same work as hallu's child.

    python bench/torch_real.py --model DIR --threads 2 --new-tokens 16 --iters 2

Loads the checkpoint as LlavaForConditionalGeneration in the dtype it is stored in (sdpa
attention), from the page cache (the caller has read the files), and measures, under
torch.inference_mode:
  prefill  one POPE question: BOS, the image placeholder expanded to 576 tokens, 24 question tokens
           (ids 3 + (7919 j + 13) mod 31000), pixels (7919 i mod 2001) / 1000 - 1; one forward with
           logits of the last position and its argmax.
  decode   greedy decoding after 64-token text prompts at batch 1 and 8 with past_key_values, one
           token per step; generated tokens per second from the time of N+1 new tokens minus that
           of 1 new token (so the prompt's prefill is not counted).
Each timing is the median of --iters runs. Prints one JSON object (load_seconds, prefill_seconds,
first_token, decode_b1/b8_tokens_per_second, decode_ids, peak_rss_mb, torch and transformers versions).
"""
import argparse
import json
import os
import resource
import statistics
import time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", required=True)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--new-tokens", type=int, default=16)
p.add_argument("--iters", type=int, default=2)
p.add_argument("--no-decode", action="store_true")
args = p.parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import LlavaForConditionalGeneration  # noqa: E402

torch.set_num_threads(args.threads)

QUESTION_TOKENS = 24
PROMPT_TOKENS = 64


def token(j):
    return 3 + (j * 7919 + 13) % 31000


def stored_dtype(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    name = cfg.get("dtype") or cfg.get("torch_dtype") or cfg.get("text_config", {}).get("dtype") or "float32"
    return getattr(torch, name)


def median_time(fn, iters):
    times, out = [], None
    for _ in range(iters):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def greedy(model, ids, new_tokens):
    mask = torch.ones_like(ids)
    out = model(input_ids=ids, attention_mask=mask, use_cache=True, logits_to_keep=1)
    past = out.past_key_values
    nxt = out.logits[:, -1].argmax(-1)
    generated = [nxt]
    pos = ids.shape[1]
    for _ in range(new_tokens - 1):
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        out = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=torch.full((ids.shape[0], 1), pos),
                    past_key_values=past, use_cache=True, logits_to_keep=1)
        past = out.past_key_values
        nxt = out.logits[:, -1].argmax(-1)
        generated.append(nxt)
        pos += 1
    return torch.stack(generated, 1)


def main():
    dtype = stored_dtype(args.model)
    t0 = time.perf_counter()
    model = LlavaForConditionalGeneration.from_pretrained(args.model, dtype=dtype, attn_implementation="sdpa")
    model.eval()
    load = time.perf_counter() - t0
    cfg = model.config
    image_token = cfg.image_token_id if hasattr(cfg, "image_token_id") else cfg.image_token_index
    n_img = cfg.image_seq_length
    size = cfg.vision_config.image_size
    count = 3 * size * size
    pixels = ((np.arange(count, dtype=np.int64) * 7919) % 2001 / 1000.0 - 1.0).astype(np.float32)
    pixels = torch.from_numpy(pixels).reshape(1, 3, size, size).to(dtype)
    ids = torch.tensor([[1] + [image_token] * n_img + [token(j) for j in range(QUESTION_TOKENS)]])
    result = {"load_seconds": load, "prefill_positions": ids.shape[1], "threads": torch.get_num_threads(),
              "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__, "transformers": transformers.__version__}
    with torch.inference_mode():
        def prefill():
            out = model(input_ids=ids, pixel_values=pixels, attention_mask=torch.ones_like(ids), logits_to_keep=1)
            return int(out.logits[0, -1].argmax())
        result["prefill_seconds"], result["first_token"] = median_time(prefill, args.iters)
        if not args.no_decode:
            for batch in (1, 8):
                prompts = torch.tensor([[1] + [token(j + 1000 * b) for j in range(PROMPT_TOKENS - 1)] for b in range(batch)])
                one, _ = median_time(lambda: greedy(model, prompts, 1), args.iters)
                full, gen = median_time(lambda: greedy(model, prompts, args.new_tokens + 1), args.iters)
                result[f"decode_b{batch}_tokens_per_second"] = batch * args.new_tokens / max(full - one, 1e-9)
                if batch == 1:
                    result["decode_ids"] = gen[0].tolist()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
