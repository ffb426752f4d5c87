#!/usr/bin/env bash
# Runs the end-to-end tests (build tag e2e) against the lab. Brings the lab
# up when it is not running and, in that case, down again afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
started=0
if make -s lab-status >/dev/null 2>&1; then
	echo "e2e: using the running lab"
else
	for try in 1 2 3; do
		if make lab-up; then started=1; break; fi
		echo "e2e: lab-up failed (attempt $try of 3); cleaning up and retrying" >&2
		make lab-down || true
	done
	[ "$started" = 1 ] || { echo "e2e: the lab did not come up; see the output above" >&2; exit 1; }
fi
cleanup() { if [ "$started" = 1 ]; then make lab-down; fi; }
trap cleanup EXIT
export CONFRUN_LAB_STATE="$PWD/lab/.state"
# Tests compare confrun's conversion with a real upstream run on this lab,
# made fresh (~30 s) so that no sample of an older lab or recipe is used.
rm -rf lab/.state/samples
make lab-e2e-sample
# Only the packages with end-to-end tests: `make unit` already ran the rest.
pkgs=$(find . -name '*_e2e_test.go' -not -path './lab/*' -exec dirname {} \; | sort -u)
echo "e2e: testing $(echo $pkgs | wc -w) packages against the lab"
go test -race -tags e2e -count=1 -timeout 70m -run "${E2E_RUN:-.}" $pkgs
