#!/usr/bin/env python3
"""Reference values for the DPO losses (HA-DPO, HSA-DPO, conservative DPO, the SFT term on chosen).

The losses are written out in PyTorch from the equations (methods spec sections 2.1 and 3.1; TRL's
label smoothing), evaluated on fixed inputs, and differentiated with torch.autograd:

  h_i    = w_c,i (pi_c,i - ref_c,i) - w_r,i (pi_r,i - ref_r,i)
  loss_i = -(1 - eps) log sigmoid(beta h_i) - eps log sigmoid(-beta h_i)
  loss   = mean_i loss_i + gamma * (mean token NLL of the chosen answers)

Two kinds of case:
  "logps":  hand-built summed log-probs; gradients with respect to pi_c and pi_r.
  "logits": supervised logits [N, V] and targets of 2B sequences (chosen first); the summed log-probs
            and the chosen NLL are computed from them; gradients with respect to the logits.

Every float32 input is written as the exact double it represents, so Swift reads the same bits.
Outputs are computed in float64 from those float32 inputs.

Usage: /tmp/venv/bin/python scripts/gen_dpo_goldens.py   (needs torch; CI never runs this)
"""
import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "dpo")


def pattern(n, phase, scale=1.0, offset=0.0):
    """Deterministic, irregular float32 values (no RNG, so the inputs are reproducible anywhere)."""
    vals = [offset + scale * math.sin(1.7 * i + phase) * math.cos(0.3 * i * i + 2 * phase) for i in range(n)]
    return torch.tensor(vals, dtype=torch.float32).tolist()


def dpo_loss(pc, pr, rc, rr, beta, wc, wr, eps):
    chosen_ratio = pc - rc
    rejected_ratio = pr - rr
    h = wc * chosen_ratio - wr * rejected_ratio
    per_pair = -(1 - eps) * F.logsigmoid(beta * h) - eps * F.logsigmoid(-beta * h)
    rewards_c = beta * chosen_ratio.detach()
    rewards_r = beta * rejected_ratio.detach()
    metrics = {
        "rewards/chosen": rewards_c.mean().item(),
        "rewards/rejected": rewards_r.mean().item(),
        "rewards/margins": (rewards_c - rewards_r).mean().item(),
        "rewards/accuracies": (rewards_c > rewards_r).double().mean().item(),
        "logps/chosen": pc.detach().mean().item(),
        "logps/rejected": pr.detach().mean().item(),
    }
    return per_pair.mean(), metrics


def logps_case(name, b, beta, eps=0.0, wc=None, wr=None, spread=20.0, phase=0.0):
    pc32 = pattern(b, 0.1 + phase, spread, -30.0)
    pr32 = pattern(b, 1.3 + phase, spread, -34.0)
    rc32 = pattern(b, 2.2 + phase, spread / 2, -31.0)
    rr32 = pattern(b, 0.7 + phase, spread / 2, -32.0)
    wc32 = wc if wc is not None else [1.0] * b
    wr32 = wr if wr is not None else [1.0] * b
    t = lambda v: torch.tensor(torch.tensor(v, dtype=torch.float32).tolist(), dtype=torch.float64)
    pc = t(pc32).requires_grad_(True)
    pr = t(pr32).requires_grad_(True)
    loss, metrics = dpo_loss(pc, pr, t(rc32), t(rr32), beta, t(wc32), t(wr32), eps)
    loss.backward()
    return {
        "name": name, "kind": "logps", "beta": beta, "label_smoothing": eps, "gamma": 0.0,
        "policy_chosen": pc32, "policy_rejected": pr32, "ref_chosen": rc32, "ref_rejected": rr32,
        "chosen_weights": wc, "rejected_weights": wr,
        "loss": loss.item(), "metrics": metrics,
        "grad_policy_chosen": pc.grad.tolist(), "grad_policy_rejected": pr.grad.tolist(),
    }


def logits_case(name, lengths, vocab, beta, gamma, eps=0.0, wc=None, wr=None):
    """`lengths`: supervised tokens of each of the 2B sequences (chosen first)."""
    n = sum(lengths)
    b = len(lengths) // 2
    logits32 = pattern(n * vocab, 0.4, 3.0)
    targets = [(7 * i + 3) % vocab for i in range(n)]
    sequence_of_row = [s for s, ln in enumerate(lengths) for _ in range(ln)]
    rc32 = pattern(b, 2.9, 1.5, -2.0 * lengths[0])
    rr32 = pattern(b, 0.2, 1.5, -2.0 * lengths[b])
    logits = torch.tensor(torch.tensor(logits32, dtype=torch.float32).tolist(), dtype=torch.float64)
    logits = logits.reshape(n, vocab).requires_grad_(True)
    token_logp = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(targets).unsqueeze(1)).squeeze(1)
    seq = torch.zeros(2 * b, dtype=torch.float64).index_add(0, torch.tensor(sequence_of_row), token_logp)
    chosen_rows = sum(lengths[:b])
    nll = -token_logp[:chosen_rows].mean()
    t = lambda v: torch.tensor(torch.tensor(v, dtype=torch.float32).tolist(), dtype=torch.float64)
    wct = t(wc if wc is not None else [1.0] * b)
    wrt = t(wr if wr is not None else [1.0] * b)
    dpo, metrics = dpo_loss(seq[:b], seq[b:], t(rc32), t(rr32), beta, wct, wrt, eps)
    loss = dpo + gamma * nll
    loss.backward()
    metrics["dpo_loss"] = dpo.item()
    metrics["sft_loss"] = nll.item()
    return {
        "name": name, "kind": "logits", "beta": beta, "label_smoothing": eps, "gamma": gamma,
        "vocab": vocab, "logits": logits32, "targets": targets, "sequence_of_row": sequence_of_row,
        "ref_chosen": rc32, "ref_rejected": rr32, "chosen_weights": wc, "rejected_weights": wr,
        "sequence_logps": seq.detach().tolist(), "loss": loss.item(), "metrics": metrics,
        "grad_logits": logits.grad.reshape(-1).tolist(),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = [
        logps_case("ha-dpo beta 0.1", 6, 0.1),
        logps_case("ha-dpo beta 0.5", 5, 0.5, phase=0.9),
        logps_case("conservative dpo eps 0.1", 6, 0.1, eps=0.1, phase=0.4),
        logps_case("hsa-dpo rejected scores", 5, 0.1, wr=[0.25, 1.0, 0.6700000166893005, 0.10000000149011612, 2.0]),
        logps_case("hsa-dpo both scores", 4, 0.2, wc=[0.5, 1.5, 1.0, 0.75], wr=[1.0, 0.3333333432674408, 2.5, 0.0]),
        logps_case("saturated sigmoid", 4, 1.0, spread=400.0, phase=2.0),
        logits_case("ha-dpo + sft from logits", [3, 2, 4, 1], 7, 0.1, 0.5),
        logits_case("conservative dpo + sft from logits", [2, 3, 1, 2], 5, 0.3, 1.0, eps=0.2),
        logits_case("hsa-dpo from logits", [4, 1, 3, 3, 2, 2], 6, 0.1, 0.0, wr=[0.5, 1.0, 0.25]),
    ]
    path = os.path.join(OUT, "dpo_goldens.json")
    with open(path, "w") as f:
        json.dump({"generator": "scripts/gen_dpo_goldens.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
    print(f"wrote {len(cases)} cases to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
