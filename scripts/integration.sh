#!/usr/bin/env bash
# Runs the end-to-end tests against real berthd instances (each test starts its own, on a
# temporary data root and socket). Needs root: they mount overlays and run containers.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(find dist/test/integration -name '*.test.js' 2>/dev/null | sort)
if [ -z "$files" ]; then
  echo "integration: no tests built" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "integration: skipped, needs root (mounts and containers)"
  exit 0
fi
# --test-timeout bounds each file as a whole too (the runner SIGTERMs it, skipping its after()
# hooks): the longest files (crash-images, isolation) take ~5 minutes on a loaded machine.
exec node --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec $files
