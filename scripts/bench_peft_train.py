#!/usr/bin/env python3
"""PyTorch + PEFT peer of `effilora bench train`: LoRA (DoRA, Lily) training-step throughput on CPU.

transformers loads the GGUF base itself (dequantized to float32, as scripts/crosscheck_peft.py
does), optionally converts it with `model.to(torch.bfloat16)`, and PEFT adds LoRA branches
(rank 8, alpha 16, all seven projections by default; `--method dora`: use_dora; `--method lily`:
PEFT's Lily with stride_A 1, num_B 2, scaling 1 at the same rank) that it creates with its default dtype
handling (it keeps them in float32 on a bfloat16 base; the report says which). Each step on
`--batch` sequences of `--seq-len` seeded random token ids, labels = the ids (causal LM loss):
zero_grad, forward, loss.backward(), clip_grad_norm_(1.0), AdamW (lr 1e-4) step. One warm-up
step, then `--steps` timed ones; reported: tokens/s (batch·seq-len / median s/step), median
s/step, peak RSS (ru_maxrss), trainable parameters, versions, dtypes, torch's CPU capability
and the CPU model.

Usage: .venv-crosscheck/bin/python scripts/bench_peft_train.py --dtype bfloat16
       [--method lora|dora|lily] [--model MODEL.gguf] [--seq-len 256] [--batch 4] [--rank 8] [--alpha 16]
       [--targets q_proj ...] [--steps 3] [--threads 2] [--json]
Needs scripts/requirements-reference.txt and scripts/requirements-crosscheck.txt (torch, transformers,
peft, gguf) in .venv-crosscheck.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")   # the GGUF loader's per-tensor progress bar
import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LilyConfig, LoraConfig, get_peft_model  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

CACHE = Path(os.environ.get("EFFILORA_CACHE", Path.home() / ".cache" / "effilora"))
DEFAULT_MODEL = CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="a GGUF file (default: %(default)s)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="bfloat16", help="the base model's dtype")
    p.add_argument("--seq-len", type=int, default=256, help="tokens per sequence")
    p.add_argument("--batch", type=int, default=4, help="sequences per step")
    p.add_argument("--method", choices=["lora", "dora", "lily"], default="lora")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16)
    p.add_argument("--targets", nargs="+", default=TARGETS, help="module names LoRA adapts")
    p.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print a JSON object")
    a = p.parse_args()
    if a.seq_len < 2 or a.batch < 1 or a.steps < 1 or a.threads < 1:
        p.error("--seq-len > 1, --batch, --steps and --threads > 0")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gguf = Path(a.model).expanduser().resolve()
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if a.dtype == "bfloat16":
        model = model.to(torch.bfloat16)
    if a.method == "lily":
        config = LilyConfig(r=a.rank, target_modules=a.targets, task_type="CAUSAL_LM")
    else:
        config = LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.0, target_modules=a.targets,
                            bias="none", use_dora=a.method == "dora", task_type="CAUSAL_LM")
    model = get_peft_model(model, config)   # PEFT's defaults (autocast_adapter_dtype=True)
    model.train()
    load_seconds = time.perf_counter() - start
    if a.seq_len > model.config.max_position_embeddings:
        p.error(f"--seq-len {a.seq_len} exceeds the context of {model.config.max_position_embeddings}")

    trainable = [t for t in model.parameters() if t.requires_grad]
    lora_dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in trainable})
    base_dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in model.parameters() if not t.requires_grad})
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    generator = torch.Generator().manual_seed(a.seed)
    ids = torch.randint(0, model.config.vocab_size, (a.batch, a.seq_len), generator=generator)

    seconds, losses, warmup = [], [], 0.0
    for i in range(a.steps + 1):   # step 0: warm-up
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        elapsed = time.perf_counter() - t0
        losses.append(loss.item())
        if i > 0:
            seconds.append(elapsed)
        else:
            warmup = elapsed

    median = statistics.median(seconds)
    report = {
        "benchmark": "train", "framework": "pytorch+peft", "model": str(gguf),
        "dtype": a.dtype, "baseParameterDtypes": base_dtypes, "loraParameterDtypes": lora_dtypes,
        "method": a.method, "batch": a.batch, "seqLen": a.seq_len, "rank": a.rank, "alpha": a.alpha, "targets": a.targets,
        "trainableParameters": sum(t.numel() for t in trainable),
        "tokensPerSecond": a.batch * a.seq_len / median, "secondsPerStep": median, "stepSeconds": seconds,
        "warmupSeconds": warmup, "losses": losses,
        "peakResidentMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,   # KiB on Linux
        "loadSeconds": load_seconds, "threads": torch.get_num_threads(),
        "attnImplementation": getattr(model.config, "_attn_implementation", None),
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
        "python": sys.version.split()[0], "cpuCapability": torch.backends.cpu.get_cpu_capability(), "cpu": cpu_model(),
        "measurement": "median of timed steps (zero_grad, forward + causal LM loss, backward, clip_grad_norm_ 1.0, "
                       "AdamW lr 1e-4) after one warm-up, on seeded random token ids with labels = ids",
    }
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"torch {report['torch']} ({report['cpuCapability']}, {report['threads']} threads), transformers "
              f"{report['transformers']}, peft {report['peft']}; CPU {report['cpu']}")
        print(f"base {a.dtype}, LoRA parameters {'/'.join(lora_dtypes)}; attention {report['attnImplementation']}; "
              f"load {load_seconds:.1f} s; losses {', '.join(f'{x:.3f}' for x in losses)}")
        print(f"train {a.method} {a.batch}×{a.seq_len} r{a.rank}: {report['tokensPerSecond']:.0f} tokens/s, {median:.2f} s/step "
              f"(steps {', '.join(f'{s:.2f}' for s in seconds)}); {report['trainableParameters']} trainable; "
              f"peak RSS {report['peakResidentMiB']:.0f} MiB")


if __name__ == "__main__":
    main()
