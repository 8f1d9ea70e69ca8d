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
The base alone (no adapter) is compared first, as the floor of the differences. Lily has no fused
form (its update depends on the input), so steps 3 and 4 are skipped for it.

With --peft-methods dora,lily the other direction is checked too: PEFT itself makes an adapter of
each method on the model transformers loaded from the GGUF file (lora_B ~ N(0, 0.02^2), lily_B ~ N(0, 0.3^2) (Lily's update is small: scaling 1, not alpha / r),
DoRA's magnitudes x (1 + N(0, 0.05^2)), seeded, so the adapter changes the scores), saves it, and
`effilora score --adapter PEFT_FOLDER` must give PEFT's mean next-token NLL on the text within 2e-3.

Usage: .venv/bin/python scripts/crosscheck_peft.py MODEL.gguf [ADAPTER ...] [--peft-methods dora,lily]
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
    from peft import LilyConfig, LoraConfig, PeftModel, get_peft_model
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
    args = ["score", "--model", model, "--text", text, "--json", "--logits", "--compute-dtype", "f32"]
    if adapter:
        args += ["--adapter", adapter]
    report = json.loads(run(effilora, *args))
    return report["ids"], torch.tensor(report["logits"], dtype=torch.float64)


def logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double()


def diff(a, b):
    return (a - b).abs().max().item()


def mean_nll(logits_, ids):
    """Mean of -log p(token t+1 | tokens ..t) over the text, from [T, vocab] logits."""
    logp = torch.log_softmax(logits_[:-1], dim=-1)
    return -logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].mean().item()


TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def peft_made(method, gguf, folder):
    """A PEFT adapter of `method` made by PEFT on transformers' load of the GGUF file, saved to `folder`."""
    base = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    torch.manual_seed(1)
    if method == "dora":
        config = LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS, use_dora=True, task_type="CAUSAL_LM")
    else:
        config = LilyConfig(r=8, stride_A=2, num_B=3, scaling=1.0, target_modules=TARGETS, task_type="CAUSAL_LM")
    pm = get_peft_model(base, config)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if ".lora_B." in name or ".lily_B." in name:
                p.copy_((0.02 if method == "dora" else 0.3) * torch.randn(p.shape, generator=g))
            elif "lora_magnitude_vector" in name:
                p.mul_(1 + 0.05 * torch.randn(p.shape, generator=g))
    pm.save_pretrained(folder)
    return pm.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("adapters", nargs="*")
    p.add_argument("--peft-methods", default="", help="comma-separated: dora, lily — adapters PEFT makes, scored by effilora")
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
        lily = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("adapter", {}).get("method") == "lily"

        base = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
        peft_model = PeftModel.from_pretrained(base, str(peft_dir)).eval()
        with_peft = logits(peft_model, ids)
        d_peft = diff(with_ours, with_peft)
        shift = diff(with_peft, base_ref)
        print(f"{name}: effilora score --adapter vs PEFT on transformers(GGUF): max |dlogit| {d_peft:.2e} "
              f"(the adapter moves the logits by up to {shift:.2f})")

        if d_peft > BAR:
            failures.append(f"{name} PEFT {d_peft:.2e} > {BAR}")
        if lily:
            print(f"{name}: Lily has no fused form; fuse is skipped")
            continue
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

        for what, value in [("fused HF", d_fused), ("fused GGUF", d_gguf)]:
            if value > BAR:
                failures.append(f"{name} {what} {value:.2e} > {BAR}")
        if tokenizer_ids != ids:
            failures.append(f"{name}: the fused folder's tokenizer gives other ids")
    for method in [m for m in a.peft_methods.split(",") if m]:
        folder = work / f"peft-made-{method}"
        pm = peft_made(method, gguf, folder)
        with_peft = logits(pm, ids)
        _, with_ours = ours(a.effilora, str(gguf), a.text, str(folder))
        nll_peft, nll_ours, nll_base = mean_nll(with_peft, ids), mean_nll(with_ours, ids), mean_nll(base_ref, ids)
        print(f"PEFT-made {method}: mean NLL effilora {nll_ours:.5f} vs PEFT {nll_peft:.5f} (|diff| {abs(nll_ours - nll_peft):.1e}; "
              f"base {nll_base:.5f}); max |dlogit| {diff(with_ours, with_peft):.2e}")
        if abs(nll_ours - nll_peft) > BAR:
            failures.append(f"PEFT-made {method}: NLL differs by {abs(nll_ours - nll_peft):.2e} > {BAR}")
    if failures:
        print("FAIL: " + "; ".join(failures))
        sys.exit(1)
    print(f"OK: every difference <= {BAR}")


if __name__ == "__main__":
    main()
