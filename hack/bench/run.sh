#!/usr/bin/env bash
# `confrun run` against a bare `sonobuoy run --wait` + `sonobuoy retrieve` of
# the same focus, with the same images, on the same lab: the ratio of wall
# times is the price of confrun's preflight, watching, extraction and
# run.json (target: at most 1.10). The lab is brought up when it is not
# running, and down again afterwards in that case.
set -euo pipefail
cd "$(dirname "$0")/../.."
FOCUS=${BENCH_RUN_FOCUS:-'(Pods should get a host IP|Pods should be submitted and removed).*\[Conformance\]'}
started=0
if ! make -s lab-status >/dev/null 2>&1; then
	make lab-up
	started=1
fi
work=$(mktemp -d)
cleanup() {
	rm -rf "$work"
	if [ "$started" = 1 ]; then make lab-down; fi
}
trap cleanup EXIT
# shellcheck disable=SC1091
source lab/.state/env
export KUBECONFIG=$LAB_KUBECONFIG
CONFRUN=$work/confrun
CGO_ENABLED=0 go build -o "$CONFRUN" ./cmd/confrun
SONOBUOY=$LAB_BIN_DIR/sonobuoy
ref() { jq -r --arg n "$1" '.[] | select(.name == $n) | .ref' "$LAB_IMAGES_JSON"; }
CONF_IMAGE=$(ref conformance)
SONO_IMAGE=$(ref sonobuoy)

# Both runs find the images on the nodes: map and pre-pull them first.
"$CONFRUN" images map --arch amd64 --release "${LAB_K8S_VERSION%.*}" --kubernetes-version "$LAB_K8S_VERSION" \
	--default-registry "$LAB_REGISTRY" \
	--rule 'registry.k8s.io={{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-mips64el:{{.Tag}}' \
	--rule 'docker.io/sonobuoy={{.DefaultRegistry}}/cke/sonobuoy/{{.Name}}-mips64el:{{.Tag}}' \
	--out "$work/imagemap.yaml" >/dev/null
SOCKETS=()
for pair in $LAB_CONTAINERD_SOCKETS; do SOCKETS+=(--containerd-socket "$pair"); done
"$CONFRUN" prepull --imagemap "$work/imagemap.yaml" --mode node "${SOCKETS[@]}" \
	--helper-registry "$LAB_REGISTRY" >/dev/null 2>&1 || true

now() { date +%s.%N; }

# Start from a cluster without an earlier run.
"$CONFRUN" run --cleanup >/dev/null

# sonobuoy itself, configured as confrun configures it: the e2e plugin only,
# the lab images, IfNotPresent, and the aggregator advertised by DNS name
# (the lab's sonobuoy is built with a Go that rejects bracketed IPs).
"$SONOBUOY" gen config >"$work/sono.json"
jq '.Server.advertiseaddress = "sonobuoy-aggregator.sonobuoy.svc:8080"' "$work/sono.json" >"$work/sono-dns.json"
t0=$(now)
"$SONOBUOY" run --config "$work/sono-dns.json" --plugin e2e --e2e-focus "$FOCUS" \
	--sonobuoy-image "$SONO_IMAGE" --kube-conformance-image "$CONF_IMAGE" \
	--image-pull-policy IfNotPresent --force-image-pull-policy \
	--plugin-env e2e.E2E_EXTRA_GINKGO_ARGS=-v --wait >"$work/sonobuoy-run.log" 2>&1 ||
	{ cat "$work/sonobuoy-run.log" >&2; exit 1; }
mkdir -p "$work/sono-results"
"$SONOBUOY" retrieve "$work/sono-results" >/dev/null
t1=$(now)
"$SONOBUOY" delete --wait >/dev/null 2>&1

t2=$(now)
"$CONFRUN" run --arch amd64 --product bench --dir "$work/confrun-results" --imagemap "$work/imagemap.yaml" \
	--focus "$FOCUS" --timeout 20m >/dev/null 2>"$work/confrun-run.log"
t3=$(now)
"$CONFRUN" run --cleanup >/dev/null 2>&1

awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
	s = t1 - t0; c = t3 - t2
	printf "run: sonobuoy run --wait + retrieve %.1f s, confrun run %.1f s, ratio confrun/sonobuoy %.2f (target <= 1.10)\n", s, c, c / s
}'
