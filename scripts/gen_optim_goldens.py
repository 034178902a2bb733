#!/usr/bin/env python3
"""Reference values for the optimisers, gradient clipping and learning-rate schedules.

Runs torch.optim.AdamW, torch.optim.SGD, torch.nn.utils.clip_grad_norm_ and the transformers
warmup schedules on small fixed inputs and writes Tests/Fixtures/optim/*.json. Every float32 value is
written as the exact double it represents, so the Swift tests read back the very same bits.

Usage: python scripts/gen_optim_goldens.py   (needs torch and transformers; CI never runs this)
"""
import json
import math
import os
from types import SimpleNamespace

import torch
import transformers
from transformers import (
    TrainingArguments,
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_cosine_with_min_lr_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "optim")
STEPS = 5


def pattern(shape, phase, scale=1.0, offset=0.0):
    """Deterministic, irregular values (no RNG, so the inputs are reproducible anywhere)."""
    n = math.prod(shape)
    vals = [offset + scale * math.sin(1.7 * i + phase) * math.cos(0.31 * i * i + 2.0 * phase) for i in range(n)]
    return torch.tensor(vals, dtype=torch.float32).reshape(shape)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


# Two groups; the first holds three tensors (15 elements exercises vector body and scalar tail),
# the second one tensor with its own learning rate, as a projector group would.
SHAPES = [[[3, 5], [8], [2, 2]], [[4, 3]]]
# Steps (0-based) at which a parameter has no gradient: (group, index) -> steps.
NO_GRAD = {(0, 2): {1, 3}, (1, 0): {0}}
# Learning-rate multipliers per step (what a schedule would pass as lrScale); exact in float32.
LR_SCALES = [1.0, 0.5, 0.25, 1.0, 0.75]


def make_problem():
    params, grads = [], []
    for g, shapes in enumerate(SHAPES):
        params.append([pattern(s, 0.3 + g + 0.7 * i, scale=0.8, offset=0.5 if i % 2 == 0 else -0.4)
                       for i, s in enumerate(shapes)])
    for k in range(STEPS):
        per_step = []
        for g, shapes in enumerate(SHAPES):
            row = []
            for i, s in enumerate(shapes):
                if k in NO_GRAD.get((g, i), set()):
                    row.append(None)
                else:
                    row.append(pattern(s, 1.1 * k + 0.5 * g + 0.13 * i, scale=0.3 + 0.2 * k))
            per_step.append(row)
        grads.append(per_step)
    return params, grads


def run(make_optimizer, hyper, groups_hyper):
    init, grads = make_problem()
    tensors = [[p.clone().requires_grad_(True) for p in row] for row in init]
    groups = [dict(params=tensors[g], **groups_hyper[g]) for g in range(len(tensors))]
    opt = make_optimizer(groups, **hyper)
    base_lrs = [g["lr"] for g in opt.param_groups]
    after = []
    for k in range(STEPS):
        for g, row in enumerate(tensors):
            for i, p in enumerate(row):
                p.grad = None if grads[k][g][i] is None else grads[k][g][i].clone()
        for g, group in enumerate(opt.param_groups):
            group["lr"] = base_lrs[g] * LR_SCALES[k]
        opt.step()
        after.append([[flat(p) for p in row] for row in tensors])
    state = {}
    for g, row in enumerate(tensors):
        for i, p in enumerate(row):
            for key, value in opt.state[p].items():
                state[f"group.{g}.param.{i}.{key}"] = float(value) if value.dim() == 0 else flat(value)
    return {
        "hyper": hyper,
        "groups": [dict(shapes=SHAPES[g], **groups_hyper[g]) for g in range(len(SHAPES))],
        "lr_scales": LR_SCALES,
        "initial": [[flat(p) for p in row] for row in init],
        "grads": [[[None if t is None else flat(t) for t in row] for row in step] for step in grads],
        "after": after,
        "state": state,
    }


def adamw():
    return run(lambda groups, **kw: torch.optim.AdamW(groups, **kw),
               {"betas": [0.9, 0.999], "eps": 1e-8},
               [{"lr": 1e-2, "weight_decay": 0.1}, {"lr": 3e-3, "weight_decay": 0.0}])


def sgd(nesterov):
    hyper = {"momentum": 0.9, "dampening": 0.0 if nesterov else 0.1, "nesterov": nesterov}
    return run(lambda groups, **kw: torch.optim.SGD(groups, **kw), hyper,
               [{"lr": 5e-2, "weight_decay": 0.01}, {"lr": 2e-2, "weight_decay": 0.0}])


def clipping():
    cases = []
    for max_norm, scale in [(1.0, 1.0), (100.0, 1.0), (0.5, 3.0)]:
        grads = [pattern([3, 5], 0.2, scale), pattern([7], 1.4, scale), pattern([2, 3], 2.9, scale)]
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        cases.append({"max_norm": max_norm, "grads": [flat(g) for g in grads],
                      "shapes": [list(g.shape) for g in grads],
                      "norm": float(norm), "clipped": [flat(p.grad) for p in params]})
    return {"cases": cases}


def schedules():
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    points = [(0, 100, 10), (5, 100, 10), (10, 100, 10), (11, 100, 10), (55, 100, 10), (99, 100, 10),
              (100, 100, 10), (130, 100, 10), (0, 50, 0), (1, 50, 0), (25, 50, 0), (49, 50, 0), (50, 50, 0),
              (3, 7, 3), (4, 7, 3), (6, 7, 3), (2, 5, 5), (5, 5, 5), (6, 5, 5), (4, 3, 8), (9, 3, 8),
              (17, 1000, 30), (523, 1000, 30)]
    makers = {
        "constant": lambda w, t: get_constant_schedule_with_warmup(dummy, w),
        "linear": lambda w, t: get_linear_schedule_with_warmup(dummy, w, t),
        "cosine": lambda w, t: get_cosine_schedule_with_warmup(dummy, w, t),
        "cosine_min_0.1": lambda w, t: get_cosine_with_min_lr_schedule_with_warmup(dummy, w, t, min_lr_rate=0.1),
        "cosine_min_0.25": lambda w, t: get_cosine_with_min_lr_schedule_with_warmup(dummy, w, t, min_lr_rate=0.25),
    }
    rows = []
    for name, make in makers.items():
        for step, total, warmup in points:
            factor = make(warmup, total).lr_lambdas[0](step)
            rows.append({"schedule": name, "step": step, "total": total, "warmup": warmup, "factor": float(factor)})
    warmups = []
    for total, ratio in [(100, 0.03), (1000, 0.03), (333, 0.03), (10, 0.05), (7, 0.5), (3696, 0.03), (1, 0.1),
                         (50, 0.0)]:
        # The method itself, on a stand-in: building TrainingArguments needs accelerate.
        steps = TrainingArguments.get_warmup_steps(SimpleNamespace(warmup_steps=ratio), total)
        warmups.append({"total": total, "ratio": ratio, "steps": steps})
    return {"factors": rows, "warmup_ratio": warmups}


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"torch": torch.__version__, "transformers": transformers.__version__}
    outputs = {"adamw.json": adamw(), "sgd_momentum.json": sgd(False), "sgd_nesterov.json": sgd(True),
               "clip.json": clipping(), "schedules.json": schedules()}
    for name, body in outputs.items():
        body["generated_with"] = meta
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(body, f, indent=1)
            f.write("\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
