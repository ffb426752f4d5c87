# Sourced by lab.sh: e2e_sample [NAME [FOCUS]]
# Runs upstream e2e.test through go-runner (as the conformance image does)
# against the running lab with a small [Conformance] focus and keeps e2e.log
# and junit_01.xml in lab/.state/samples/NAME/.
#
# The specs only need agnhost, busybox and pause. So that e2e.test's upstream
# image names resolve, the images are pulled from the lab registry on every
# node and tagged with their upstream names for the run (what `confrun
# prepull` does for real); the upstream tags are removed afterwards so the
# lab stays a cluster that needs the mapping.

# Spec texts (ginkgo matches the full text, labels included); each needs
# only agnhost, busybox and pause. (The DNS conformance specs also need
# jessie-dnsutils, which the lab pushes too, and take long when they fail.)
SAMPLE_SPECS=(
	'Pods should get a host IP'
	'Pods should be submitted and removed'
	'Downward API should provide pod name, namespace and IP address as env vars'
	'Pods should support retrieving logs from the container over websockets'
	'Pods should support remote command execution over websockets'
	'Services should serve a basic endpoint from pods'
	'Kubectl client Kubectl version should check is all data is printed'
	'ConfigMap should be consumable from pods in volume with mappings and Item mode set'
)
SAMPLE_FOCUS_DEFAULT="($(IFS="|"; echo "${SAMPLE_SPECS[*]}")).*\\[Conformance\\]"

ctr_node() { local n=$1; shift; in_node "$n" ctr -a "$(node_sock "$n")" -n k8s.io "$@"; }

tag_upstream() {
	local n name ref up port
	port=$(cat "$STATE/registry.port")
	for n in $NODES; do
		for name in pause busybox agnhost; do
			ref=$(image_ref "$name"); up=$(jq -r --arg n "$name" '.[] | select(.name == $n) | .upstream' "$STATE/images.json")
			ctr_node "$n" images pull --hosts-dir "$VAR/${n#lab-}/etc/certs.d" "$ref" >/dev/null
			ctr_node "$n" images tag --force "$ref" "$up" >/dev/null
		done
	done
}

untag_upstream() {
	local n name up
	for n in $NODES; do
		for name in busybox agnhost; do
			up=$(jq -r --arg n "$name" '.[] | select(.name == $n) | .upstream' "$STATE/images.json")
			ctr_node "$n" images rm "$up" >/dev/null 2>&1 || true
		done
	done
}

e2e_sample() {
	local name=${1:-basic} focus=${2:-$SAMPLE_FOCUS_DEFAULT}
	[[ -f $STATE/env ]] && kc get --raw /readyz >/dev/null 2>&1 || die "the lab is not running: make lab-up"
	local out=$STATE/samples/$name work
	work=$(mktemp -d "$STATE/e2e-run.XXXX")
	log "e2e sample '$name': pulling and tagging images on every node"
	tag_upstream
	log "running e2e.test via go-runner (results in $out)"
	local t0=$SECONDS rc=0
	(
		cd "$work"
		export KUBECONFIG=$STATE/kubeconfig RESULTS_DIR=$work E2E_FOCUS=$focus E2E_SKIP= E2E_PROVIDER=local \
			E2E_PARALLEL=1 E2E_VERBOSITY=4 GINKGO_BIN=$BIN/ginkgo TEST_BIN=$BIN/e2e.test \
			E2E_EXTRA_ARGS="--repo-root=$work"
		"$BIN/go-runner"
	) >"$LOGS/e2e-sample-$name.log" 2>&1 || rc=$?
	untag_upstream
	rm -rf "$out"; mkdir -p "$out"
	cp "$work/e2e.log" "$work/junit_01.xml" "$out/" 2>/dev/null || true
	rm -rf "$work"
	[[ -s $out/e2e.log && -s $out/junit_01.xml ]] || die "e2e sample produced no e2e.log/junit_01.xml (rc=$rc), see $LOGS/e2e-sample-$name.log"
	log "e2e sample '$name' finished in $((SECONDS - t0))s (rc=$rc): $(tail -n 3 "$out/e2e.log" | tr '\n' ' ')"
	return $rc
}
