#!/usr/bin/env bash
# Scale benchmark of `confrun prepull` (pod mode) with simulated nodes:
# kwok (sigs.k8s.io/kwok, built from the Go module proxy) runs against the
# lab's real apiserver and plays kubelet for NODES fake nodes; confrun
# tracks IMAGES images on each of them through its watches. Prints, for a
# small and a full run, the API requests confrun made (from prepull.json:
# a counting RoundTripper around its client) and the time from the last pod
# becoming Ready to confrun's report. Requests should grow with nodes (pod
# creation is the DaemonSet controller's, so barely at all), never with
# nodes x images x time. The runs keep their pods (--keep) and one
# --cleanup removes them at the end, timed apart: kwok deletes pods slowly
# (about 450 in 13 minutes here), so its nodes are deleted first and the pod
# garbage collector removes their pods (a run's own cleanup takes 5-7s on
# the lab's real nodes).
#
# Needs the lab (`make lab-up`; CONFRUN_LAB_STATE names another lab's
# state directory, as for the e2e tests); skips with a message otherwise.
# NODES (default 200), SMALL (default 50), IMAGES (default 40).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODES=${NODES:-200}
SMALL=${SMALL:-50}
IMAGES=${IMAGES:-40}
KWOK_VERSION=v0.7.0
NS=confrun-prepull-bench
STATE=${CONFRUN_LAB_STATE:-$ROOT/lab/.state}

if [[ ! -f $STATE/env ]]; then
	echo "prepull bench: skipped, the lab is not up (make lab-up)"
	exit 0
fi
# shellcheck source=/dev/null
source "$STATE/env"
KUBECTL=$LAB_BIN_DIR/kubectl
kc() { "$KUBECTL" --kubeconfig "$LAB_KUBECONFIG" "$@"; }
if ! kc get --raw /readyz >/dev/null 2>&1; then
	echo "prepull bench: skipped, the lab's apiserver does not answer (make lab-up)"
	exit 0
fi

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/confrun-bench
WORK=$(mktemp -d)
KWOK_PID=
cleanup() {
	set +e
	[[ -n $KWOK_PID ]] && kill "$KWOK_PID" 2>/dev/null && wait "$KWOK_PID" 2>/dev/null
	kc delete nodes -l confrun.dev/bench=prepull --wait=false >/dev/null 2>&1
	"$WORK/confrun" prepull --cleanup -n "$NS" --kubeconfig "$LAB_KUBECONFIG" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

# kwok and confrun.
mkdir -p "$CACHE/bin"
if [[ ! -x $CACHE/bin/kwok-$KWOK_VERSION ]]; then
	echo "building kwok $KWOK_VERSION (go install, once)"
	GOBIN=$CACHE/bin go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	mv "$CACHE/bin/kwok" "$CACHE/bin/kwok-$KWOK_VERSION"
fi
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$WORK/confrun" ./cmd/confrun)

# kwok manages only the nodes this script creates (annotation), and their pods.
# Without a lease duration its nodes stop heartbeating and the node
# lifecycle controller marks them (and their pods) not ready after ~50s.
"$CACHE/bin/kwok-$KWOK_VERSION" --kubeconfig "$LAB_KUBECONFIG" \
	--manage-all-nodes=false \
	--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
	--cidr=10.214.0.0/16 --node-ip=10.214.255.254 --node-lease-duration-seconds=40 \
	>"$WORK/kwok.log" 2>&1 &
KWOK_PID=$!

echo "creating $NODES kwok nodes"
{
	for ((i = 0; i < NODES; i++)); do
		group=full
		((i < SMALL)) && group=small
		cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-prepull-$i
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {type: kwok, confrun.dev/bench: prepull, bench-group: $group, kubernetes.io/arch: amd64, kubernetes.io/os: linux, kubernetes.io/hostname: kwok-prepull-$i}
spec:
  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]
EOF
	done
} >"$WORK/nodes.yaml"
kc apply -f "$WORK/nodes.yaml" >/dev/null
kc wait --for=condition=Ready node -l confrun.dev/bench=prepull --timeout=300s >/dev/null

# An image map of IMAGES images (kwok does not pull: the names only need to parse).
{
	printf 'apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: amd64\nrelease: v1.34\nimages:\n'
	for ((i = 0; i < IMAGES; i++)); do
		printf -- '- upstream: registry.k8s.io/e2e-test-images/bench-%d:1.0\n  target: %s/bench/image-%d:1.0\n  kind: e2e\n  pull: true\n' \
			"$i" "$LAB_REGISTRY" "$i"
	done
} >"$WORK/imagemap.yaml"

# run SELECTOR NAME: one prepull over the selected kwok nodes; prints a line.
run() {
	local sel=$1 name=$2 report=$WORK/$2.json
	local t0=$SECONDS
	"$WORK/confrun" prepull --kubeconfig "$LAB_KUBECONFIG" -n "$NS" --imagemap "$WORK/imagemap.yaml" \
		--nodes "$sel" --include-tainted --helper-image "$LAB_REGISTRY/bench/helper:1" \
		--verify pods --timeout 15m --keep --report "$report" -o json >"$WORK/$name.out.json" 2>"$WORK/$name.log" ||
		{ echo "confrun prepull failed ($name), see below"; tail -n 20 "$WORK/$name.log"; exit 1; }
	jq -r --arg name "$name" --arg wall "$((SECONDS - t0))" '
		.summary as $s | .stats as $st |
		"\($name | (" " * (5 - length)) + .): \($s.nodes) nodes x \($s.images) images = \($s.nodes * $s.images) cells, \($s.pulled + $s.present) on nodes, complete=\(.complete), wall \($wall)s",
		"       API requests: \($st.apiRequests) (\($st.apiRequestsByKind | to_entries | map("\(.key)=\(.value)") | join(" ")))",
		"       last pod Ready -> pulls tracked: \($st.readyToTrackedSeconds // "?")s, -> report written: \($st.readyToReportSeconds // "?")s (Ready times have 1s precision)",
		"REQUESTS_\($name | ascii_upcase)=\($st.apiRequests)"' "$WORK/$name.out.json"
}

echo "== prepull bench: kwok $KWOK_VERSION, $IMAGES images, $SMALL then $NODES nodes, against the lab apiserver"
run "bench-group=small" small | tee "$WORK/small.txt"
run "confrun.dev/bench=prepull" full | tee "$WORK/full.txt"
# kwok deletes pods slowly (minutes for hundreds): remove its nodes instead
# and let the pod garbage collector take their pods, then clean up.
kill "$KWOK_PID" 2>/dev/null && wait "$KWOK_PID" 2>/dev/null
KWOK_PID=
kc delete nodes -l confrun.dev/bench=prepull >/dev/null
t0=$SECONDS
timeout 600 "$WORK/confrun" prepull --cleanup -n "$NS" --kubeconfig "$LAB_KUBECONFIG" >/dev/null 2>&1 ||
	echo "warning: cleanup did not finish in 600s"
echo "cleanup of both runs (--cleanup, after the kwok nodes went): $((SECONDS - t0))s"
eval "$(grep -h '^REQUESTS_' "$WORK/small.txt" "$WORK/full.txt")"
awk -v rs="$REQUESTS_SMALL" -v rf="$REQUESTS_FULL" -v ns="$SMALL" -v nf="$NODES" -v im="$IMAGES" 'BEGIN {
	printf "requests ratio full/small = %.2f for %.1fx the nodes (%.4f requests per node x image at %d nodes)\n", rf / rs, nf / ns, rf / (nf * im), nf
}'
