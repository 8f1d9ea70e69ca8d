#!/usr/bin/env bash
# The main job (after scripts/setup.sh and the release build): SmolLM2-135M-Instruct evaluated
# zero-shot on the eight commonsense tasks, fine-tuned with EffiLoRA on the mixed commonsense
# training file, and evaluated again — `effilora compare -c configs/commonsense.yaml`, whose budget
# (steps, examples, items per task, standard errors) it prints first — then the adapter in use.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT=out/commonsense
run() { printf '$ effilora'; printf ' %q' "$@"; echo; .build/release/effilora "$@"; echo; }
start=$(date +%s)
run compare -c configs/commonsense.yaml --model "$MODEL" --output "$OUT"
# The first PIQA test item in the instruction format (its prompt ends in a newline, which $(…) would strip: hence the x).
PROMPT=$(head -n 1 "$CACHE/data/piqa/test.instruct.jsonl" | .venv-data/bin/python -c 'import json, sys; print(json.loads(sys.stdin.read())["prompt"] + "x", end="")')
PROMPT=${PROMPT%x}
run generate --model "$MODEL" --adapter "$OUT/effilora/adapter" --prompt "$PROMPT" --max-tokens 16
echo "main job: $(( $(date +%s) - start )) s; adapter $OUT/effilora/adapter, logs $OUT/effilora/metrics.jsonl, tables $OUT/compare.md"
