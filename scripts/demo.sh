#!/usr/bin/env bash
# The main job: fine-tune SmolLM2-135M-Instruct with EffiLoRA on PIQA (prepared by setup.sh),
# compare its parameter count with LoRA's, evaluate PIQA accuracy before and after (100 test items:
# standard error ~5 points), use the adapter, and measure the machine: prefill, decode and
# training throughput and the product limit they are reported against.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT=out/demo
run() { printf '$ effilora'; printf ' %q' "$@"; echo; .build/release/effilora "$@"; echo; }
run info --model "$MODEL"
run params --model "$MODEL" --method lora --rank 8
run params --model "$MODEL" --method effilora --rank 8
rm -rf "$OUT"
run train --model "$MODEL" --data "$CACHE/data/piqa" --output "$OUT" --method effilora --rank 8 --alpha 16 \
    --iters 100 --batch-size 8 --learning-rate 1e-3 --warmup 10 --steps-per-eval 50 --save-every 50 --steps-per-report 10
run eval --model "$MODEL" --file "$CACHE/data/piqa/test.mc.jsonl" --limit 100
run eval --model "$MODEL" --adapter "$OUT/adapter" --file "$CACHE/data/piqa/test.mc.jsonl" --limit 100
PROMPT=$'Question: How do you keep bread fresh longer?\nAnswer:'
run generate --model "$MODEL" --prompt "$PROMPT" --max-tokens 40 --verbose
run generate --model "$MODEL" --adapter "$OUT/adapter" --prompt "$PROMPT" --max-tokens 40 --verbose
run bench forward --model "$MODEL" --batch 4 --seq-len 256
run bench generate --model "$MODEL"
run bench train --model "$MODEL" --method lora --steps 2
run bench train --model "$MODEL" --method effilora --steps 2
run bench kernels
