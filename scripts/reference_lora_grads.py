#!/usr/bin/env python3
"""Reference LoRA loss and gradients from Hugging Face PEFT, for the Swift adapter tests.

Writes, into OUT_DIR (default Tests/EffiAdaptersTests/Fixtures/peft-lora/):

  model/config.json, model/model.safetensors
      a tiny random LlamaForCausalLM (vocab 96, hidden 64, FFN 96, 2 layers, 4 heads / 2 KV heads,
      head_dim 16, rope_theta 1e4, rms_norm_eps 1e-5, untied head), F32, transformers'
      save_pretrained (HF layout: rotate-half RoPE, no Q/K permutation). Weights are seeded normal
      with std `initializer_range` = 0.1, and the RMSNorm weights are 1 + N(0, 0.1) so that a
      missing norm weight shows up.
  batch.json
      input_ids [2][12] (sequence 1 right-padded to 9 real tokens with pad id 0), attention_mask,
      and next-token targets: targets[b][t] = input_ids[b][t+1] if t+1 is a real token, else -100;
      targets[0][0..2] = -100 (a "prompt"); the last position is always -100.
      loss = sum over targets != -100 of -log softmax(logits[b, t])[targets[b, t]], divided by the
      number of such targets (16 here).
  adapter/adapter_config.json, adapter/adapter_model.safetensors
      a PEFT LoRA, r 4, alpha 8, all seven projections, dropout 0, bias none: A kaiming-uniform
      as PEFT initialises it, B ~ N(0, 0.1^2) (non-zero, so that A's gradient is not zero).
  grads.safetensors
      d loss / d every lora_A and lora_B, computed in float64, stored F32 under the same names as
      adapter_model.safetensors.
  reference.json
      float64 loss, gradient Frobenius norms, a few float64 logits, the base model's loss, the
      conventions, versions and the command.
  rslora/{adapter/, grads.safetensors, reference.json}
      the same A and B with use_rslora=True (scale alpha / sqrt(r) = 4 instead of alpha / r = 2).

Everything is computed in float64 from the F32 values that are stored (the stored F32 parameters
are upcast exactly), so the Swift side that reads the files has the same parameters. transformers'
Llama casts to float32 inside RMSNorm, the RoPE tables and eager softmax; those three are replaced
by float64 versions of the same formulas (see exact_float64). The script also checks its own result:
the loss against transformers' `labels=` loss (float32 inside transformers, so to ~1e-7), the saved
adapter reloaded through PeftModel.from_pretrained (same loss, exactly), and a few gradient entries
against central finite differences (relative error ~1e-9). reference.json also records how far the
stock float32 transformers + PEFT forward is from the float64 reference, as a guide for tolerances.

Usage: .venv/bin/python scripts/reference_lora_grads.py [OUT_DIR]
(needs scripts/requirements-crosscheck.txt on top of scripts/requirements-reference.txt; deterministic:
rerunning writes byte-identical files; takes a few seconds on CPU)
"""
import json
import math
import os
import shutil
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")   # raised inside PEFT
warnings.filterwarnings("ignore", message="Could not find a config file in")   # PEFT looks for ../model from the cwd
import numpy as np  # noqa: E402
import peft  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "Tests" / "EffiAdaptersTests" / "Fixtures" / "peft-lora"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
R, ALPHA = 4, 8
SEQ_LEN, VALID = 12, [12, 9]
PROMPT_MASKED = 3          # targets[0][0 .. PROMPT_MASKED-1] = -100
PAD_ID = 0
IGNORE = -100


def build_model() -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, initializer_range=0.1,
        hidden_act="silu", attention_bias=False, mlp_bias=False, pad_token_id=PAD_ID,
        bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).float().eval()
    g = torch.Generator().manual_seed(10)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
    return model


def build_batch():
    g = torch.Generator().manual_seed(20)
    ids = torch.randint(3, 96, (2, SEQ_LEN), generator=g)
    mask = torch.zeros(2, SEQ_LEN, dtype=torch.long)
    targets = torch.full((2, SEQ_LEN), IGNORE, dtype=torch.long)
    for b, n in enumerate(VALID):
        ids[b, n:] = PAD_ID
        mask[b, :n] = 1
        targets[b, :n - 1] = ids[b, 1:n]
    targets[0, :PROMPT_MASKED] = IGNORE
    return ids, mask, targets


def lora_config(use_rslora: bool) -> LoraConfig:
    return LoraConfig(r=R, lora_alpha=ALPHA, target_modules=TARGETS, lora_dropout=0.0, bias="none",
                      use_rslora=use_rslora, task_type="CAUSAL_LM")


