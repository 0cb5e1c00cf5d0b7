#!/usr/bin/env bash
# The demo: starts berthd (unless one already answers on the default socket), makes the built-in
# busybox image, runs a container from it and prints its output.
set -euo pipefail
cd "$(dirname "$0")/.."
berth=bin/berth
log=/tmp/berthd-demo.log
if ! $berth version >/dev/null 2>&1; then
  echo "demo: starting berthd (log in $log)"
  setsid $berth daemon >"$log" 2>&1 </dev/null &
  for _ in $(seq 1 100); do
    $berth version >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
$berth image bootstrap busybox >/dev/null
echo "demo: bin/berth run --rm busybox echo hello from a berth container"
$berth run --rm busybox echo hello from a berth container
echo "demo: berthd keeps running; stop it with: kill \$(cat /run/berth/berthd.pid)"
