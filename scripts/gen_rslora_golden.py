"""Golden output of a LoRA adapter with rsLoRA scaling, from PEFT.

Writes Tests/Fixtures/checkpoint/adapter_rslora/ (PEFT's adapter_config.json with use_rslora true
and adapter_model.safetensors) for the micro_llava fixture, and rslora_logits.json: the logits of
a text-only prompt with the adapter, without it, and the scaling PEFT used (lora_alpha / sqrt(r)).

Needs torch, transformers and peft (run by hand; CI only reads the outputs):
    python scripts/gen_rslora_golden.py
"""
import json
import math
import os
import shutil

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlavaForConditionalGeneration

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "checkpoint")


def main():
    model = LlavaForConditionalGeneration.from_pretrained(os.path.join(HERE, "micro_llava")).eval()
    torch.manual_seed(10)
    r, alpha = 4, 6
    config = LoraConfig(r=r, lora_alpha=alpha, use_rslora=True, lora_dropout=0.0,
                        target_modules=r".*language_model.*\.(q_proj|v_proj)")
    peft_model = get_peft_model(model, config).eval()
    # PEFT starts B at zero; give it values so that the scaling shows in the output.
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    scalings = {m.scaling["default"] for m in peft_model.modules()
                if isinstance(getattr(m, "scaling", None), dict) and "default" in m.scaling}
    assert scalings == {alpha / math.sqrt(r)}, scalings
    folder = os.path.join(HERE, "adapter_rslora")
    shutil.rmtree(folder, ignore_errors=True)
    peft_model.save_pretrained(folder)
    # Keep the fixture free of this machine's paths and of PEFT's model card.
    cfg_path = os.path.join(folder, "adapter_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["base_model_name_or_path"] = "micro_llava"
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    readme = os.path.join(folder, "README.md")
    if os.path.exists(readme):
        os.remove(readme)
    ids = torch.tensor([[1, 5, 9, 3, 17, 22, 8, 30]])
    with torch.no_grad():
        logits = peft_model(input_ids=ids).logits[0]
        with peft_model.disable_adapter():
            base = peft_model(input_ids=ids).logits[0]
    with open(os.path.join(HERE, "rslora_logits.json"), "w") as f:
        json.dump({"ids": ids[0].tolist(), "r": r, "lora_alpha": alpha, "scaling": alpha / math.sqrt(r),
                   "logits": [[float(x) for x in row] for row in logits],
                   "base_logits": [[float(x) for x in row] for row in base]}, f)
    print("wrote", folder, "and rslora_logits.json; max |with - without adapter|:", float((logits - base).abs().max()))


if __name__ == "__main__":
    main()
