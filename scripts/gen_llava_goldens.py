#!/usr/bin/env python3
"""Golden outputs of Hugging Face's LlavaForConditionalGeneration for hallu's LLaVA parity tests.

    python scripts/gen_llava_goldens.py               # (re)writes Tests/Fixtures/llava
    python scripts/gen_llava_goldens.py --verify DIR  # checks a checkpoint that hallu saved

For each tiny random model (one per configuration below) the script writes a checkpoint folder
with save_pretrained, and for fixed inputs:

  golden.json           inputs (image placeholder NOT expanded, as hallu takes them), the loss,
                        greedy and beam-search ids, real sequence lengths
  golden.safetensors    pixels, logits of every position, gradients of selected parameters

--verify DIR reads what the Swift test `llavaExportForTransformers` wrote into DIR (run it with
HALLU_LLAVA_EXPORT=DIR): one subfolder per model, each with a checkpoint saved by hallu, the
inputs and hallu's logits. It loads each checkpoint with transformers and compares the logits.

Needs torch, transformers and safetensors (CPU, float32).
"""
import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "llava")
VOCAB = 120
IMAGE_TOKEN = VOCAB - 1
PAD, BOS, EOS = 0, 1, 2

# Two configurations: the LLaVA-1.5 feature path (second-to-last vision layer, class token
# dropped, untied head, quick_gelu tower) and the other branches (last vision layer, class token
# kept, tied head, explicit head_dim, 4:1 grouped-query heads, biases in the decoder's projections,
# different eps and rotary base). The seeds give beam searches whose EOS choices end hypotheses at
# several lengths (the tied head of a tiny model tends to repeat one token).
CONFIGS = {
    "layer_minus2_default": dict(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                    image_size=32, patch_size=8, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        text=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False),
        vision_feature_layer=-2, vision_feature_select_strategy="default", tie=False, seed=1000),
    "layer_minus1_full_tied": dict(
        vision=dict(hidden_size=24, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                    image_size=32, patch_size=8, hidden_act="gelu", layer_norm_eps=1e-6),
        text=dict(hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=1, head_dim=8, rms_norm_eps=1e-5, rope_theta=500.0,
                  tie_word_embeddings=True, attention_bias=True, mlp_bias=True),
        vision_feature_layer=-1, vision_feature_select_strategy="full", tie=True, seed=1011),
}

# Parameters whose gradients are compared (hallu's names are the same).
GRAD_PARAMS = [
    "lm_head.weight",
    "model.language_model.embed_tokens.weight",
    "model.language_model.layers.0.self_attn.q_proj.weight",
    "model.language_model.layers.0.self_attn.v_proj.bias",
    "model.language_model.layers.0.mlp.gate_proj.bias",
    "model.language_model.layers.1.self_attn.k_proj.weight",
    "model.language_model.layers.1.mlp.up_proj.weight",
    "model.language_model.norm.weight",
    "model.multi_modal_projector.linear_1.weight",
    "model.multi_modal_projector.linear_1.bias",
    "model.vision_tower.pre_layrnorm.weight",
    "model.vision_tower.encoder.layers.0.layer_norm1.weight",
    "model.vision_tower.encoder.layers.0.self_attn.q_proj.bias",
    "model.vision_tower.embeddings.class_embedding",
    "model.vision_tower.embeddings.patch_embedding.weight",
]


