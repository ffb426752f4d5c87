#!/usr/bin/env bash
# Benchmark: `confrun images verify` over 60 images against sequential
# `skopeo inspect --raw` of the same references, in the same run, against a
# real registry (Debian's docker-registry) on loopback. Prints both times and
# the ratio (target: confrun at least 8x faster).
#
# Needs root for apt-get when docker-registry or skopeo is missing.
set -euo pipefail

N=${N:-60}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d /tmp/confrun-bench-images.XXXXXX)
REG_PID=

cleanup() {
	if [[ -n $REG_PID ]]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null && return
	echo "installing $2 (apt-get)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >"$WORK/apt.log" 2>&1 || {
		DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$WORK/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >>"$WORK/apt.log" 2>&1
	} || { echo "could not install $2, see $WORK/apt.log" >&2; exit 1; }
}
need docker-registry docker-registry
need skopeo skopeo

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
command -v bc >/dev/null || need bc bc

# A registry of our own: temporary config and storage, a free loopback port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/storage
http:
  addr: $REG
EOF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
	curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && break
	kill -0 "$REG_PID" 2>/dev/null || { cat "$WORK/registry.log" >&2; exit 1; }
	sleep 0.1
done

cd "$ROOT"
CGO_ENABLED=0 go build -o "$WORK/confrun" ./cmd/confrun
go run ./internal/imagemap/regtest/seed -registry "$REG" -n "$N" -out "$WORK"
mapfile -t REFS <"$WORK/refs.txt"

# confrun: one process, all references (best of RUNS).
best=
for _ in $(seq "$RUNS"); do
	t0=$(now)
	"$WORK/confrun" images verify --map "$WORK/imagemap.yaml" --insecure-registry "$REG" -o json >"$WORK/verify.json" 2>/dev/null
	t=$(secs "$t0" "$(now)")
	if [[ -z $best ]] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
done
ok=$(jq '.counts.ok' "$WORK/verify.json")
[[ $ok == "$N" ]] || { echo "confrun verify found $ok of $N images ok" >&2; exit 1; }

# skopeo: one process per reference, one after the other.
t0=$(now)
for ref in "${REFS[@]}"; do
	skopeo inspect --raw --tls-verify=false "docker://$ref" >/dev/null
done
sk=$(secs "$t0" "$(now)")

ratio=$(echo "$sk / $best" | bc -l)
printf 'images verify: %d images, confrun %.3fs (best of %d), sequential skopeo inspect --raw %.3fs, ratio %.1fx (target >= 8x)\n' \
	"$N" "$best" "$RUNS" "$sk" "$ratio"
