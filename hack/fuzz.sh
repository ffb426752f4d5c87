#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given time each.
# -fuzzminimizetime bounds the shrinking of a new input, during which Go
# counts no executions and a run looks stuck.
set -euo pipefail
fuzztime=${1:-30s}
cd "$(dirname "$0")/.."
found=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		found=1
		echo "== $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10s "$pkg"
	done
done
[ "$found" = 1 ] || { echo "no fuzz targets found" >&2; exit 1; }
