#!/usr/bin/env bash
# The Reducer comparison of issue 5: EffiLoRA without the Reducer, with it at each keep fraction
# (taylor, suppression, random importance), static top-N layers at the same count (mlx-lm's
# --num-layers), and taylor at keep 0.25 within a backward budget of half the layers.
# Usage: scripts/reducer_runs.sh [ITERS [DATA [KEEP ...]]]
#   ITERS 300, DATA a prepared data folder name (piqa; commonsense-cloze, …), KEEP 0.25 0.5.
#   Results in out/reducer/DATA/*/metrics.jsonl and *.log.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
ITERS="${1:-300}"
DATA="${2:-piqa}"
shift $(( $# < 2 ? $# : 2 ))
if [ $# -gt 0 ]; then KEEPS=("$@"); else KEEPS=(0.25 0.5); fi
OUT="out/reducer/$DATA"
common=(-c configs/piqa-effilora.yaml --model "$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf" --data "$CACHE/data/$DATA"
        --iters "$ITERS" --steps-per-eval 50 --save-every 0)
mkdir -p "$OUT"
run() { local name=$1; shift; rm -rf "$OUT/$name"; .build/release/effilora train "${common[@]}" --output "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1; }
run none
for keep in "${KEEPS[@]}"; do
    for importance in taylor suppression random; do
        run "$importance-$keep" --reducer-keep "$keep" --reducer-importance "$importance"
    done
    layers=$(python3 -c "import math; print(math.ceil($keep * 30))")   # SmolLM2-135M's 30 layers
    run "top$layers" --num-layers "$layers"
done
run taylor-0.25-budget-0.5 --reducer-keep 0.25 --reducer-importance taylor --reducer-budget 0.5
