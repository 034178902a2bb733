"""Golden values for the CPU kernels, computed with PyTorch and Hugging Face transformers.

Writes Tests/Fixtures/kernels/golden.json. Inputs are generated here (seeded) and stored in the file,
so the Swift tests read inputs and expected outputs from the same place.

    /tmp/venv/bin/python scripts/kernels_golden.py
"""
import json
import os

import torch
import torch.nn.functional as F
from transformers import LlamaConfig
from transformers.activations import ACT2FN
from transformers.models.llama import modeling_llama as llama

torch.manual_seed(1234)
out = {"torch": torch.__version__}


def flat(t):
    # 9 significant digits identify a float32 exactly.
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


# Activations: forward and the gradient for dy = 1, through the functions HF configs name.
x = torch.cat([torch.linspace(-8, 8, 61), torch.tensor([-20.0, -0.3, 0.0, 1e-3, 20.0])]).float()
acts = {}
for name in ["gelu", "gelu_pytorch_tanh", "quick_gelu", "silu"]:
    xx = x.clone().requires_grad_(True)
    y = ACT2FN[name](xx)
    y.sum().backward()
    acts[name] = {"y": flat(y), "dx": flat(xx.grad)}
out["activations"] = {"x": flat(x), "by_name": acts}

# RMSNorm (LlamaRMSNorm) and LayerNorm, with weight/bias and their gradients for a random dy.
rows, cols = 5, 24
x = torch.randn(rows, cols)
dy = torch.randn(rows, cols)
norm = llama.LlamaRMSNorm(cols, eps=1e-6)
with torch.no_grad():
    norm.weight.copy_(torch.rand(cols) + 0.5)
xx = x.clone().requires_grad_(True)
y = norm(xx)
(y * dy).sum().backward()
out["rmsnorm"] = {"rows": rows, "cols": cols, "eps": 1e-6, "x": flat(x), "weight": flat(norm.weight), "dy": flat(dy),
                  "y": flat(y), "dx": flat(xx.grad), "dweight": flat(norm.weight.grad)}
ln = torch.nn.LayerNorm(cols, eps=1e-5)
with torch.no_grad():
    ln.weight.copy_(torch.rand(cols) + 0.5)
    ln.bias.copy_(torch.randn(cols))
xx = (x * 3 + 1).clone().requires_grad_(True)
y = ln(xx)
(y * dy).sum().backward()
out["layernorm"] = {"rows": rows, "cols": cols, "eps": 1e-5, "x": flat(xx), "weight": flat(ln.weight), "bias": flat(ln.bias),
                    "dy": flat(dy), "y": flat(y), "dx": flat(xx.grad), "dweight": flat(ln.weight.grad),
                    "dbias": flat(ln.bias.grad)}

# Rotary: HF Llama rotary embedding on q [B, H, T, D] with per-row positions (row 1 left-padded).
B, H, T, D, theta = 2, 3, 6, 16, 10000.0
cfg = LlamaConfig(hidden_size=H * D, num_attention_heads=H, rope_theta=theta, max_position_embeddings=64)
rope = llama.LlamaRotaryEmbedding(cfg)
pos = torch.tensor([[0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 2, 3]])
q = torch.randn(B, H, T, D)
cos, sin = rope(q, pos)
qr, _ = llama.apply_rotary_pos_emb(q, q, cos, sin)
out["rotary"] = {"batch": B, "heads": H, "seq": T, "dim": D, "theta": theta, "positions": flat(pos.float()),
                 "x": flat(q), "y": flat(qr)}

# Attention: grouped-query SDPA with a causal mask and key padding (no fully masked rows here).
B, H, Hkv, Tq, Tk, D = 2, 4, 2, 5, 5, 8
q = torch.randn(B, H, Tq, D, requires_grad=True)
k = torch.randn(B, Hkv, Tk, D, requires_grad=True)
v = torch.randn(B, Hkv, Tk, D, requires_grad=True)
pad = torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)  # row 0 left-padded by one
causal = torch.ones(Tq, Tk, dtype=torch.bool).tril()
mask = causal[None, None] & pad[:, None, None, :]
mask[0, :, 0, :] = True  # the padded query of row 0 attends to everything, so no row is empty
kk = llama.repeat_kv(k, H // Hkv)
vv = llama.repeat_kv(v, H // Hkv)
o = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
dO = torch.randn_like(o)
(o * dO).sum().backward()
out["attention"] = {"batch": B, "heads": H, "kv_heads": Hkv, "tq": Tq, "tk": Tk, "dim": D,
                    "mask": flat(mask.float()), "q": flat(q), "k": flat(k), "v": flat(v), "out": flat(o),
                    "dout": flat(dO), "dq": flat(q.grad), "dk": flat(k.grad), "dv": flat(v.grad)}

# Cross-entropy with ignore_index and Selective EOS (EOS = 2 masked out where the gold is not EOS).
N, V, EOS = 7, 11, 2
logits = torch.randn(N, V) * 2
logits[:, EOS] += 3
targets = torch.tensor([EOS, 4, -100, 7, EOS, 0, 10])
z = logits.clone().requires_grad_(True)
keep = torch.ones(N, V, dtype=torch.bool)
keep[:, EOS] = False
keep[targets == EOS, EOS] = True
zm = z.masked_fill(~keep, float("-inf"))
loss = F.cross_entropy(zm, targets, ignore_index=-100, reduction="none")
scale = torch.rand(N) + 0.5
(loss * scale).sum().backward()
out["cross_entropy"] = {"rows": N, "vocab": V, "eos": EOS, "logits": flat(logits), "targets": [int(t) for t in targets],
                        "scale": flat(scale), "loss": flat(loss), "dlogits": flat(z.grad)}

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "kernels", "golden.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.normpath(path))
