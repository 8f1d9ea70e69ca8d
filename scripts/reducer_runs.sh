#!/usr/bin/env bash
# The Reducer comparison of issue 5 on PIQA: EffiLoRA without the Reducer, with it at keep 0.25
# and 0.5 (taylor, suppression, random importance), static top-8 and top-15 layers (mlx-lm's
# --num-layers), and taylor at keep 0.25 within a backward budget of half the layers.
# Usage: scripts/reducer_runs.sh [ITERS]   (results in out/reducer/*/metrics.jsonl and *.log)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
ITERS="${1:-300}"
common=(-c configs/piqa-effilora.yaml --model "$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf" --data "$CACHE/data/piqa"
        --iters "$ITERS" --steps-per-eval 50 --save-every 0)
mkdir -p out/reducer
run() { local name=$1; shift; rm -rf "out/reducer/$name"; .build/release/effilora train "${common[@]}" --output "out/reducer/$name" "$@" > "out/reducer/$name.log" 2>&1; }
run none
run taylor-0.25 --reducer-keep 0.25 --reducer-importance taylor
run suppression-0.25 --reducer-keep 0.25 --reducer-importance suppression
run random-0.25 --reducer-keep 0.25 --reducer-importance random
run top8 --num-layers 8
run taylor-0.5 --reducer-keep 0.5 --reducer-importance taylor
run suppression-0.5 --reducer-keep 0.5 --reducer-importance suppression
run random-0.5 --reducer-keep 0.5 --reducer-importance random
run top15 --num-layers 15
run taylor-0.25-budget-0.5 --reducer-keep 0.25 --reducer-importance taylor --reducer-budget 0.5
