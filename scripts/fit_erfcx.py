#!/usr/bin/env python3
"""Fits the polynomial behind hallu's normal CDF kernel (Kernels/SIMDMath.swift, vnormalCDFAndGaussian).

    python scripts/fit_erfcx.py [--degree 8]

erfc(z) = exp(-z^2) * erfcx(z), and erfcx(z) = t * Q(t) with t = 1 / (1 + z/2) maps z in [0, inf) to
t in (0, 1], where Q is smooth. Q is fitted by iteratively reweighted least squares (Lawson's
algorithm) on Chebyshev nodes for minimax RELATIVE error, tight for z <= 4.7 (where GELU's value is
still above 1e-6 and a 1e-6 relative test applies) and looser beyond, down to z = 9.3 where exp(-z^2)
underflows float32. The check evaluates Q with float32 Horner steps from a float32 t, as the kernel
does. Needs numpy and mpmath (both come with transformers).
"""
import argparse

import mpmath as mp
import numpy as np

mp.mp.dps = 30
Z_MAX, Z_TIGHT = 9.3, 4.7


def erfcx(z):
    return float(mp.erfc(z) * mp.e ** (z * z))


def fit(degree):
    t_min = 1 / (1 + 0.5 * Z_MAX)
    n = 2000
    t = (np.cos(np.pi * (np.arange(n) + 0.5) / n)[::-1] * 0.5 + 0.5) * (1 - t_min) + t_min
    z = (1 / t - 1) / 0.5
    f = np.array([erfcx(v) for v in z]) / t
    u = (t - (1 + t_min) / 2) / ((1 - t_min) / 2)
    basis = np.polynomial.chebyshev.chebvander(u, degree)
    w = np.where(z <= Z_TIGHT, 1.0, 0.02) / f
    for _ in range(60):
        c, *_ = np.linalg.lstsq(basis * w[:, None], f * w, rcond=None)
        err = np.abs((basis @ c - f) / f)
        w = w * (err / err.max() * 0.5 + 0.5)
        w /= w.max()
    return np.polynomial.Chebyshev(c, domain=[t_min, 1]).convert(kind=np.polynomial.Polynomial).coef


def float32_error(coef):
    z = np.linspace(0, Z_MAX, 4001)
    t = (1 / (1 + 0.5 * z)).astype(np.float32)
    q = np.float32(coef[-1])
    for a in coef[-2::-1]:
        q = q * t + np.float32(a)
    ref = np.array([erfcx(v) for v in z])
    rel = np.abs((q * t).astype(np.float64) - ref) / ref
    return rel[z <= Z_TIGHT].max(), rel.max()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--degree", type=int, default=8)
    args = p.parse_args()
    coef = fit(args.degree)
    tight, overall = float32_error(coef)
    print(f"degree {args.degree}: max relative error {tight:.2e} for z <= {Z_TIGHT}, {overall:.2e} up to {Z_MAX}")
    print("coefficients, highest power first (Horner order):")
    for a in coef[::-1]:
        print(f"  {float(a)!r}")


if __name__ == "__main__":
    main()
