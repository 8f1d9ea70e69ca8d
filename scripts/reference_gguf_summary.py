#!/usr/bin/env python3
"""Write the reference summary of a GGUF file, read by the `gguf` Python package (llama.cpp's own
reader), for the Swift reader's tests: every tensor's name, ggml type, shape and data offset, and
the scalar metadata.

Usage: .venv/bin/python scripts/reference_gguf_summary.py MODEL.gguf OUT.json
(`python3 -m venv .venv && .venv/bin/pip install gguf numpy`)
"""
import json
import sys

from gguf import GGUFReader, GGUFValueType


def scalar(field):
    if not field.types or field.types[0] == GGUFValueType.ARRAY:
        return {"array_length": len(field.data)}
    value = field.parts[field.data[0]]
    if field.types[0] == GGUFValueType.STRING:
        return bytes(value).decode("utf-8")
    return value.tolist()[0]


def main(path: str, out: str) -> None:
    reader = GGUFReader(path)
    summary = {
        "metadata": {name: scalar(field) for name, field in reader.fields.items() if not name.startswith("GGUF.")},
        "tensors": [
            {"name": t.name, "type": t.tensor_type.name, "dimensions": [int(d) for d in t.shape],
             "file_offset": int(t.data_offset), "bytes": int(t.n_bytes)}
            for t in reader.tensors
        ],
    }
    with open(out, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
