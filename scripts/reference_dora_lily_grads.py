#!/usr/bin/env python3
"""Reference DoRA and Lily losses and gradients from Hugging Face PEFT, for the Swift adapter tests.

Uses the tiny random Llama and the batch of scripts/reference_lora_grads.py (its model/ and
batch.json in Tests/EffiAdaptersTests/Fixtures/peft-lora/, which this script reads, not rewrites)
and writes, into Tests/EffiAdaptersTests/Fixtures/:

  peft-dora/adapter/      PEFT LoRA with use_dora=True, r 4, alpha 8, all seven projections, dropout 0:
                          lora_A as PEFT initialises it, lora_B ~ N(0, 0.1^2), and the magnitude PEFT
                          initialised (the row norms of W) times 1 + N(0, 0.05^2), so every parameter
                          has a non-trivial gradient.
  peft-dora/grads.safetensors, reference.json
                          the masked mean NLL of the padded two-sequence batch and its gradient with
                          respect to every lora_A, lora_B and lora_magnitude_vector, in float64.
  peft-lily/adapter/      PEFT Lily, r 4, stride_A 2 (both layers share one A per module type), num_B 3,
                          scaling 0.5, all seven projections: A and the routers as PEFT initialises
                          them, the shared B's ~ N(0, 0.1^2).
  peft-lily/grads.safetensors, reference.json
                          one sequence (batch row 0, no padding: PEFT's router average over the batch is
                          then the sequence's own): loss and the gradient of every distinct lily_A,
                          lily_B and lily_router (shared tensors once, under the first layer's name).
  peft-lily/padded/grads.safetensors, reference.json
                          the padded two-sequence batch with the router averaged over each sequence's
                          own real tokens (effilora's rule): PEFT run on each sequence alone, cut to its
                          real tokens, the summed NLL divided by the batch's target count.

float64 throughout (see exact_float64 in reference_lora_grads.py); each case is also checked
against central finite differences and reloaded through PeftModel.from_pretrained.

Usage: .venv-crosscheck/bin/python scripts/reference_dora_lily_grads.py
(scripts/requirements-crosscheck.txt; deterministic; a few seconds on CPU)
"""
import json
import math
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_lora_grads as ref  # noqa: E402  (sets the warning filters and TQDM_DISABLE)
import numpy as np  # noqa: E402
import peft  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LilyConfig, LoraConfig, PeftModel, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import LlamaForCausalLM  # noqa: E402

FIXTURES = ref.REPO / "Tests" / "EffiAdaptersTests" / "Fixtures"
LORA = FIXTURES / "peft-lora"
LILY = dict(r=4, stride_A=2, num_B=3, scaling=0.5)


def load_base() -> LlamaForCausalLM:
    return LlamaForCausalLM.from_pretrained(LORA / "model", dtype=torch.float32).eval()


def load_batch():
    b = json.loads((LORA / "batch.json").read_text())
    return (torch.tensor(b["input_ids"]), torch.tensor(b["attention_mask"]), torch.tensor(b["targets"]))


def trainable(pm, marker: str) -> dict:
    """Distinct trainable adapter parameters (named_parameters drops shared duplicates), live name -> parameter."""
    return {n: p for n, p in pm.named_parameters() if marker in n}


def saved_name(live: str) -> str:
    """PEFT drops the adapter name on save: ….lora_A.default.weight -> ….lora_A.weight,
    ….lora_magnitude_vector.default.weight -> ….lora_magnitude_vector."""
    return live.replace(".lora_magnitude_vector.default.weight", ".lora_magnitude_vector").replace(".default.", ".")


def dora_perturbation(name, p, g):
    """lora_B ~ N(0, 0.1^2); the magnitude PEFT initialised (W's row norms) times 1 + N(0, 0.05^2)."""
    if ".lora_B." in name:
        p.copy_(0.1 * torch.randn(p.shape, generator=g))
    elif "lora_magnitude_vector" in name:
        p.mul_(1 + 0.05 * torch.randn(p.shape, generator=g))


def lily_perturbation(name, p, g):
    """The shared lily_B ~ N(0, 0.1^2) (PEFT starts it at zero)."""
    if ".lily_B." in name:
        p.copy_(0.1 * torch.randn(p.shape, generator=g))


def prepared(base, out: Path, config, perturb):
    """PEFT's adapter of `config` on a copy of `base` (PEFT's own initialisation under torch seed 1,
    then `perturb` in named_parameters order with Generator seed 2), saved to out/adapter, and the
    model in float64 throughout."""
    model = LlamaForCausalLM(base.config).float()
    model.load_state_dict(base.state_dict())
    torch.manual_seed(1)
    pm = get_peft_model(model, config)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            perturb(name, p, g)
    adapter_dir = save_adapter(pm.eval(), out)
    pm = pm.double()
    ref.exact_float64(pm)
    return pm, adapter_dir


