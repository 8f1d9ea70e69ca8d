#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian with Swift: system packages, then the pinned model files.
# Fast when everything is already in place.
# Usage: scripts/setup.sh [NAME ...]   extra pinned files to fetch besides the default smollm2-135m,
#        e.g. scripts/setup.sh qwen2.5-coder-0.5b (491 MB; not fetched by default, so CI stays light)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
pkg-config --exists openblas 2>/dev/null || missing+=(libopenblas-dev pkg-config)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python3 scripts/fetch_pinned.py smollm2-135m "$@"
