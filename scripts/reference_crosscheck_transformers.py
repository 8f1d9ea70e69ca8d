#!/usr/bin/env python3
"""Cross-check a reference_forward.py fixture against Hugging Face transformers loading the same GGUF.

transformers dequantizes the GGUF itself, undoes llama's Q/K row permutation and runs its own
float32 forward (rotate-half RoPE): an independent check of the NumPy forward's conventions. Prints,
for each prompt, the mean NLL, top-5 and first/last logits differences, and whether the 8-token
greedy continuation is the same.

Usage: .venv/bin/python scripts/reference_crosscheck_transformers.py FIXTURE.json [MODEL.gguf]
(the model defaults to the fixture's file name in the cache; needs scripts/requirements-crosscheck.txt
on top of scripts/requirements-reference.txt)
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")   # the GGUF loader's per-tensor progress bar
import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402


def main(fixture_path: str, model_path: str = None) -> None:
    fixture = json.loads(Path(fixture_path).read_text())
    cache = Path(os.environ.get("EFFILORA_CACHE", Path.home() / ".cache" / "effilora"))
    path = Path(model_path) if model_path else cache / "models" / fixture["model"]
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    worst = 0.0
    for p in fixture["prompts"]:
        ids = torch.tensor([p["ids"]])
        with torch.no_grad():
            logits = model(ids).logits[0].double()
            greedy = model.generate(ids, max_new_tokens=len(p["greedy_ids"]), do_sample=False)[0, ids.shape[1]:]
        nll = -torch.log_softmax(logits, -1)[torch.arange(ids.shape[1] - 1), ids[0, 1:]].mean().item()
        top = torch.topk(logits[-1], 5)
        d_logits = max((logits[0, :8] - torch.tensor(p["logits_first_8"])).abs().max().item(),
                       (logits[-1, :8] - torch.tensor(p["logits_last_8"])).abs().max().item(),
                       (top.values - torch.tensor(p["top5_logits"])).abs().max().item())
        worst = max(worst, abs(nll - p["mean_nll"]))
        print(f"{len(p['ids'])} ids: NLL {nll:.6f} vs {p['mean_nll']:.6f} ({nll - p['mean_nll']:+.1e}), "
              f"top-5 {'same' if top.indices.tolist() == p['top5_ids'] else top.indices.tolist()}, "
              f"max |logit diff| {d_logits:.1e}, greedy {'same' if greedy.tolist() == p['greedy_ids'] else greedy.tolist()}")
    print(f"largest NLL difference {worst:.1e}")


if __name__ == "__main__":
    main(*sys.argv[1:])
