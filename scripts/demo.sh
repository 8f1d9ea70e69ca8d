#!/usr/bin/env bash
# The main job (after scripts/setup.sh and the release build): SmolLM2-135M-Instruct scored
# zero-shot on PIQA's held-out test items, fine-tuned with EffiLoRA and the Reducer on PIQA's
# training split, and scored again — `effilora compare -c configs/main-job.yaml`, which prints its
# budget first, then the accuracy before → after with the paired standard error of the gain, the
# parameters against LoRA's and where its report is — then the adapter in use on one test item.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT=out/main-job
run() { printf '$ effilora'; printf ' %q' "$@"; echo; .build/release/effilora "$@"; echo; }
start=$(date +%s)
run compare -c configs/main-job.yaml --model "$MODEL" --output "$OUT"
# The first PIQA test item in the format it was trained on ("Question: …\nAnswer:"), answered by the adapter.
PROMPT=$(head -n 1 "$CACHE/data/piqa/test.jsonl" | .venv-data/bin/python -c 'import json, sys; print(json.loads(sys.stdin.read())["prompt"], end="")')
run generate --model "$MODEL" --adapter "$OUT/effilora+reducer/adapter" --prompt "$PROMPT" --max-tokens 24
echo "main job: $(( $(date +%s) - start )) s on $(nproc) cores; adapter $OUT/effilora+reducer/adapter, logs $OUT/effilora+reducer/metrics.jsonl, tables $OUT/compare.md, report $OUT/report.html"
