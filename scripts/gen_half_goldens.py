#!/usr/bin/env python3
"""Golden outputs of transformers for hallu's 16-bit weight path (bfloat16 and float16 checkpoints).

    python scripts/gen_half_goldens.py     # (re)writes Tests/Fixtures/half

For each parity configuration of scripts/gen_llava_goldens.py (same tiny random models), the
weights are rounded to bfloat16 (and, for the first configuration, to float16), saved with
save_pretrained in that dtype, and transformers runs the checkpoint twice:

  wide    the 16-bit weights widened to float32, computed in float32: what hallu computes (16-bit
          storage, float32 accumulation). hallu must match it to float32 rounding.
  native  the checkpoint as transformers runs it by default in that dtype (every activation
          rounded to 16 bits). hallu must match it within that dtype's tolerance.

Files per case: model/ (the checkpoint), golden.json (inputs, greedy ids of both runs, and whether
they agree), golden.safetensors (pixels, logits of both runs). Needs torch and transformers (CPU).
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_llava_goldens as g  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "half")
CASES = [("bf16_layer_minus2_default", "layer_minus2_default", torch.bfloat16),
         ("bf16_layer_minus1_full_tied", "layer_minus1_full_tied", torch.bfloat16),
         ("f16_layer_minus2_default", "layer_minus2_default", torch.float16)]
NEW_TOKENS = 12


def greedy_ids(model, prompts, pixels, n_img, eos):
    return g.greedy(model, prompts, pixels, n_img, NEW_TOKENS, eos)


def main():
    from transformers import LlavaForConditionalGeneration
    import transformers
    os.makedirs(OUT, exist_ok=True)
    for name, config_name, dtype in CASES:
        spec = g.CONFIGS[config_name]
        seed = spec["seed"]
        model = g.make_model(spec, seed).to(dtype)
        folder = os.path.join(OUT, name)
        shutil.rmtree(folder, ignore_errors=True)
        ckpt = os.path.join(folder, "model")
        model.save_pretrained(ckpt, safe_serialization=True)
        gen_config = os.path.join(ckpt, "generation_config.json")
        if os.path.exists(gen_config):
            os.remove(gen_config)
        native = LlavaForConditionalGeneration.from_pretrained(ckpt, dtype=dtype).eval()
        wide = LlavaForConditionalGeneration.from_pretrained(ckpt, dtype=dtype).float().eval()
        n_img = wide.config.image_seq_length
        vc = wide.config.vision_config
        gen = torch.Generator().manual_seed(seed + 1)
        pixels = torch.randn(2, vc.num_channels, vc.image_size, vc.image_size, generator=gen)
        ids, _ = g.fixed_inputs()
        prompts = [[g.BOS, 12, g.IMAGE_TOKEN, 30, 31, 32], [g.BOS, 40, 41, g.IMAGE_TOKEN, 7, 8, 9, 10, 11]]
        with torch.no_grad():
            out_wide, lengths = g.hf_forward(wide, ids, None, pixels, n_img)
            out_native, _ = g.hf_forward(native, ids, None, pixels.to(dtype), n_img)
            eos = g.never_emitted([[g.EOS]])
            ids_wide = greedy_ids(wide, prompts, pixels, n_img, eos)
            ids_native = greedy_ids(native, prompts, pixels.to(dtype), n_img, eos)
        tensors = {"pixels": pixels.contiguous(), "logits_wide": out_wide.logits.float().contiguous(),
                   "logits_native": out_native.logits.float().contiguous()}
        save_file(tensors, os.path.join(folder, "golden.safetensors"), metadata={"format": "pt"})
        scale = float(out_wide.logits.abs().max())
        gap = max(float((out_wide.logits[s, :n] - out_native.logits.float()[s, :n]).abs().max()) for s, n in enumerate(lengths))
        golden = {"transformers": transformers.__version__, "torch": torch.__version__, "dtype": str(dtype).replace("torch.", ""),
                  "config": config_name, "seed": seed, "image_tokens": n_img, "ids": ids, "lengths": lengths,
                  "logits_abs_max": scale, "native_vs_wide_max_abs": gap,
                  "greedy": {"prompts": prompts, "eos": eos, "max_new_tokens": NEW_TOKENS, "ids_wide": ids_wide,
                             "ids_native": ids_native, "native_agrees": ids_wide == ids_native}}
        with open(os.path.join(folder, "golden.json"), "w") as f:
            json.dump(golden, f, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: |logits| max {scale:.3f}, native vs wide {gap:.4f}, greedy agree: {ids_wide == ids_native}")
        print("   wide  ", ids_wide)
        print("   native", ids_native)


if __name__ == "__main__":
    main()
