#!/usr/bin/env python3
"""Writes turn_draws.json: blend-component draws computed here, independently of the Rust code.

The draw of a turn is SHA-256(salt 0x1f conversation_id 0x1f turn as u32 little-endian): the first
8 bytes (little-endian u64) shifted right by 11 give u = u_bits / 2^53 in [0, 1) (recorded as the
integer u_bits, which JSON carries exactly); bytes 8..12 are the
sampler seed. Uniform over n components picks floor(u n); weighted picks the first component whose
cumulative weight exceeds u. experiments/src/policy.rs replays every case.

Run: python3 experiments/vectors/turn_draw_vectors.py [OUT]  (the standard library only).
"""
import hashlib
import json
import pathlib
import random
import struct
import sys

rng = random.Random(20261201)


def entropy(salt, conversation, turn):
    digest = hashlib.sha256(
        salt.encode() + b"\x1f" + conversation.encode() + b"\x1f" + struct.pack("<I", turn)
    ).digest()
    bits = struct.unpack("<Q", digest[:8])[0]
    seed = struct.unpack("<I", digest[8:12])[0]
    return bits >> 11, seed


def choose(u, weights):
    if weights is None:
        return None
    cumulative = 0.0
    for i, w in enumerate(weights):
        cumulative += w
        if u < cumulative:
            return i
    return max(i for i, w in enumerate(weights) if w > 0)


cases = []
for i in range(400):
    n = rng.randint(2, 5)
    weights = None
    if i % 2:
        raw = [rng.choice([0, 1, 2, 5, 10]) for _ in range(n)]
        raw[rng.randrange(n)] += 1
        weights = [r / sum(raw) for r in raw]
    salt = rng.choice(["chai-blend", "salt", "", "exp-" + str(rng.randint(0, 999))])
    conversation = rng.choice(["conv-", "c", "😀-", "日本-"]) + str(rng.randint(0, 10**6))
    turn = rng.choice([0, 1, 2, rng.randint(0, 200), rng.randint(0, 2**32 - 1)])
    u_bits, seed = entropy(salt, conversation, turn)
    u = u_bits / float(1 << 53)
    index = min(int(u * n), n - 1) if weights is None else choose(u, weights)
    cases.append(dict(
        salt=salt, conversation_id=conversation, turn=turn, components=n, weights=weights,
        u_bits=u_bits, model_index=index, probability=1 / n if weights is None else weights[index],
        sampling_seed=seed,
    ))

out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("turn_draws.json")
out.write_text(json.dumps({"generator": "python hashlib sha256", "draws": cases}, ensure_ascii=False, indent=0) + "\n")
print(f"wrote {out}: {len(cases)} draws")
