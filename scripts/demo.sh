#!/usr/bin/env bash
# The main job, until training lands (issues 4–6): describe the default model, chat with it,
# score the reference prompt, and measure prefill, decode and the machine's product limit at its
# shapes — the figures every later benchmark is reported against.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${EFFILORA_CACHE:-$HOME/.cache/effilora}/models/SmolLM2-135M-Instruct.Q4_1.gguf"
run() { printf '$ effilora'; printf ' %q' "$@"; echo; .build/release/effilora "$@"; echo; }
run info --model "$MODEL"
run generate --model "$MODEL" --chat --prompt "What is the capital of France? Answer in one sentence." --max-tokens 48 --verbose
run score --model "$MODEL" --text "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is"
run bench forward --model "$MODEL" --batch 4 --seq-len 256
run bench generate --model "$MODEL"
run bench kernels