def wrap(base: LlamaForCausalLM, use_rslora: bool):
    """PEFT LoRA on a copy of `base`, A as PEFT initialises it (seeded), B ~ N(0, 0.1^2) (seeded)."""
    model = LlamaForCausalLM(base.config).float()
    model.load_state_dict(base.state_dict())
    torch.manual_seed(1)                     # PEFT's kaiming_uniform_ of each lora_A
    pm = get_peft_model(model, lora_config(use_rslora))
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in pm.named_parameters():     # registration order is deterministic
            if ".lora_B." in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return pm.eval()


def exact_float64(pm) -> None:
    """Make the float64 forward float64 throughout.

    transformers' Llama casts to float32 in three places: RMSNorm (x.to(float32), even from float64),
    the RoPE cos/sin tables, and eager attention's softmax. Any of them caps the reference at float32
    accuracy (central differences then disagree with the gradient at 1e-2). Here RMSNorm and the
    tables are computed in float64 (same formulas) and attention runs through torch's
    scaled_dot_product_attention, which works in the input dtype.
    """
    llama = pm.get_base_model().model
    llama.config._attn_implementation = "sdpa"
    for layer in llama.layers:
        layer.self_attn.config._attn_implementation = "sdpa"
    rot = llama.rotary_emb
    cfg = llama.config
    dim = cfg.hidden_size // cfg.num_attention_heads
    theta = cfg.rope_parameters["rope_theta"] if getattr(cfg, "rope_parameters", None) else cfg.rope_theta
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    assert getattr(rot, "attention_scaling", 1.0) == 1.0

    def forward(x, position_ids):
        freqs = position_ids[..., None].to(torch.float64) * inv_freq      # [b, t, dim/2]
        emb = torch.cat((freqs, freqs), dim=-1)                            # rotate-half layout
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    rot.forward = forward

    def rms_forward(norm):
        def f(x):   # weight * x / sqrt(mean(x^2) + eps), in x's dtype
            return norm.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon))
        return f
    norms = [m for m in llama.modules() if type(m).__name__ == "LlamaRMSNorm"]
    assert len(norms) == 2 * cfg.num_hidden_layers + 1
    for m in norms:
        m.forward = rms_forward(m)


def lora_params(pm) -> dict:
    """Live parameter name -> parameter, for lora_A / lora_B."""
    return {n: p for n, p in pm.named_parameters() if ".lora_A." in n or ".lora_B." in n}


def saved_name(live: str) -> str:
    """PEFT drops the adapter name when saving: ...q_proj.lora_A.default.weight -> ...q_proj.lora_A.weight."""
    return live.replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B.")


def masked_mean_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    keep = targets != IGNORE
    logp = torch.log_softmax(logits, dim=-1)
    nll = -logp[keep, targets[keep]]
    return nll.sum() / keep.sum()


def float32_stock(pm, ids, mask, targets):
    """Loss and gradients of the unmodified float32 transformers + PEFT forward, for the tolerances."""
    pm.zero_grad(set_to_none=True)
    loss = masked_mean_nll(pm(input_ids=ids, attention_mask=mask).logits.double(), targets)
    loss.backward()
    grads = {saved_name(n): p.grad.detach().double().clone() for n, p in lora_params(pm).items()}
    pm.zero_grad(set_to_none=True)
    return loss.item(), grads