def lily_split_loss(pm, ids, mask, targets):
    """effilora's rule for a padded batch: each sequence alone, cut to its real tokens (so PEFT's
    batch average is that sequence's own); sum of NLLs over the batch's target count."""
    total = 0
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        logits = pm(input_ids=ids[b:b + 1, :n]).logits
        t = targets[b:b + 1, :n]
        keep = t != ref.IGNORE
        total = total + -torch.log_softmax(logits, dim=-1)[keep, t[keep]].sum()
    return total / (targets != ref.IGNORE).sum()


def finite_differences(params: dict, grads: dict, loss_fn, picks: int = 6) -> list:
    """Central differences in float64 at the largest-gradient entry of a few tensors."""
    rows = []
    h = 1e-5
    names = sorted(params)
    chosen = [names[i * len(names) // picks] for i in range(picks)]
    with torch.no_grad():
        for live in chosen:
            key, p = saved_name(live), params[live]
            idx = tuple(int(i) for i in np.unravel_index(int(grads[key].abs().argmax()), grads[key].shape))
            x0 = p[idx].item()
            p[idx] = x0 + h
            lp = loss_fn().item()
            p[idx] = x0 - h
            lm = loss_fn().item()
            p[idx] = x0
            num, ana = (lp - lm) / (2 * h), grads[key][idx].item()
            rows.append({"tensor": key, "index": list(idx), "analytic": ana, "central_difference": num, "h": h,
                         "relative_error": abs(num - ana) / max(abs(ana), 1e-30)})
    return rows


def gradients(pm, marker: str, loss_fn):
    params = trainable(pm, marker)
    pm.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    grads = {saved_name(n): p.grad.detach().clone() for n, p in params.items()}
    return params, loss, grads


def write(out: Path, grads: dict, record: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: grads[k].float().contiguous() for k in sorted(grads)}, out / "grads.safetensors", metadata={"format": "pt"})
    (out / "reference.json").write_text(json.dumps(record, indent=1) + "\n")


def save_adapter(pm, out: Path) -> Path:
    adapter_dir = out / "adapter"
    if adapter_dir.exists():
        shutil.rmtree(adapter_dir)
    cfg = pm.peft_config["default"]
    cfg.target_modules = sorted(cfg.target_modules)
    cfg.base_model_name_or_path = os.path.relpath(LORA / "model", adapter_dir)
    pm.save_pretrained(adapter_dir)
    (adapter_dir / "README.md").unlink(missing_ok=True)
    return adapter_dir


def versions() -> dict:
    return {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "safetensors": safetensors.__version__, "numpy": np.__version__}


def reloaded_loss(adapter_dir: Path, loss_of) -> float:
    pm = PeftModel.from_pretrained(load_base(), adapter_dir).double().eval()
    ref.exact_float64(pm)
    with torch.no_grad():
        return loss_of(pm).item()


def dora_case(base, ids, mask, targets) -> dict:
    out = FIXTURES / "peft-dora"
    pm, adapter_dir = prepared(base, out, LoraConfig(r=ref.R, lora_alpha=ref.ALPHA, target_modules=ref.TARGETS, lora_dropout=0.0,
                                                     bias="none", use_dora=True, task_type="CAUSAL_LM"), dora_perturbation)

    def loss_of(m):
        return ref.masked_mean_nll(m(input_ids=ids, attention_mask=mask).logits, targets)
    params, loss, grads = gradients(pm, "lora_", lambda: loss_of(pm))
    saved = safetensors.safe_open(adapter_dir / "adapter_model.safetensors", "pt")
    assert sorted(saved.keys()) == sorted(grads), "saved names differ from the gradients' names"
    assert reloaded_loss(adapter_dir, loss_of) == loss.item()
    with torch.no_grad(), pm.disable_adapter():
        base_loss = loss_of(pm).item()
    # DoRA's gradient treats the norm as a constant, so the differences are taken with the norms
    # held at their unperturbed values: PEFT's own DoRA cache (eval mode) keeps the first forward's.
    dora = sys.modules["peft.tuners.lora.dora"]
    dora.ENABLE_DORA_CACHING = True
    with torch.no_grad():
        loss_of(pm)
    fd = finite_differences(params, grads, lambda: loss_of(pm))
    dora.ENABLE_DORA_CACHING = False
    for m in pm.modules():
        if hasattr(m, "_cache_clear"):
            m._cache_clear()
    record = {
        "description": "PEFT LoRA with use_dora=True on ../peft-lora/model, ../peft-lora/batch.json (padded, two sequences); float64",
        "command": "python scripts/reference_dora_lily_grads.py", "versions": versions(),
        "r": ref.R, "lora_alpha": ref.ALPHA, "scaling": ref.ALPHA / ref.R, "use_dora": True, "target_modules": ref.TARGETS,
        "adapted_output": "y = W x + (m / n - 1) * W x + (m / n) * scaling * B A x, n = ||W + scaling B A||_row detached (DoRA 4.3)",
        "init": "lora_A: PEFT's kaiming-uniform (torch.manual_seed(1)); lora_B ~ N(0, 0.1^2) and magnitude *= 1 + N(0, 0.05^2) (Generator seed 2, named_parameters order)",
        "loss": loss.item(), "base_loss_adapter_disabled": base_loss, "n_target_tokens": int((targets != ref.IGNORE).sum()),
        "gradients": {"file": "grads.safetensors (F32; names as adapter_model.safetensors)",
                      "frobenius_norm_float64": {k: grads[k].norm().item() for k in sorted(grads)}},
        "finite_difference_check": fd,
        "finite_difference_note": "central differences with the row norms held at their unperturbed values (PEFT's DoRA cache), as the gradient treats them",
    }
    write(out, grads, record)
    return record


def lily_record(description: str, loss, base_loss, grads, fd) -> dict:
    return {
        "description": description, "command": "python scripts/reference_dora_lily_grads.py", "versions": versions(),
        **LILY, "target_modules": ref.TARGETS,
        "adapted_output": "y = W x + scaling * (A x) @ sum_e p_e B_e, p = mean over tokens of softmax(router(A x)); "
                          "lily_B.weight [num_B * r, out] = B_e stacked ([r, out] each)",
        "sharing": "per module type: lily_A shared by stride_A adjacent layers (layer 0's for both here), lily_B by every layer; "
                   "gradients of a shared tensor are stored once, under layer 0's name",
        "init": "lily_A and lily_router: PEFT's kaiming-uniform (torch.manual_seed(1)); lily_B ~ N(0, 0.1^2) (Generator seed 2)",
        "loss": loss.item(), "base_loss_adapter_disabled": base_loss,
        "gradients": {"file": "grads.safetensors (F32)", "frobenius_norm_float64": {k: grads[k].norm().item() for k in sorted(grads)}},
        "finite_difference_check": fd,
    }


def lily_case(base, ids, mask, targets) -> list:
    out = FIXTURES / "peft-lily"
    pm, adapter_dir = prepared(base, out, LilyConfig(target_modules=ref.TARGETS, task_type="CAUSAL_LM", **LILY), lily_perturbation)
    one = (ids[:1], mask[:1], targets[:1])
    assert int(mask[0].sum()) == ids.shape[1], "sequence 0 must be unpadded"

    def loss_one(m):
        return ref.masked_mean_nll(m(input_ids=one[0], attention_mask=one[1]).logits, one[2])
    params, loss, grads = gradients(pm, "lily_", lambda: loss_one(pm))
    assert reloaded_loss(adapter_dir, loss_one) == loss.item()
    with torch.no_grad(), pm.disable_adapter():
        base_loss = loss_one(pm).item()
    fd = finite_differences(params, grads, lambda: loss_one(pm))
    records = [lily_record("PEFT Lily on ../peft-lora/model, sequence 0 of ../peft-lora/batch.json (unpadded); float64",
                           loss, base_loss, grads, fd)]
    write(out, grads, records[0])

    params, loss, grads = gradients(pm, "lily_", lambda: lily_split_loss(pm, ids, mask, targets))
    with torch.no_grad(), pm.disable_adapter():
        base_loss = lily_split_loss(pm, ids, mask, targets).item()
    fd = finite_differences(params, grads, lambda: lily_split_loss(pm, ids, mask, targets))
    records.append(lily_record("the padded batch of ../peft-lora/batch.json with the router averaged over each sequence's own "
                               "real tokens: PEFT Lily on each sequence alone, cut to its real tokens; summed NLL / 16 targets",
                               loss, base_loss, grads, fd))
    write(out / "padded", grads, records[1])
    return records


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    base = load_base()
    ids, mask, targets = load_batch()
    records = [("dora", dora_case(base, ids, mask, targets))] + [(n, r) for n, r in zip(["lily", "lily padded"], lily_case(base, ids, mask, targets))]
    for name, r in records:
        worst = max(row["relative_error"] for row in r["finite_difference_check"])
        print(f"{name}: loss {r['loss']!r} (base {r['base_loss_adapter_disabled']:.6f}), {len(r['gradients']['frobenius_norm_float64'])} gradients, "
              f"worst FD relative error {worst:.1e}")
        assert worst < 1e-6


if __name__ == "__main__":
    main()
