"""Writes growthbook.json: assignment test vectors from the official GrowthBook Python SDK.

Run: python3 experiments/vectors/growthbook_vectors.py [OUT], in the pinned environment
(scripts/vectors-requirements.txt) that `make test` re-runs it in: bash scripts/check-vectors.sh.
The Rust tests in experiments/src/hashing.rs compare against the committed output.
"""
import json
import pathlib
import random
import sys

import growthbook
from growthbook import Experiment, GrowthBook
from growthbook.core import chooseVariation, gbhash, getBucketRanges

rng = random.Random(20261125)
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_"
EXOTIC = ["é", "ü", "日本", "Ω", "😀", "𝄞", "\u00a0"]


def random_id():
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24)))
    if rng.random() < 0.1:
        text += rng.choice(EXOTIC)
    return text


def random_weights():
    k = rng.randint(2, 5)
    if rng.random() < 0.3:
        return [1 / k] * k
    raw = [rng.randint(1, 20) for _ in range(k)]
    total = sum(raw)
    weights = [r / total for r in raw]
    weights[-1] = 1 - sum(weights[:-1])
    return weights


hash_cases = []
for i in range(1500):
    seed = rng.choice(["chai-blend", "exp-1", "", random_id()])
    value = random_id() if i % 3 else f"user-{i}"
    hash_cases.append({"seed": seed, "value": value, "n": gbhash(seed, value, 2)})

assignment_cases = []
for i in range(800):
    weights = random_weights()
    coverage = rng.choice([1.0, 1.0, 0.5, 0.25, 0.9, round(rng.random(), 3)])
    seed, user = random_id(), random_id()
    ranges = getBucketRanges(len(weights), coverage, weights)
    variation = chooseVariation(gbhash(seed, user, 2), ranges)
    assignment_cases.append({
        "seed": seed, "user": user, "weights": weights, "coverage": coverage,
        "ranges": ranges, "variation": variation,
    })

# The same decisions through the SDK's public entry point, as a user of the SDK would make them.
for case in assignment_cases[:300]:
    gb = GrowthBook(attributes={"id": case["user"]})
    result = gb.run(Experiment(
        key="vectors", variations=list(range(len(case["weights"]))), weights=case["weights"],
        coverage=case["coverage"], seed=case["seed"], hashVersion=2,
    ))
    sdk_answer = result.variationId if result.inExperiment else -1
    assert sdk_answer == case["variation"], (case, result.variationId, result.inExperiment)

out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("growthbook.json")
out.write_text(json.dumps({
    "generator": f"growthbook {growthbook.__version__ if hasattr(growthbook, '__version__') else 'sdk'}",
    "hash_v2": hash_cases,
    "assignment": assignment_cases,
}, ensure_ascii=False, indent=0))
print(f"wrote {out}: {len(hash_cases)} hash and {len(assignment_cases)} assignment cases")
