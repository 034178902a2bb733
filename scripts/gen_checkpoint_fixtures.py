#!/usr/bin/env python3
"""Golden files for hallu's checkpoint formats, written by the reference libraries.

    python scripts/gen_checkpoint_fixtures.py            # (re)writes Tests/Fixtures/checkpoint
    python scripts/gen_checkpoint_fixtures.py --verify DIR

Needs torch, safetensors and transformers; peft and pillow for the adapter and the image
processor files. --verify loads what hallu wrote into DIR (by the test
`checkpointExportForPython` with HALLU_CHECKPOINT_EXPORT=DIR) with the reference libraries and
checks the values.

Float values are stored in JSON as float32 bit patterns (unsigned 32-bit integers), so that the
Swift tests compare exactly, NaN and infinities included.
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "checkpoint")
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def bits(t):
    """float32 bit patterns of a tensor's values, flattened."""
    return [int(x) & 0xFFFFFFFF for x in t.detach().to(torch.float32).contiguous().view(torch.int32).flatten().tolist()]


def from_bits(values, shape):
    return torch.tensor([v - (1 << 32) if v >= 1 << 31 else v for v in values], dtype=torch.int32).view(torch.float32).reshape(shape)


def special_values():
    """Values on the edges of the 16-bit formats: rounding ties, subnormals, overflow, non-finite."""
    v = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 1e5, -1e5, 3.4e38,
         2.0 ** -14, 2.0 ** -14 * 0.999, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -26,
         1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1e-40, -1e-42,
         math.inf, -math.inf, math.nan]
    return torch.tensor(v, dtype=torch.float32)


def write_tensor_fixtures(out):
    g = torch.Generator().manual_seed(1234)
    os.makedirs(out, exist_ok=True)

    # A file with every dtype hallu reads, and the float32 values the reference gives for each.
    spec = special_values()
    mixed = {
        "a.f32": torch.randn(2, 3, 4, generator=g) * 3,
        "b.f16": torch.cat([spec, torch.randn(10, generator=g) * 100]).reshape(5, 7).to(torch.float16),
        "c.bf16": torch.cat([spec, torch.randn(8, generator=g) * 1e3]).reshape(3, 11).to(torch.bfloat16),
        "d.i64": torch.tensor([-3, 0, 7, 123456], dtype=torch.int64),
        "e.i32": torch.tensor([[1, -2], [2 ** 20, -(2 ** 20)]], dtype=torch.int32),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(2.5),
    }
    save_file(mixed, os.path.join(out, "mixed.safetensors"), metadata={"format": "pt"})
    expected = {name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "bits": bits(t)} for name, t in mixed.items()}

    # float32 sources stored as F32/F16/BF16 by the reference writer: hallu must write the same bytes.
    sources = {
        "layer.0.weight": (torch.randn(4, 6, generator=g), "F32"),
        "layer.0.half": (torch.cat([spec, torch.randn(11, generator=g) * 50]).reshape(6, 6), "F16"),
        # No NaN here: PyTorch's vectorised BF16 conversion turns every NaN into 0xFFFF, its scalar
        # one into 0x7FC0; the payload carries no meaning, so only finite values are compared by byte.
        "layer.1.brain": (torch.cat([spec[~spec.isnan()], torch.randn(6, generator=g) * 1e4]).reshape(5, 6), "BF16"),
        "Zeta": (torch.randn(3, generator=g), "F32"),
        "alpha": (torch.randn(2, 2, generator=g), "F16"),
        "empty": (torch.zeros(0), "F32"),
        "scalar": (torch.tensor(-1.25), "BF16"),
    }
    # One key only: the reference writer keeps metadata in a hash map, so the order of several keys varies.
    meta = {"note": "quote \" backslash \\ newline \n tab \t control \x01 done \u00e9\u4e2d"}
    save_file({n: t.to(DTYPES[d]) for n, (t, d) in sources.items()}, os.path.join(out, "reference_written.safetensors"), metadata=meta)
    written = {
        "metadata": meta,
        "tensors": {n: {"dtype": d, "shape": list(t.shape), "source_bits": bits(t)} for n, (t, d) in sources.items()},
    }

    # Rounding of float32 to the 16-bit formats, as PyTorch does it.
    x = torch.cat([spec, torch.randn(600, generator=g) * 10, torch.randn(300, generator=g) * 1e-5,
                   torch.randn(300, generator=g) * 3e4, torch.randn(100, generator=g) * 1e38,
                   torch.rand(200, generator=g) * 2.0 ** -14])
    # Exact ties of the F16 and BF16 grids, in both rounding directions.
    ties = [1 + k * 2.0 ** -11 for k in range(1, 40, 2)] + [1 + k * 2.0 ** -8 for k in range(1, 40, 2)]
    x = torch.cat([x, torch.tensor(ties), -torch.tensor(ties)])
    rounding = {
        "f32_bits": bits(x),
        "f16_bits": [int(v) & 0xFFFF for v in x.to(torch.float16).view(torch.int16).tolist()],
        "bf16_bits": [int(v) & 0xFFFF for v in x.to(torch.bfloat16).view(torch.int16).tolist()],
    }

    with open(os.path.join(out, "tensors.json"), "w") as f:
        json.dump({"mixed": expected, "written": written, "rounding": rounding}, f, sort_keys=True)


