#!/usr/bin/env python3
"""Writes a LLaVA checkpoint with random weights for `hallu bench real` and `hallu bench 7b`.

    python bench/make_checkpoint.py --layout tinyllava --dtype bfloat16 --out DIR

Layouts (LLaVA-1.5: CLIP ViT-L/14-336 vision tower, 576 image tokens, two-layer GELU projector,
feature layer -2; the vocabulary padded to 32064 with the image token at 32000, as the Hugging Face
LLaVA ports have it):
  tinyllava  TinyLlama-1.1B decoder: 22 layers, hidden 2048, 32 heads, 4 KV heads, intermediate 5632.
  llava7b    Vicuna-7B decoder (llava-1.5-7b): 32 layers, hidden 4096, 32 heads, intermediate 11008.

The model is built by transformers (`_from_config`, seed 0, its own initialisation) directly in the
requested dtype and saved with `save_pretrained` as safetensors (sharded at 5 GB). The folder is
written beside DIR and renamed into place, then marked with an empty file `complete`.
"""
import argparse
import os
import shutil
import time

import torch
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

DECODERS = {
    "tinyllava": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                      num_key_value_heads=4, rms_norm_eps=1e-5),
    "llava7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                    num_key_value_heads=32, rms_norm_eps=1e-5),
}


def config(layout):
    vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                              image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu",
                              layer_norm_eps=1e-5)
    text = LlamaConfig(vocab_size=32064, max_position_embeddings=4096, rope_theta=10000.0, tie_word_embeddings=False,
                       bos_token_id=1, eos_token_id=2, pad_token_id=32001, **DECODERS[layout])
    return LlavaConfig(vision_config=vision, text_config=text, image_token_index=32000, projector_hidden_act="gelu",
                       vision_feature_layer=-2, vision_feature_select_strategy="default", image_seq_length=576)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layout", required=True, choices=sorted(DECODERS))
    p.add_argument("--dtype", required=True, choices=["float32", "bfloat16", "float16"])
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    model = LlavaForConditionalGeneration._from_config(config(args.layout), torch_dtype=getattr(torch, args.dtype))
    model.eval()
    params = sum(t.numel() for t in model.parameters())
    tmp = args.out.rstrip("/") + f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True, max_shard_size="5GB")
    open(os.path.join(tmp, "complete"), "w").close()
    shutil.rmtree(args.out, ignore_errors=True)
    os.rename(tmp, args.out)
    print(f"{args.layout} {args.dtype}: {params / 1e9:.3f}B parameters written to {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
