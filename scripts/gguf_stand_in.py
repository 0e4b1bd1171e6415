#!/usr/bin/env python3
"""A stand-in for the bundled GGUF model, for a machine the real file cannot reach.

The GPU machine takes at most 64 MiB a call and the bundled model is about 240 MB. Its weights
are not what a throughput check measures; its shapes, tensor types' sizes and tokenizer are.

- `skeleton REAL OUT`: OUT is a GGUF holding REAL's metadata (architecture, hyperparameters,
  the whole tokenizer) and no tensors; their names, shapes and types are kept as JSON under
  `blendlab.stand_in.tensors`. About 6 MB for Gemma 3 270M.
- `generate SKELETON OUT [--seed N]`: OUT is a loadable model of the same architecture with
  random weights: 2-D weights in Q8_0 (gguf-py quantizes it; it reads the same bytes per weight
  as the Q4_K/Q6_K mix to within 2x, which a 270M model on an H200 does not notice), the rest
  in F32. The rows of the end-of-generation tokens in the (tied) embedding are zero, so greedy
  decoding never ends a reply early and every run decodes the tokens it asks for.

Needs numpy and gguf-py (`pip install gguf==0.19.0`).
"""

import argparse
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
from gguf.constants import Keys
from gguf.quants import quantize

TENSORS_KEY = "blendlab.stand_in.tensors"
# Written by GGUFWriter itself; copying them would give the file two of each.
OWN_KEYS = {Keys.General.ARCHITECTURE, "GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}


def copy_metadata(reader: GGUFReader, writer: GGUFWriter, skip: set) -> None:
    for field in reader.fields.values():
        if field.name in OWN_KEYS or field.name in skip:
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)


def architecture(reader: GGUFReader) -> str:
    return reader.fields[Keys.General.ARCHITECTURE].contents()


def skeleton(real: str, out: str) -> None:
    reader = GGUFReader(real)
    writer = GGUFWriter(out, architecture(reader))
    copy_metadata(reader, writer, skip=set())
    tensors = [
        {"name": t.name, "shape": [int(d) for d in t.shape], "type": t.tensor_type.name}
        for t in reader.tensors
    ]
    writer.add_string(TENSORS_KEY, json.dumps(tensors))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    print(f"skeleton: {len(tensors)} tensor shapes and the metadata of {real}", file=sys.stderr)


def end_tokens(reader: GGUFReader) -> list:
    ids = []
    for key in (Keys.Tokenizer.EOS_ID, Keys.Tokenizer.EOT_ID, Keys.Tokenizer.EOM_ID):
        if key in reader.fields:
            ids.append(int(reader.fields[key].contents()))
    tokens = reader.fields[Keys.Tokenizer.LIST].contents()
    ids += [i for i, t in enumerate(tokens) if t in ("<end_of_turn>", "<eos>")]
    return sorted(set(ids))


def generate(skeleton_path: str, out: str, seed: int) -> None:
    reader = GGUFReader(skeleton_path)
    tensors = json.loads(reader.fields[TENSORS_KEY].contents())
    silenced = end_tokens(reader)
    writer = GGUFWriter(out, architecture(reader))
    copy_metadata(reader, writer, skip={TENSORS_KEY})
    rng = np.random.default_rng(seed)
    for tensor in tensors:
        # GGUF lists dimensions innermost first; numpy wants them outermost first.
        shape = tuple(reversed(tensor["shape"]))
        if len(shape) == 1:
            # Norm weights: llama.cpp's converter folds Gemma's (1 + w) into them, so ones keep
            # every activation's scale.
            writer.add_tensor(tensor["name"], np.ones(shape, dtype=np.float32))
            continue
        weights = rng.normal(0.0, 0.02, size=shape).astype(np.float32)
        if tensor["name"] == "token_embd.weight":
            weights[silenced, :] = 0.0
        writer.add_tensor(
            tensor["name"],
            quantize(weights, GGMLQuantizationType.Q8_0),
            raw_dtype=GGMLQuantizationType.Q8_0,
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"generated {out}: {len(tensors)} random tensors, end tokens {silenced} silenced", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make_skeleton = commands.add_parser("skeleton")
    make_skeleton.add_argument("real")
    make_skeleton.add_argument("out")
    make_model = commands.add_parser("generate")
    make_model.add_argument("skeleton")
    make_model.add_argument("out")
    make_model.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.command == "skeleton":
        skeleton(args.real, args.out)
    else:
        generate(args.skeleton, args.out, args.seed)


if __name__ == "__main__":
    main()
