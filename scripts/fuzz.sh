#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with libFuzzer (the Swift toolchain's, -sanitize=fuzzer):
# builds effilora-fuzz instrumented into .build/fuzz, writes the seed corpus, then runs each target
# for SECONDS (default 600) on one core, keeping what it finds under fuzz/corpus/TARGET and any
# crashing input as fuzz/crash-TARGET-*. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# (targets: gguf safetensors tokenizer-json jsonl yaml adapter-config; default all, one after another).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-600}"; shift || true
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=(gguf safetensors tokenizer-json jsonl yaml adapter-config); fi
swift build -c release --scratch-path .build/fuzz --product effilora-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -use-ld=lld
FUZZ=.build/fuzz/release/effilora-fuzz
# libFuzzer, not Swift's backtracer, must handle a crash: it writes the input that caused it.
export SWIFT_BACKTRACE=enable=no
mkdir -p fuzz/corpus
"$FUZZ" seeds fuzz/seeds > /dev/null
for target in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "== $target: ${SECONDS_EACH} s"
    # -rss_limit_mb: an input that makes a parser allocate past 2 GiB is a finding too.
    "$FUZZ" "$target" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -artifact_prefix="fuzz/crash-$target-" -print_final_stats=1 "fuzz/corpus/$target" "fuzz/seeds/$target" 2>&1 \
        | grep -E "^(#[0-9]+ +DONE|stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
done
ls fuzz/crash-* 2>/dev/null && { echo "fuzz: crashes found (above)"; exit 1; } || echo "fuzz: no crash"
