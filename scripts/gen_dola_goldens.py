"""DoLa goldens from transformers 4.46's built-in DoLa (see gen_decoding_goldens.py --dola).

Loads the tiny model that gen_decoding_goldens.py saved (renaming its weights to 4.46's layout),
checks its logits against the ones recorded with transformers 5, then writes dola.json: greedy ids
from `generate(dola_layers=..., repetition_penalty=...)`, and sampled ids from a loop over the same
4.46 functions (`_dola_select_contrast`, the repetition-penalty processor and the sampling warpers)
that draws hallu's uniforms (SplitMix64) instead of torch.multinomial; the loop's greedy ids are
checked against generate's.
"""
import json
import os

import torch
from safetensors.torch import load_file

import gen_decoding_goldens as g


def load_model(out):
    import transformers
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration
    spec = g.SPEC
    v = CLIPVisionConfig(**spec["vision"], projection_dim=32)
    text = dict(spec["text"])
    t = LlamaConfig(**text, vocab_size=g.VOCAB, max_position_embeddings=128, bos_token_id=g.BOS, eos_token_id=2,
                    pad_token_id=g.PAD)
    n = (v.image_size // v.patch_size) ** 2
    cfg = LlavaConfig(vision_config=v, text_config=t, image_token_index=g.IMAGE, projector_hidden_act="gelu",
                      vision_feature_layer=spec["vision_feature_layer"],
                      vision_feature_select_strategy=spec["vision_feature_select_strategy"], image_seq_length=n,
                      tie_word_embeddings=False)
    model = LlavaForConditionalGeneration(cfg)
    weights = load_file(os.path.join(out, "model", "model.safetensors"))
    renamed = {}
    for k, w in weights.items():
        if k.startswith("model.language_model."):
            k = "language_model.model." + k[len("model.language_model."):]
        elif k == "lm_head.weight":
            k = "language_model.lm_head.weight"
        elif k.startswith("model."):
            k = k[len("model."):]
        if k.startswith("vision_tower."):
            k = "vision_tower.vision_model." + k[len("vision_tower."):]
        renamed[k] = w
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    return model, transformers.__version__


def main(out, prompts, image):
    model, version = load_model(out)
    with open(os.path.join(out, "inputs.json")) as f:
        common = json.load(f)
    pixels = torch.tensor(common["pixels"]).reshape(common["pixels_shape"])
    pixels_of = lambda p: pixels[prompts.index(p):prompts.index(p) + 1]
    n = model.config.image_seq_length
    from transformers.generation.utils import _dola_select_contrast
    from transformers import RepetitionPenaltyLogitsProcessor

    def dola_candidates(spec):
        # The candidate layers exactly as 4.46's _dola_decoding picks them.
        final = model.config.get_text_config().num_hidden_layers
        start = 0 if not model.config.tie_word_embeddings else (2 if final > 2 else 1 if final == 2 else 0)
        if spec == "low":
            return [start] if start == final // 2 else list(range(start, final // 2, 2)) if final <= 40 else list(range(start, 20, 2))
        if spec == "high":
            return list(range(final // 2, final, 2)) if final <= 40 else list(range(final - 20, final, 2))
        return [i for i in spec if i < final]

    def scores_fn(layers, rep, rel_top):
        def fn(prompt, gen):
            ids = torch.tensor([g.expand(prompt + gen, n)])
            out = model(input_ids=ids, pixel_values=pixels_of(prompt), output_hidden_states=True)
            final = out.logits[:, -1, :].float()
            lm_head = model.get_output_embeddings()
            cands = dola_candidates(layers)
            prem = {l: lm_head(out.hidden_states[l][:, -1, :]) for l in cands}
            logits = _dola_select_contrast(cands, prem, final) if rel_top == 0.1 else None
            assert logits is not None
            if rep != 1.0:
                logits = RepetitionPenaltyLogitsProcessor(rep)(ids, logits)
            return logits[0]
        return fn

    with torch.no_grad():
        check = g.last_logits(model, prompts[0], pixels_of(prompts[0]))[1][:16]
        diff = float((check - torch.tensor(common["check_logits"])).abs().max())
        assert diff < 1e-4, diff
        cases = []
        for layers, spec, rep in (("high", "high", 1.2), ("0,1,2,3", [0, 1, 2, 3], 1.2), ("1,3", [1, 3], 1.0)):
            fn = scores_fn(spec, rep, 0.1)
            for cfg in g.modes(eos=3)[:3]:
                ids = g.run(fn, cfg)
                if cfg["mode"] == "greedy":
                    for p, mine in zip(prompts, ids):
                        x = torch.tensor([g.expand(p, n)])
                        ref = model.generate(input_ids=x, attention_mask=torch.ones_like(x), pixel_values=pixels_of(p),
                                             do_sample=False, dola_layers=spec, repetition_penalty=rep,
                                             max_new_tokens=cfg["max_new_tokens"], eos_token_id=3,
                                             pad_token_id=g.PAD)[0, x.shape[1]:].tolist()
                        assert ref == mine, (layers, ref, mine)
                options = {"layers": layers, "repetition_penalty": str(rep), "relative_top": "0.1"}
                cases.append(dict(options=options, config=cfg, ids=ids))
        doc = dict(common, transformers=version, cases=cases)
        doc.pop("check_logits", None)
        g.write("dola", doc)