def build_config(spec):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig
    v = CLIPVisionConfig(**spec["vision"], projection_dim=32)
    text = dict(spec["text"])
    theta = text.pop("rope_theta")
    t = LlamaConfig(**text, vocab_size=VOCAB, max_position_embeddings=128, bos_token_id=BOS, eos_token_id=EOS,
                    pad_token_id=PAD, rope_parameters={"rope_type": "default", "rope_theta": theta})
    n_patches = (v.image_size // v.patch_size) ** 2
    seq = n_patches + (1 if spec["vision_feature_select_strategy"] == "full" else 0)
    return LlavaConfig(vision_config=v, text_config=t, image_token_index=IMAGE_TOKEN,
                       projector_hidden_act="gelu", vision_feature_layer=spec["vision_feature_layer"],
                       vision_feature_select_strategy=spec["vision_feature_select_strategy"],
                       image_seq_length=seq, tie_word_embeddings=spec["tie"])


def randomize(model, seed, tied):
    """Weights with spreads large enough that logits differ clearly between tokens; norm weights
    and biases are random too, so that every term of the forward pass is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layer_norm" in name or "layrnorm" in name:
                if name.endswith(".weight"):
                    p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                # A tied table is also the head: smaller, or the logits saturate.
                p.copy_((0.2 if tied else 0.5) * torch.randn(p.shape, generator=g))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (1.2 / fan_in ** 0.5))


def expand(ids, n, image_token=IMAGE_TOKEN):
    out = []
    for t in ids:
        out += [image_token] * n if t == image_token else [t]
    return out


def pad_batch(rows, value, left=False):
    t = max(len(r) for r in rows)
    if left:
        return [[value] * (t - len(r)) + r for r in rows]
    return [r + [value] * (t - len(r)) for r in rows]


def fixed_inputs():
    """Two samples of different lengths, the image at different offsets; labels supervise the answer."""
    s0 = [BOS, 17, 33, IMAGE_TOKEN, 45, 9, 88, 61, 23, 70, 5]
    l0 = [-100] * 6 + [88, 61, 23, 70, 5]
    s1 = [BOS, IMAGE_TOKEN, 101, 14, 52, 37]
    l1 = [-100] * 3 + [14, 52, 37]
    return [s0, s1], [l0, l1]


def hf_forward(model, ids, labels, pixels, n_img):
    assert labels is None or model.config.image_token_id == IMAGE_TOKEN
    exp_ids = [expand(r, n_img, model.config.image_token_id) for r in ids]
    exp_labels = [expand_labels(r, l, n_img) for r, l in zip(ids, labels)] if labels else None
    lengths = [len(r) for r in exp_ids]
    input_ids = torch.tensor(pad_batch(exp_ids, PAD))
    mask = torch.tensor(pad_batch([[1] * n for n in lengths], 0))
    lab = torch.tensor(pad_batch(exp_labels, -100)) if exp_labels else None
    out = model(input_ids=input_ids, attention_mask=mask, pixel_values=pixels, labels=lab)
    return out, lengths


def expand_labels(ids, labels, n):
    out = []
    for t, l in zip(ids, labels):
        out += [-100] * n if t == IMAGE_TOKEN else [l]
    return out


def greedy(model, prompts, pixels, n_img, new_tokens, eos):
    exp = [expand(p, n_img) for p in prompts]
    input_ids = torch.tensor(pad_batch(exp, PAD, left=True))
    mask = torch.tensor(pad_batch([[1] * len(r) for r in exp], 0, left=True))
    seqs = model.generate(input_ids=input_ids, attention_mask=mask, pixel_values=pixels, do_sample=False,
                          num_beams=1, max_new_tokens=new_tokens, eos_token_id=eos, pad_token_id=PAD)
    return [row[input_ids.shape[1]:].tolist() for row in seqs]


def beam(model, prompt, pixels, n_img, new_tokens, eos, length_penalty, k):
    exp = expand(prompt, n_img)
    input_ids = torch.tensor([exp])
    seqs = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), pixel_values=pixels,
                          do_sample=False, num_beams=k, max_new_tokens=new_tokens, eos_token_id=eos,
                          pad_token_id=PAD, length_penalty=length_penalty, early_stopping=False,
                          num_return_sequences=1)
    return seqs[0, len(exp):].tolist()


def never_emitted(ids_lists, start=3):
    """The smallest id (from `start`) absent from every generated list: an EOS that never fires."""
    used = {t for ids in ids_lists for t in ids}
    return next(t for t in range(start, VOCAB) if t not in used and t != IMAGE_TOKEN)


def make_model(spec, seed):
    from transformers import LlavaForConditionalGeneration
    config = build_config(spec)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    randomize(model, seed, spec["tie"])
    if spec["tie"]:
        assert model.lm_head.weight.data_ptr() == model.model.language_model.embed_tokens.weight.data_ptr()
    model.eval()
    return model


def write_model(name, spec, seed, out_root):
    import transformers
    model = make_model(spec, seed)
    config = model.config
    vc = config.vision_config
    n_img = config.image_seq_length

    folder = os.path.join(out_root, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    ckpt = os.path.join(folder, "model")
    model.save_pretrained(ckpt, safe_serialization=True)
    # hallu does not read generation defaults; the tests pass EOS and lengths explicitly.
    gen_config = os.path.join(ckpt, "generation_config.json")
    if os.path.exists(gen_config):
        os.remove(gen_config)

    g = torch.Generator().manual_seed(seed + 1)
    pixels = torch.randn(2, vc.num_channels, vc.image_size, vc.image_size, generator=g)
    ids, labels = fixed_inputs()

    # Forward and backward on the padded batch.
    model.zero_grad()
    out, lengths = hf_forward(model, ids, labels, pixels, n_img)
    out.loss.backward()
    tensors = {"pixels": pixels.contiguous(), "logits": out.logits.detach().contiguous()}
    params = dict(model.named_parameters())
    grads = {}
    for pname in GRAD_PARAMS:
        p = params.get(pname)
        if p is None:  # not in this configuration (a tied head, projections without bias)
            continue
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        tensors["grad." + pname] = grad.detach().clone().contiguous()
        grads[pname] = float(grad.abs().max())
    # Parameters off the feature path must get no gradient (the vision layers after the selected one).
    unused = []
    for pname, p in params.items():
        if pname.startswith("model.vision_tower.") and (p.grad is None or float(p.grad.abs().max()) == 0):
            unused.append(pname)
    model.zero_grad()

    with torch.no_grad():
        # Logits of each sample alone: padding must not change the real positions.
        single = [hf_forward(model, [ids[s]], None, pixels[s:s + 1], n_img)[0].logits[0] for s in range(2)]
        pad_effect = max(float((single[s] - out.logits[s, :lengths[s]]).abs().max()) for s in range(2))

        # Greedy: one prompt, then a left-padded batch of two prompts of different lengths.
        prompt = [BOS, 12, IMAGE_TOKEN, 30, 31, 32]
        prompt2 = [BOS, 40, 41, IMAGE_TOKEN, 7, 8, 9, 10, 11]
        greedy_eos, tried, seen_ids = EOS, set(), []
        while True:
            one = greedy(model, [prompt], pixels[:1], n_img, 20, greedy_eos)
            batch = greedy(model, [prompt, prompt2], pixels, n_img, 20, greedy_eos)
            if all(len(r) == 20 and greedy_eos not in r for r in one + batch):
                break
            tried.add(greedy_eos)
            seen_ids += one + batch + [sorted(tried)]
            greedy_eos = never_emitted(seen_ids)
        assert len(one[0]) == 20 and all(len(r) == 20 for r in batch) and greedy_eos not in one[0] + batch[0] + batch[1]

        # Beam search with EOS ids chosen so that finished hypotheses occur at different lengths.
        beam_prompt = [BOS, IMAGE_TOKEN, 50, 51]
        beams = []
        seen = set()
        for lp in (1.0, 0.5, 2.0):
            for eos in range(3, VOCAB):
                if eos == IMAGE_TOKEN:
                    continue
                res = beam(model, beam_prompt, pixels[1:2], n_img, 8, eos, lp, 3)
                kind = (lp, len(res), res[-1] == eos)
                if kind in seen:
                    continue
                seen.add(kind)
                beams.append(dict(eos=eos, length_penalty=lp, num_beams=3, max_new_tokens=8, ids=res))
                if len([b for b in beams if b["length_penalty"] == lp]) >= 4:
                    break
        # A never-emitted EOS: the search runs to max_new_tokens.
        never = never_emitted([b["ids"] for b in beams] + [[EOS]])
        if not any(b["eos"] == never and b["length_penalty"] == 1.0 for b in beams):
            beams.append(dict(eos=never, length_penalty=1.0, num_beams=3, max_new_tokens=8,
                              ids=beam(model, beam_prompt, pixels[1:2], n_img, 8, never, 1.0, 3)))
        # A wider beam with an EOS that ends some hypotheses early.
        ending = [b for b in beams if b["ids"][-1] == b["eos"] and len(b["ids"]) > 1] or beams
        wide_eos = ending[0]["eos"]
        beams.append(dict(eos=wide_eos, length_penalty=1.0, num_beams=4, max_new_tokens=6,
                          ids=beam(model, beam_prompt, pixels[1:2], n_img, 6, wide_eos, 1.0, 4)))

    save_file(tensors, os.path.join(folder, "golden.safetensors"), metadata={"format": "pt"})
    golden = {
        "transformers": transformers.__version__, "torch": torch.__version__, "seed": seed,
        "image_tokens": n_img, "ids": ids, "labels": labels, "lengths": lengths,
        "loss": float(out.loss.detach()), "grad_abs_max": grads, "vision_params_without_grad": sorted(unused),
        "padding_effect_max_abs": pad_effect,
        "greedy": {"prompt": prompt, "eos": greedy_eos, "max_new_tokens": 20, "ids": one[0]},
        "greedy_batch": {"prompts": [prompt, prompt2], "eos": greedy_eos, "max_new_tokens": 20, "ids": batch},
        "beam": {"prompt": beam_prompt, "image": 1, "cases": beams},
    }
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(folder) for x in fs)
    print("%s: loss %.6f, %d image tokens, logits %s, %d beam cases, %.0f KB, padding effect %.2e"
          % (name, float(out.loss.detach()), n_img, tuple(out.logits.shape), len(beams), size / 1024, pad_effect))
    print("   greedy eos %d: %s" % (greedy_eos, one[0]))
    for b in beams:
        print("   beam k=%d lp=%.1f eos=%d: %s" % (b["num_beams"], b["length_penalty"], b["eos"], b["ids"]))


def verify(folder):
    """Loads each checkpoint that hallu saved under `folder` with transformers and compares the logits
    for the same inputs with hallu's."""
    import transformers
    from transformers import LlavaForConditionalGeneration
    transformers.logging.set_verbosity_error()
    cases = sorted(d for d in os.listdir(folder) if os.path.exists(os.path.join(folder, d, "inputs.json")))
    if not cases:
        sys.exit("no exported checkpoints under %s (run the Swift tests with HALLU_LLAVA_EXPORT=%s)" % (folder, folder))
    failed = False
    for name in cases:
        case = os.path.join(folder, name)
        with open(os.path.join(case, "inputs.json")) as f:
            spec = json.load(f)
        hallu = load_file(os.path.join(case, "hallu_logits.safetensors"))
        model, info = LlavaForConditionalGeneration.from_pretrained(os.path.join(case, "model"),
                                                                    output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
        model.eval()
        n_img = spec["image_tokens"]
        assert model.config.image_seq_length == n_img, (model.config.image_seq_length, n_img)
        with torch.no_grad():
            out, lengths = hf_forward(model, spec["ids"], None, hallu["pixels"], n_img)
        assert lengths == spec["lengths"], (lengths, spec["lengths"])
        worst = max(float((out.logits[s, :n] - hallu["logits"][s, :n]).abs().max()) for s, n in enumerate(lengths))
        print("%s: transformers %s loaded hallu's checkpoint (%d parameters, tied head %s); "
              "logits max abs diff %.3e over %s positions"
              % (name, transformers.__version__, sum(p.numel() for p in model.parameters()),
                 model.config.tie_word_embeddings, worst, lengths))
        failed |= worst > 1e-4
    if failed:
        sys.exit("logits differ by more than 1e-4")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify", metavar="DIR", help="check a checkpoint folder written by hallu")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    if args.verify:
        verify(args.verify)
        return
    import transformers
    transformers.logging.set_verbosity_error()
    os.makedirs(args.out, exist_ok=True)
    for name, spec in CONFIGS.items():
        write_model(name, spec, spec["seed"], args.out)


if __name__ == "__main__":
    main()