def run_case(base, ids, mask, targets, out: Path, use_rslora: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    pm = wrap(base, use_rslora)
    loss32, grads32 = float32_stock(pm, ids, mask, targets)
    adapter_dir = out / "adapter"
    if adapter_dir.exists():
        shutil.rmtree(adapter_dir)
    # PEFT keeps target_modules as a set (written in hash order) and records the base model's absolute
    # path: make both reproducible (the path is relative to the adapter folder)
    cfg = pm.peft_config["default"]
    cfg.target_modules = sorted(cfg.target_modules)
    cfg.base_model_name_or_path = os.path.relpath(out.parent / "model" if use_rslora else out / "model", adapter_dir)
    pm.save_pretrained(adapter_dir)
    (adapter_dir / "README.md").unlink(missing_ok=True)   # PEFT's model-card stub
    saved = safetensors.safe_open(adapter_dir / "adapter_model.safetensors", "pt")
    saved_keys = sorted(saved.keys())

    # float64 everywhere; the F32 parameters upcast exactly
    pm = pm.double()
    exact_float64(pm)
    params = lora_params(pm)
    assert sorted(saved_name(n) for n in params) == saved_keys, "saved keys differ from live names"
    for n, p in params.items():
        assert torch.equal(p.detach(), saved.get_tensor(saved_name(n)).double()), n
    base_frozen = all(not p.requires_grad for n, p in pm.named_parameters() if n not in params)
    assert base_frozen and all(p.requires_grad for p in params.values())

    pm.zero_grad(set_to_none=True)
    logits = pm(input_ids=ids, attention_mask=mask).logits
    assert logits.dtype == torch.float64
    loss = masked_mean_nll(logits, targets)
    loss.backward()
    grads = {saved_name(n): p.grad.detach().clone() for n, p in params.items()}
    assert all(p.grad is None for n, p in pm.named_parameters() if n not in params), "base got a gradient"

    # transformers' own loss: it shifts labels by one, so labels[:, t+1] = targets[:, t]
    labels = torch.full_like(targets, IGNORE)
    labels[:, 1:] = targets[:, :-1]
    with torch.no_grad():
        hf_loss = pm(input_ids=ids, attention_mask=mask, labels=labels).loss.item()
        with pm.disable_adapter():
            base_logits = pm(input_ids=ids, attention_mask=mask).logits
        base_loss = masked_mean_nll(base_logits, targets).item()
        # the attention mask does not change the loss: right padding + causal attention
        nomask_loss = masked_mean_nll(pm(input_ids=ids).logits, targets).item()

    # the saved folder loads back through PEFT to the same loss
    reloaded = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(out / "model" if not use_rslora else out.parent / "model"),
                                         adapter_dir).double().eval()
    exact_float64(reloaded)
    with torch.no_grad():
        assert masked_mean_nll(reloaded(input_ids=ids, attention_mask=mask).logits, targets).item() == loss.item()

    fd = finite_differences(pm, params, ids, mask, targets, grads)

    save_file({k: grads[k].float().contiguous() for k in sorted(grads)}, out / "grads.safetensors",
              metadata={"format": "pt"})
    scale = ALPHA / math.sqrt(R) if use_rslora else ALPHA / R
    assert all(m.scaling["default"] == scale for m in pm.modules() if hasattr(m, "scaling") and isinstance(m.scaling, dict) and "default" in m.scaling)
    ref = {
        "description": "PEFT LoRA on model/ (tiny random Llama), batch.json; loss and gradients in float64",
        "command": "python scripts/reference_lora_grads.py",
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": transformers.__version__, "peft": peft.__version__,
                     "safetensors": safetensors.__version__, "numpy": np.__version__},
        "adapter_dir": "adapter",
        "r": R, "lora_alpha": ALPHA, "use_rslora": use_rslora,
        "scaling_formula": "lora_alpha / sqrt(r)" if use_rslora else "lora_alpha / r",
        "scaling": scale,
        "adapted_output": "y = W x + scaling * lora_B @ (lora_A @ x)  (lora_dropout 0, no LoRA bias)",
        "shapes": "lora_A.weight [r, in_features], lora_B.weight [out_features, r] (nn.Linear layout, row-major)",
        "target_modules": TARGETS,
        "init": {"lora_A": "PEFT default: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); torch.manual_seed(1) before get_peft_model",
                 "lora_B": "N(0, 0.1^2), torch.Generator seed 2, in named_parameters order (not PEFT's zeros)"},
        "loss_reduction": "loss = sum over (b, t) with targets[b][t] != -100 of -log_softmax(logits[b, t])[targets[b][t]], divided by the count of such targets; targets are already shifted (batch.json)",
        "n_target_tokens": int((targets != IGNORE).sum()),
        "loss": loss.item(),
        "hf_labels_loss": hf_loss,
        "hf_labels_loss_note": "transformers' labels= loss (labels[:, t+1] = targets[:, t]); it casts the logits to float32 first, so it agrees to ~1e-7 only",
        "float64_note": "float64 throughout: transformers' float32 casts in RMSNorm, the RoPE tables and eager softmax are replaced by float64 versions of the same formulas (sdpa attention)",
        "float32_stock": {
            "what": "the same adapter through unmodified transformers + PEFT in float32 (eager attention), against this float64 reference: a guide for float32 tolerances",
            "loss": loss32,
            "loss_abs_diff": abs(loss32 - loss.item()),
            "grad_global_relative_diff": math.sqrt(sum(((grads32[k] - grads[k]) ** 2).sum().item() for k in grads))
                                         / math.sqrt(sum((grads[k] ** 2).sum().item() for k in grads)),
            "grad_max_abs_diff": max((grads32[k] - grads[k]).abs().max().item() for k in grads),
        },
        "loss_without_attention_mask": nomask_loss,
        "base_loss_adapter_disabled": base_loss,
        "logits_b0_t0_first8": logits[0, 0, :8].tolist(),
        "logits_b1_t8_first8": logits[1, 8, :8].tolist(),
        "base_logits_b0_t0_first8": base_logits[0, 0, :8].tolist(),
        "gradients": {
            "file": "grads.safetensors (F32, the float64 gradients rounded; same names as adapter_model.safetensors)",
            "of": "loss with respect to every lora_A.weight and lora_B.weight",
            "base_weights_receive_gradient": False,
            "frobenius_norm_float64": {k: grads[k].norm().item() for k in sorted(grads)},
            "max_abs_float64": {k: grads[k].abs().max().item() for k in sorted(grads)},
        },
        "finite_difference_check": fd,
        "peft_names": {
            "saved": "base_model.model.model.layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}.weight",
            "live": "base_model.model.model.layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}.default.weight (adapter name 'default' is dropped on save)",
        },
    }
    (out / "reference.json").write_text(json.dumps(ref, indent=1) + "\n")
    return ref


