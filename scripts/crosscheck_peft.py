#!/usr/bin/env python3
"""Cross-check effilora's PEFT export and fuse against PyTorch + PEFT + transformers.

For each effilora adapter trained on a GGUF base:
  1. `effilora export` writes it as a PEFT LoRA folder;
  2. transformers loads the base independently from the GGUF file (it dequantizes the weights and
     undoes llama's Q/K row permutation itself), float32, and PEFT applies the exported adapter;
     its next-token logits at every position are compared with `effilora score --adapter A
     --json --logits` on the same token ids (the bar: max |diff| <= 2e-3);
  3. `effilora fuse` writes the base with the adapter fused in as a Hugging Face folder, which
     transformers (model and tokenizer) loads; its logits are compared with PEFT's;
  4. `effilora fuse --format gguf` writes a GGUF file, which transformers loads as well.
The base alone (no adapter) is compared first, as the floor of the differences.

Usage: .venv/bin/python scripts/crosscheck_peft.py MODEL.gguf ADAPTER [ADAPTER ...]
       [--effilora .build/release/effilora] [--text "..."] [--work DIR]
Needs torch, transformers, peft and gguf (scripts/requirements-crosscheck.txt); without torch it
prints why it skips and exits 0.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
try:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
except ImportError as error:  # CI without the reference stack
    print(f"SKIP crosscheck_peft: {error} (install scripts/requirements-crosscheck.txt)")
    sys.exit(0)

TEXT = ("Question: How do you keep bread fresh longer?\nAnswer: Keep it in a bread box or wrap it "
        "tightly and store it at room temperature; freeze slices for longer.")
BAR = 2e-3


def run(effilora, *args):
    out = subprocess.run([effilora, *args], check=True, capture_output=True, text=True)
    return out.stdout


def ours(effilora, model, text, adapter=None):
    args = ["score", "--model", model, "--text", text, "--json", "--logits"]
    if adapter:
        args += ["--adapter", adapter]
    report = json.loads(run(effilora, *args))
    return report["ids"], torch.tensor(report["logits"], dtype=torch.float64)


def logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double()


def diff(a, b):
    return (a - b).abs().max().item()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("adapters", nargs="+")
    p.add_argument("--effilora", default=".build/release/effilora")
    p.add_argument("--text", default=TEXT)
    p.add_argument("--work", default=None, help="folder for the exported and fused files (default: a temporary one)")
    a = p.parse_args()
    gguf = Path(a.model).resolve()
    work = Path(a.work or tempfile.mkdtemp(prefix="effilora-crosscheck-"))
    work.mkdir(parents=True, exist_ok=True)

    ids, base_ours = ours(a.effilora, str(gguf), a.text)
    print(f"text: {len(ids)} tokens; work folder {work}")
    base = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    base_ref = logits(base, ids)
    print(f"base alone: effilora vs transformers(GGUF) max |dlogit| {diff(base_ours, base_ref):.2e}")

    failures = []
    for adapter in a.adapters:
        name = Path(adapter).resolve().parent.name if Path(adapter).name == "adapter" else Path(adapter).name
        peft_dir, fused_dir, fused_gguf = work / f"{name}-peft", work / f"{name}-fused-hf", work / f"{name}-fused.gguf"
        run(a.effilora, "export", "--adapter", adapter, "--model", str(gguf), "--out", str(peft_dir), "--base-name", str(gguf))
        _, with_ours = ours(a.effilora, str(gguf), a.text, adapter)

        base = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
        peft_model = PeftModel.from_pretrained(base, str(peft_dir)).eval()
        with_peft = logits(peft_model, ids)
        d_peft = diff(with_ours, with_peft)
        shift = diff(with_peft, base_ref)
        print(f"{name}: effilora score --adapter vs PEFT on transformers(GGUF): max |dlogit| {d_peft:.2e} "
              f"(the adapter moves the logits by up to {shift:.2f})")

        run(a.effilora, "fuse", "--model", str(gguf), "--adapter", adapter, "--out", str(fused_dir), "--format", "hf")
        fused = AutoModelForCausalLM.from_pretrained(fused_dir, dtype=torch.float32).eval()
        tokenizer = AutoTokenizer.from_pretrained(fused_dir)
        tokenizer_ids = tokenizer(a.text)["input_ids"]
        d_fused = diff(logits(fused, ids), with_peft)
        print(f"{name}: fused HF folder in transformers vs PEFT: max |dlogit| {d_fused:.2e}; "
              f"its tokenizer {'gives the same ids' if tokenizer_ids == ids else f'differs: {tokenizer_ids[:12]}…'}")

        run(a.effilora, "fuse", "--model", str(gguf), "--adapter", adapter, "--out", str(fused_gguf), "--format", "gguf")
        fused_g = AutoModelForCausalLM.from_pretrained(work, gguf_file=fused_gguf.name, dtype=torch.float32).eval()
        d_gguf = diff(logits(fused_g, ids), with_peft)
        print(f"{name}: fused GGUF in transformers vs PEFT: max |dlogit| {d_gguf:.2e}")

        for what, value in [("PEFT", d_peft), ("fused HF", d_fused), ("fused GGUF", d_gguf)]:
            if value > BAR:
                failures.append(f"{name} {what} {value:.2e} > {BAR}")
        if tokenizer_ids != ids:
            failures.append(f"{name}: the fused folder's tokenizer gives other ids")
    if failures:
        print("FAIL: " + "; ".join(failures))
        sys.exit(1)
    print(f"OK: every difference <= {BAR}")


if __name__ == "__main__":
    main()
