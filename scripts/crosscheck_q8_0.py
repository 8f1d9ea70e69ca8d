#!/usr/bin/env python3
"""Check a GGUF written by `effilora fuse --format gguf --dtype q8_0` against the gguf package:
every Q8_0 tensor must be byte-identical to gguf.quantize (which follows ggml's reference
quantizer) applied to the source model's dequantized values, and general.file_type must be 7.

Usage: .venv-crosscheck/bin/python scripts/crosscheck_q8_0.py FUSED.gguf SOURCE.gguf
(without an adapter fused in, so the source values are the ones quantized)."""
import sys

import gguf
import numpy as np

fused, source = gguf.GGUFReader(sys.argv[1]), gguf.GGUFReader(sys.argv[2])
source_tensors = {t.name: t for t in source.tensors}
file_type = int(fused.fields["general.file_type"].parts[-1][0])
checked, differing = 0, []
for t in fused.tensors:
    if t.tensor_type != gguf.GGMLQuantizationType.Q8_0:
        continue
    s = source_tensors[t.name]
    values = gguf.dequantize(s.data, s.tensor_type).astype(np.float32)
    expected = np.asarray(gguf.quantize(values, gguf.GGMLQuantizationType.Q8_0)).view(np.uint8).ravel()
    checked += 1
    if not np.array_equal(expected, np.asarray(t.data).view(np.uint8).ravel()):
        differing.append(t.name)
print(f"general.file_type {file_type}; {checked} Q8_0 tensors, {len(differing)} differ from gguf.quantize {differing[:5]}")
sys.exit(0 if file_type == 7 and checked > 0 and not differing else 1)
