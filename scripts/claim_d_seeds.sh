#!/usr/bin/env bash
# Claim (d), the headline: EffiLoRA against LoRA on PIQA at equal rank and steps, three seeds
# (initialisation, data order and dropout all follow the seed). Each seed is one `effilora compare`
# with configs/piqa-compare.yaml's training options (rank 8, 200 steps × 8, lr 1e-3) for base, lora
# and effilora; then the mean ± standard deviation over the seeds of acc, of the paired gain over
# base, of the validation loss, trainable parameters and tok/s.
# Usage: scripts/claim_d_seeds.sh [OUT] [SEEDS...]   (default out/claim-d, seeds 0 1 2; ~10 min a seed on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${EFFILORA_CACHE:-$HOME/.cache/effilora}"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT="${1:-out/claim-d}"; shift || true
if [ $# -gt 0 ]; then SEEDS=("$@"); else SEEDS=(0 1 2); fi
E="${EFFILORA:-.build/release/effilora}"
mkdir -p "$OUT"
for seed in "${SEEDS[@]}"; do
    sed -e "s/^  seed: 0$/  seed: $seed/" -e "s/^methods: .*/methods: [base, lora, effilora]/" configs/piqa-compare.yaml > "$OUT/seed-$seed.yaml"
    "$E" compare -c "$OUT/seed-$seed.yaml" --model "$MODEL" --output "$OUT/seed-$seed" --reuse
done
python3 - "$OUT" "${SEEDS[@]}" <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
rows = {}
for seed in seeds:
    for m in json.load(open(f"{out}/seed-{seed}/compare.json"))["methods"]:
        r = rows.setdefault(m["method"], {"acc": [], "gain": [], "val": [], "params": [], "tps": []})
        r["acc"].append(m["average"]["acc"])
        if m.get("gainOverBase"): r["gain"].append(m["gainOverBase"]["acc"]["gain"])
        if m.get("training"):
            t = m["training"]
            r["val"].append(t["finalValidationLoss"]); r["params"].append(t["parameters"]["trainable"])
            r["tps"].append(t["tokens"] / t["stepSeconds"])
def ms(xs, f="%.3f"):
    if not xs: return "–"
    return (f % statistics.mean(xs)) + ("" if len(xs) < 2 else " ± " + (f % statistics.stdev(xs)))
print(f"| method | acc (mean ± sd over seeds {', '.join(seeds)}) | paired gain over base | val loss | trainable | tok/s |")
print("|---|---|---|---|---|---|")
for name, r in rows.items():
    print(f"| {name} | {ms(r['acc'])} | {ms(r['gain'])} | {ms(r['val'])} | {ms(r['params'], '%.0f')} | {ms(r['tps'], '%.0f')} |")
PY
