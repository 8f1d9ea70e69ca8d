#!/usr/bin/env bash
# The main job, until training lands (issues 4–6): read and describe the default model, run its
# forward pass (prefill throughput), and measure the machine's product limit at its shapes — the
# figure every later benchmark is reported against.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${EFFILORA_CACHE:-$HOME/.cache/effilora}/models/SmolLM2-135M-Instruct.Q4_1.gguf"
.build/release/effilora info --model "$MODEL"
echo
.build/release/effilora bench forward --model "$MODEL" --batch 4 --seq-len 256
echo
.build/release/effilora bench kernels
