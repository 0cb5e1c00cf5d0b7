#!/usr/bin/env bash
# make bench [ONLY=case[,case...]]: brings up the peer engines, then runs the suite (dist/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f ../shared/bench/anchors.sh ]; then
  # shellcheck disable=SC1091
  source ../shared/bench/anchors.sh
else
  echo "bench: ../shared/bench/anchors.sh not found; only berth is measured" >&2
fi
exec node dist/bench/main.js "$@"
