#!/usr/bin/env bash
# Builds in release (numeric code is 10–100× slower in debug) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --build-tests
# Run the tests on the OpenBLAS kernels the tool itself runs (see BLASCore.swift).
OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-$(.build/release/effilora system --blas-core)}"
export OPENBLAS_CORETYPE
# and with the threads' spin limits it sets (BLASCore.threadSpinLimits).
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}" GOMP_SPINCOUNT="${GOMP_SPINCOUNT:-10000}"
echo "test: OpenBLAS kernels $OPENBLAS_CORETYPE"
swift test -c release -Xswiftc -enable-testing --skip-build
