#!/usr/bin/env bash
# Claim (a) and ALoRA's counter-claim: do per-layer LoRA A's converge to similar subspaces, or do
# they look alike only when they start alike? LoRA r 8 on PIQA (configs/piqa-lora.yaml: 200 steps
# × 8, lr 1e-3) twice — each layer's A drawn on its own (PEFT's way) and every layer's A started
# from the same matrix (--same-initial-a) — then `effilora analyze` on both (similarity of A0, A,
# A − A0 and B between layers, against random subspaces) and one report of the two runs.
# Usage: scripts/claim_a_subspaces.sh [OUT]   (default out/claim-a; ~10 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
DATA="$CACHE/data/piqa"
OUT="${1:-out/claim-a}"
E=.build/release/effilora
for variant in independent same; do
    extra=(); [ "$variant" = same ] && extra=(--same-initial-a)
    rm -rf "$OUT/$variant"
    "$E" train -c configs/piqa-lora.yaml --model "$MODEL" --data "$DATA" --output "$OUT/$variant" "${extra[@]}" --steps-per-report 50
    "$E" analyze --adapter "$OUT/$variant/adapter" --model "$MODEL" --data "$DATA/valid.jsonl" | tee "$OUT/$variant/analysis.txt"
done
"$E" report "$OUT/independent" "$OUT/same" --out "$OUT/report.html"