def micro_configs():
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig
    text = LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=1, vocab_size=32, max_position_embeddings=64, rms_norm_eps=1e-5,
                       bos_token_id=1, eos_token_id=2, pad_token_id=0)
    vision = CLIPVisionConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                              image_size=16, patch_size=8)
    plain = LlavaConfig(vision_config=vision, text_config=text, image_token_index=31, projector_hidden_act="gelu",
                        vision_feature_layer=-2, vision_feature_select_strategy="default")
    text_tied = LlamaConfig(hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=6,
                            num_key_value_heads=2, vocab_size=50, max_position_embeddings=128, rope_theta=500000.0,
                            tie_word_embeddings=True, attention_bias=True, mlp_bias=True)
    vision_full = CLIPVisionConfig(hidden_size=12, intermediate_size=20, num_hidden_layers=1, num_attention_heads=3,
                                   image_size=24, patch_size=6, hidden_act="gelu")
    tied = LlavaConfig(vision_config=vision_full, text_config=text_tied, image_token_index=49,
                       vision_feature_layer=-1, vision_feature_select_strategy="full", tie_word_embeddings=True)
    return plain, tied


def write_model_fixtures(out):
    from transformers import LlavaForConditionalGeneration
    import transformers
    transformers.logging.set_verbosity_error()
    plain, tied = micro_configs()

    torch.manual_seed(7)
    model = LlavaForConditionalGeneration(plain).eval()
    folder = os.path.join(out, "micro_llava")
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder, max_shard_size="16KB")
    sd = model.state_dict()
    with open(os.path.join(folder, SAVED_INDEX)) as f:
        saved_keys = sorted(json.load(f)["weight_map"])
    micro = {
        "parameter_count": sum(p.numel() for p in model.parameters()),
        "state_dict_shapes": {k: list(v.shape) for k, v in sd.items()},
        "saved_keys": saved_keys,
        "sums": {k: float(v.double().sum()) for k, v in sd.items()},
        "head_bits": {k: bits(v.flatten()[:4]) for k, v in sd.items()},
        "transformers_version": transformers.__version__,
    }

    torch.manual_seed(8)
    tmodel = LlavaForConditionalGeneration(tied)
    tied_folder = os.path.join(out, "micro_llava_tied")
    shutil.rmtree(tied_folder, ignore_errors=True)
    os.makedirs(tied_folder)
    tied.save_pretrained(tied_folder)
    micro_tied = {
        "parameter_count": sum(p.numel() for p in tmodel.parameters()),
        "state_dict_shapes": {k: list(v.shape) for k, v in tmodel.state_dict().items()},
    }

    adapter = write_adapter(model, out)
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump({"micro": micro, "micro_tied": micro_tied, "adapter": adapter}, f, sort_keys=True, indent=1)


