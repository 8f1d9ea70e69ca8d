#!/usr/bin/env python3
"""Reference dequantisation for the Swift GGUF tests, by llama.cpp's own Python package `gguf`.

Writes Tests/EffiFormatsTests/Fixtures/dequantize.json:
- "blocks": for each supported ggml type, a few random blocks (valid half-float scales) as hex and
  the values gguf.quants.dequantize gives for them;
- "model": for a few tensors of the SmolLM2-135M file (one of each type it uses), the first 8
  values, the sum and the sum of squares of the dequantized tensor.

Usage: .venv/bin/python scripts/reference_dequantize.py MODEL.gguf OUT.json
(`python3 -m venv .venv && .venv/bin/pip install gguf numpy`)
"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType as Q, GGUFReader
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

# byte offsets of the half-float scales inside one block, per type
HALF_FIELDS = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q4_K: [0, 2], Q.Q6_K: [208]}


def random_blocks(qtype, count, rng):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    if qtype in (Q.F16, Q.BF16, Q.F32):
        values = rng.standard_normal(count * block_size).astype(np.float32)
        raw = values.astype(np.float16 if qtype == Q.F16 else np.float32).tobytes()
        if qtype == Q.BF16:
            raw = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        return np.frombuffer(raw, dtype=np.uint8).copy()
    raw = rng.integers(0, 256, size=(count, type_size), dtype=np.uint8)
    for offset in HALF_FIELDS[qtype]:
        halves = (rng.standard_normal(count) * 0.05).astype(np.float16)
        raw[:, offset:offset + 2] = halves.view(np.uint8).reshape(count, 2)
    return raw.reshape(-1)


def main(model: str, out: str) -> None:
    rng = np.random.default_rng(2026)
    blocks = []
    for qtype in (Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q4_K, Q.Q6_K):
        raw = random_blocks(qtype, 3 if GGML_QUANT_SIZES[qtype][0] > 1 else 40, rng)
        values = dequantize(raw, qtype).astype(np.float32).reshape(-1)
        blocks.append({"type": qtype.name, "hex": raw.tobytes().hex(), "values": [float(v) for v in values]})
    reader = GGUFReader(model)
    wanted = {"token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight", "output_norm.weight"}
    tensors = []
    for t in reader.tensors:
        if t.name in wanted:
            v = dequantize(t.data, t.tensor_type).astype(np.float64).reshape(-1)
            tensors.append({"name": t.name, "type": t.tensor_type.name, "first": [float(x) for x in v[:8]],
                            "sum": float(v.sum()), "sum_squares": float((v * v).sum()), "count": int(v.size)})
    with open(out, "w") as f:
        json.dump({"blocks": blocks, "model": tensors}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
