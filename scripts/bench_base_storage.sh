#!/usr/bin/env bash
# The base kept quantized against the base dense in the compute dtype: training throughput and
# peak RSS (bench train --grad-checkpoint, seq 256 × batch 4, r 8, all targets) and decode speed
# (bench generate), in alternating rounds, one JSON object per line on stdout.
# Usage: scripts/bench_base_storage.sh [MODEL.gguf ...]   (default: SmolLM2; rounds: $ROUNDS, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/effilora
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("${EFFILORA_CACHE:-$HOME/.cache/effilora}/models/SmolLM2-135M-Instruct.Q4_1.gguf")
for model in "${models[@]}"; do
    for round in $(seq "${ROUNDS:-2}"); do
        for storage in quantized dense; do
            "$bin" bench train --model "$model" --grad-checkpoint --steps "${STEPS:-3}" --base-storage "$storage" --json 2>/dev/null \
                | python3 -c "import json,sys; d=json.load(sys.stdin); d.update(round=$round, baseStorage='$storage'); print(json.dumps(d))"
        done
        for dtype in f32 bf16; do
            for storage in quantized dense; do
                "$bin" bench generate --model "$model" --compute-dtype "$dtype" --base-storage "$storage" --json 2>/dev/null \
                    | python3 -c "import json,sys; d=json.load(sys.stdin); d.update(round=$round, storage='$storage'); print(json.dumps(d))"
            done
        done
    done
done
