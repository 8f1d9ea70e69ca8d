#!/usr/bin/env python3
"""Cross-check effilora's llama.cpp adapter export against llama.cpp itself.

For each effilora adapter trained on the GGUF base MODEL:
  1. `effilora export --format gguf` writes llama.cpp's LoRA adapter file;
  2. llama.cpp (through llama-cpp-python) loads the base GGUF with and without that adapter
     (`lora_path`) and scores each text: the mean next-token NLL over the same token ids effilora
     uses (`effilora score --json`);
  3. effilora scores the same texts with and without the adapter.
llama.cpp quantizes the activations in its products with quantized weights, so the bases differ a
little; the check is on the change the adapter makes: |shift(llama.cpp) - shift(effilora)| <= 0.01
per text, where shift = NLL with adapter - NLL without. The bases' own difference is printed beside.

Usage: .venv-llamacpp/bin/python scripts/crosscheck_llamacpp.py MODEL.gguf ADAPTER [ADAPTER ...]
       [--effilora .build/release/effilora] [--dtype f32|f16|bf16|q8_0] [--work DIR]
Needs llama-cpp-python (scripts/requirements-llamacpp.txt: its source distribution builds
llama.cpp with cmake, ~15 min on 2 cores); without it, it prints why it skips and exits 0.
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import numpy as np
    from llama_cpp import Llama
except ImportError as error:
    print(f"SKIP crosscheck_llamacpp: {error} (install scripts/requirements-llamacpp.txt)")
    sys.exit(0)

TEXTS = [
    "Question: How do you keep bread fresh longer?\nAnswer: Keep it in a bread box or wrap it tightly.",
    "Question: How can you open a jar whose lid is stuck?\nAnswer: Run the lid under hot water, then twist it with a rubber glove.",
    "The capital of France is Paris, and the river that runs through it is the Seine.",
]
BAR = 0.01


def ours(effilora, model, text, adapter=None):
    args = [effilora, "score", "--model", model, "--text", text, "--json", "--compute-dtype", "f32"]
    if adapter:
        args += ["--adapter", adapter]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)["meanNLL"]


def token_ids(effilora, model, text):
    out = subprocess.run([effilora, "tokenize", "--model", model, "--text", text, "--json"], check=True, capture_output=True, text=True)
    return [t["id"] for t in json.loads(out.stdout)]


def llama_nll(llm, ids):
    """Mean of -log p(ids[t+1] | ids[..t]) from llama.cpp's logits at every position."""
    llm.reset()
    llm.eval(ids)
    logits = np.asarray(llm.scores[:len(ids)], dtype=np.float64)
    total = 0.0
    for t in range(len(ids) - 1):
        row = logits[t]
        top = row.max()
        total += -(row[ids[t + 1]] - top - math.log(np.exp(row - top).sum()))
    return total / (len(ids) - 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("adapters", nargs="+")
    p.add_argument("--effilora", default=".build/release/effilora")
    p.add_argument("--dtype", default="f32")
    p.add_argument("--work", default=None)
    a = p.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="effilora-llamacpp-"))
    work.mkdir(parents=True, exist_ok=True)
    base = Llama(model_path=a.model, n_ctx=256, logits_all=True, verbose=False, n_threads=2, seed=0)
    failures = []
    rows = []
    for adapter in a.adapters:
        name = Path(adapter).resolve().parent.name if Path(adapter).name == "adapter" else Path(adapter).name
        gguf = work / f"{name}-lora-{a.dtype}.gguf"
        subprocess.run([a.effilora, "export", "--adapter", adapter, "--format", "gguf", "--dtype", a.dtype, "--out", str(gguf)],
                       check=True, capture_output=True, text=True)
        with_lora = Llama(model_path=a.model, lora_path=str(gguf), n_ctx=256, logits_all=True, verbose=False, n_threads=2, seed=0)
        for i, text in enumerate(TEXTS):
            ids = token_ids(a.effilora, a.model, text)
            ours_base, ours_adapted = ours(a.effilora, a.model, text), ours(a.effilora, a.model, text, adapter)
            lc_base, lc_adapted = llama_nll(base, ids), llama_nll(with_lora, ids)
            shift_ours, shift_lc = ours_adapted - ours_base, lc_adapted - lc_base
            d = abs(shift_ours - shift_lc)
            rows.append((name, i, len(ids), ours_base, lc_base, shift_ours, shift_lc, d))
            print(f"{name} text {i} ({len(ids)} tokens): base NLL effilora {ours_base:.4f} / llama.cpp {lc_base:.4f} "
                  f"(diff {ours_base - lc_base:+.4f}); adapter shift effilora {shift_ours:+.4f} / llama.cpp {shift_lc:+.4f} "
                  f"(|diff| {d:.4f})")
            if d > BAR:
                failures.append(f"{name} text {i}: shifts differ by {d:.4f} > {BAR}")
    if failures:
        print("FAIL: " + "; ".join(failures))
        sys.exit(1)
    print(f"OK: every adapter shift agrees within {BAR} (worst {max(r[-1] for r in rows):.4f})")


if __name__ == "__main__":
    main()