def finite_differences(pm, params, ids, mask, targets, grads) -> list:
    """Central differences in float64 on a few entries: the largest of a few tensors and fixed ones."""
    live = {saved_name(n): n for n in params}
    picks = []
    for key in ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight",
                "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight",
                "base_model.model.model.layers.1.mlp.gate_proj.lora_B.weight",
                "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"]:
        idx = tuple(int(i) for i in np.unravel_index(int(grads[key].abs().argmax()), grads[key].shape))
        picks.append((key, idx))
    picks.append(("base_model.model.model.layers.1.self_attn.o_proj.lora_A.weight", (1, 5)))
    h = 1e-5
    rows = []
    with torch.no_grad():
        for key, idx in picks:
            p = params[live[key]]
            x0 = p[idx].item()
            p[idx] = x0 + h
            lp = masked_mean_nll(pm(input_ids=ids, attention_mask=mask).logits, targets).item()
            p[idx] = x0 - h
            lm = masked_mean_nll(pm(input_ids=ids, attention_mask=mask).logits, targets).item()
            p[idx] = x0
            num = (lp - lm) / (2 * h)
            ana = grads[key][idx].item()
            rows.append({"tensor": key, "index": list(idx), "analytic": ana, "central_difference": num,
                         "h": h, "relative_error": abs(num - ana) / max(abs(ana), 1e-30)})
    return rows


def main(out_dir: str = None) -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    base = build_model()
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    base.save_pretrained(model_dir)
    (model_dir / "generation_config.json").unlink(missing_ok=True)
    reloaded = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    for (n, p), (n2, p2) in zip(base.state_dict().items(), reloaded.state_dict().items()):
        assert n == n2 and torch.equal(p, p2), n
    base = reloaded.eval()

    ids, mask, targets = build_batch()
    (out / "batch.json").write_text(json.dumps({
        "input_ids": ids.tolist(), "attention_mask": mask.tolist(), "targets": targets.tolist(),
        "pad_id": PAD_ID, "ignore_index": IGNORE,
        "note": "targets[b][t] = input_ids[b][t+1] when t+1 is a real token, else -100; targets[0][0..2] masked as a prompt; "
                "loss = mean over targets != -100 of -log softmax(logits[b,t])[targets[b][t]] (sum / count)",
    }, indent=None) + "\n")

    for use_rslora, sub in [(False, out), (True, out / "rslora")]:
        ref = run_case(base, ids, mask, targets, sub, use_rslora)
        worst = max(r["relative_error"] for r in ref["finite_difference_check"])
        print(f"{'rslora' if use_rslora else 'lora  '}: scale {ref['scaling']}, loss {ref['loss']!r} "
              f"(HF labels= {ref['hf_labels_loss']!r}, diff {ref['loss'] - ref['hf_labels_loss']:+.1e}; "
              f"base {ref['base_loss_adapter_disabled']:.6f}), worst FD relative error {worst:.1e}")
        assert abs(ref["loss"] - ref["hf_labels_loss"]) < 1e-6   # transformers takes the loss in float32
        assert worst < 1e-6


if __name__ == "__main__":
    main(*sys.argv[1:])