SAVED_INDEX = "model.safetensors.index.json"


def write_adapter(model, out):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        print("peft not installed: adapter fixture not written", file=sys.stderr)
        return None
    torch.manual_seed(9)
    config = LoraConfig(r=2, lora_alpha=6, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    # PEFT starts B at zero; give it values so the test can see them.
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p))
    folder = os.path.join(out, "adapter")
    shutil.rmtree(folder, ignore_errors=True)
    peft_model.save_pretrained(folder)
    os.remove(os.path.join(folder, "README.md"))
    # PEFT keeps target_modules in a set, whose order varies between runs; sort it for stable files.
    cfg_path = os.path.join(folder, "adapter_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["target_modules"] = sorted(cfg["target_modules"])
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    expected = {}
    with safe_open(os.path.join(folder, "adapter_model.safetensors"), "pt") as f:
        for key in f.keys():
            t = f.get_tensor(key)
            expected[key] = {"shape": list(t.shape), "bits": bits(t)}
    return {"tensors": expected, "scaling": 6 / 2}


def write_processor(out):
    try:
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    except ImportError:
        print("pillow not installed: preprocessor fixture not written", file=sys.stderr)
        return
    p = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    p.save_pretrained(os.path.join(out, "processor"))


def verify(folder):
    """Loads hallu's output with the reference libraries."""
    import transformers
    from transformers import LlavaForConditionalGeneration
    transformers.logging.set_verbosity_error()
    with open(os.path.join(folder, "expected.json")) as f:
        expected = json.load(f)

    with safe_open(os.path.join(folder, "plain.safetensors"), "pt") as f:
        assert f.metadata() == expected["plain_metadata"], f.metadata()
        for name, spec in expected["plain"].items():
            t = f.get_tensor(name)
            assert list(t.shape) == spec["shape"], (name, t.shape)
            assert bits(t) == spec["bits"], name
    print("safetensors: plain.safetensors OK (%d tensors)" % len(expected["plain"]))

    ckpt = os.path.join(folder, "checkpoint")
    model, info = LlavaForConditionalGeneration.from_pretrained(ckpt, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    sd = model.state_dict()
    for name, b in expected["checkpoint_bits"].items():
        assert bits(sd[name].flatten()[:len(b)]) == b, name
    assert model.config.text_config.rope_parameters["rope_theta"] == expected["rope_theta"]
    print("transformers %s: checkpoint OK (%d parameters)" % (transformers.__version__, sum(p.numel() for p in model.parameters())))

    try:
        from peft import PeftModel
    except ImportError:
        print("peft not installed: adapter not checked")
        return
    peft_model = PeftModel.from_pretrained(model, os.path.join(ckpt, "adapter"))
    with open(os.path.join(OUT, "models.json")) as f:
        reference = json.load(f)["adapter"]["tensors"]
    n = 0
    for name, p in peft_model.named_parameters():
        if "lora_" in name:
            key = name.replace(".default.", ".")
            assert bits(p) == reference[key]["bits"], key
            n += 1
    assert n == expected["adapter_tensors"] == len(reference), (n, expected["adapter_tensors"])
    print("peft: adapter OK (%d LoRA tensors, values equal to the fixture's)" % n)

    try:
        from transformers import AutoImageProcessor
        p = AutoImageProcessor.from_pretrained(ckpt)
        assert p.size["shortest_edge"] == 16 and p.crop_size["height"] == 16, (p.size, p.crop_size)
        print("transformers: preprocessor_config.json OK (%s)" % type(p).__name__)
    except ImportError:
        print("pillow not installed: preprocessor not checked")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verify", metavar="DIR")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    if args.verify:
        verify(args.verify)
        return
    out = os.path.abspath(args.out)
    write_tensor_fixtures(out)
    write_model_fixtures(out)
    write_processor(out)
    print("wrote", out)


if __name__ == "__main__":
    main()
