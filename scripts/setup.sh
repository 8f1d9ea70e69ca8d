#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian with Swift: system packages, the pinned model files, then the
# data: a Python environment (.venv-data, pinned by scripts/requirements-data.txt) and the seeded
# train/valid/test splits in the cache (scripts/prepare_data.py). Fast when everything is in place.
# Usage: scripts/setup.sh [NAME ...]   extra pinned files to fetch besides the default smollm2-135m,
#        e.g. scripts/setup.sh qwen2.5-coder-0.5b (491 MB; not fetched by default, so CI stays light)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
pkg-config --exists openblas 2>/dev/null || missing+=(libopenblas-dev pkg-config)
# oneDNN for the bf16 products (no pkg-config file: look for its header).
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || missing+=(libdnnl-dev)
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
# Debian's python3 has venv but not ensurepip (python3-venv), without which `python3 -m venv` fails.
python3 -c 'import importlib.util as u, sys; sys.exit(u.find_spec("ensurepip") is None)' 2>/dev/null || missing+=(python3-venv)
# The report's charts (Debian's Chart.js, inlined into the page) and the browser its test opens it in.
[ -f /usr/share/javascript/chart.js/chart.min.js ] || missing+=(libjs-chart.js)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Chart.js 3.9.1 as bookworm ships it: the report's script is written against its API. Another
# build only affects `effilora report` (which checks the version itself), so this warns.
echo "fbc45926e6b46845a0f905552a0e0b1331049bff1115ecf94dbe0904d895e710  /usr/share/javascript/chart.js/chart.min.js" | sha256sum -c --quiet - 2>/dev/null \
    || echo "setup: warning: /usr/share/javascript/chart.js/chart.min.js is not the pinned Chart.js 3.9.1 (sha256 fbc45926…); reports may not draw" >&2

python3 scripts/fetch_pinned.py smollm2-135m "$@"

# The data environment: kept when it already has every pinned version, else made afresh.
venv=.venv-data
requirements=scripts/requirements-data.txt
pinned_versions_present() {
    "$venv/bin/python" - "$requirements" >/dev/null 2>&1 <<'EOF'
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    requirement = line.split("#")[0].strip()
    if requirement:
        name, pinned = requirement.split("==")
        if version(name) != pinned:
            sys.exit(1)
EOF
}
if ! pinned_versions_present; then
    echo "setup: creating $venv from $requirements"
    python3 -m venv --clear "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --only-binary=:all: \
        -r "$requirements"
    pinned_versions_present || { echo "setup: $venv lacks the versions pinned in $requirements" >&2; exit 1; }
fi
"$venv/bin/python" scripts/prepare_data.py
