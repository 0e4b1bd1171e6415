#!/usr/bin/env python3
"""Writes thompson.json: Thompson sampling's selection probabilities, computed here by scipy,
independently of the Rust code (experiments/src/thompson).

P(component i is best) = integral over [0, 1] of beta.pdf(x; a_i, b_i) * prod_{j != i}
beta.cdf(x; a_j, b_j), with a = 1 + successes and b = 1 + failures (a uniform prior), by QUADPACK
(scipy.integrate.quad) with breakpoints at each posterior's quantiles; scipy's beta functions are
Cephes' (incbet), not the Rust continued fraction. The floored probabilities are min_probability
water-filling: components below the floor get it, the rest share what is left in proportion.

Run: python3 experiments/vectors/thompson_vectors.py OUT   (scipy)
"""
import json
import sys

import scipy
from scipy import integrate, stats

CASES = [
    dict(counts=[[0, 0], [0, 0]], floor=0.05),
    dict(counts=[[0, 0], [0, 0], [0, 0]], floor=0.05),
    dict(counts=[[1, 0], [0, 1]], floor=0.05),
    dict(counts=[[10, 10], [12, 8]], floor=0.05),
    dict(counts=[[30, 70], [35, 65], [50, 50]], floor=0.05),
    dict(counts=[[30, 70], [35, 65], [50, 50]], floor=0.2),
    dict(counts=[[0, 50], [3, 47], [1, 49], [10, 40]], floor=0.05),
    dict(counts=[[2, 0], [0, 2], [1, 1], [0, 0], [3, 3]], floor=0.1),
    dict(counts=[[5000, 5000], [5100, 4900]], floor=0.05),
    dict(counts=[[400, 600], [410, 590], [395, 605]], floor=0.05),
    dict(counts=[[100000, 900000], [100800, 899200], [99500, 900500]], floor=0.05),
    dict(counts=[[0, 1000], [0, 3], [5, 5]], floor=0.01),
    dict(counts=[[3, 100], [200, 2000], [60, 300]], floor=1 / 3),
]


def probability_best(counts):
    a = [1 + s for s, _ in counts]
    b = [1 + f for _, f in counts]
    points = sorted({
        float(stats.beta.ppf(q, a[j], b[j]))
        for j in range(len(counts))
        for q in (1e-12, 1e-6, 1e-3, 0.05, 0.25, 0.5, 0.75, 0.95, 1 - 1e-3, 1 - 1e-6, 1 - 1e-12)
    } - {0.0, 1.0})
    out = []
    for i in range(len(counts)):
        def integrand(x, i=i):
            value = stats.beta.pdf(x, a[i], b[i])
            for j in range(len(counts)):
                if j != i:
                    value *= stats.beta.cdf(x, a[j], b[j])
            return value
        value, _ = integrate.quad(
            integrand, 0.0, 1.0, points=points, limit=2000, epsabs=1e-15, epsrel=1e-13
        )
        out.append(value)
    return out


def with_floor(probabilities, floor):
    n = len(probabilities)
    floored = [False] * n
    while True:
        free = [i for i in range(n) if not floored[i]]
        mass = 1 - floor * (n - len(free))
        total = sum(probabilities[i] for i in free)
        scaled = {i: probabilities[i] * mass / total for i in free}
        newly = [i for i in free if scaled[i] < floor]
        if not newly or len(newly) == len(free):
            return [floor if floored[i] else max(scaled[i], floor) for i in range(n)]
        for i in newly:
            floored[i] = True


results = []
for case in CASES:
    best = probability_best(case["counts"])
    results.append(dict(
        counts=case["counts"],
        min_probability=case["floor"],
        probability_best=best,
        floored=with_floor(best, case["floor"]),
    ))

with open(sys.argv[1], "w") as out:
    json.dump(dict(generator=f"scipy {scipy.__version__} integrate.quad", cases=results), out, indent=0)
    out.write("\n")
