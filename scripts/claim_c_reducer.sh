#!/usr/bin/env bash
# Claim (c): keeping a quarter or half of the layers' B's by importance against keeping them at
# random or statically (the top layers), the others frozen or dropped. One `effilora compare` over
# configs/claim-c-reducer.yaml (EffiLoRA r 8 on PIQA, 200 steps × 8, 14 Reducer and static variants
# beside the full run, ~75 min on 2 cores), then the README's table with the paired change of each
# variant's test accuracy against the full run. The report is OUT/report.html.
# Usage: scripts/claim_c_reducer.sh [OUT]   (default out/claim-c; a rerun reuses the finished runs)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
OUT="${1:-out/claim-c}"
E="${EFFILORA:-.build/release/effilora}"
"$E" compare -c configs/claim-c-reducer.yaml --model "$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf" --output "$OUT" --reuse
python3 scripts/compare_table.py "$OUT" --against effilora
