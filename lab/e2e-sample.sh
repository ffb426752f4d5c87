# Sourced by lab.sh: e2e_sample [NAME [FOCUS]]
# Runs upstream e2e.test through go-runner (as the conformance image does,
# with Ginkgo's -v as sonobuoy-made logs have it, so the log names every spec
# and keeps the suite's version lines)
# against the running lab with a small [Conformance] focus and keeps e2e.log
# and junit_01.xml in lab/.state/samples/NAME/.
#
# The specs only need agnhost, busybox and pause. e2e.test asks for
# upstream names; for the sample run the lab pushes aliases of its images
# under 127.0.0.1:PORT/lab-e2e-sample/<upstream path> (not in images.json)
# and points e2e.test there with KUBE_TEST_REPO_LIST, so the nodes pull
# them from the lab registry. Nothing is tagged on the nodes: mapping the
# cke/... names stays confrun's job, and other users of the lab are not
# disturbed.

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

push_aliases() {
	"$BIN/imgtool" -cache "$CACHE/images" -bin "$CACHE/bin" \
		-busybox-amd64 /bin/busybox -busybox-mips64le "$CACHE/debs/mips64el/bin/busybox" \
		-agnhost-files "$(cd "$LAB_DIR" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/porter" \
		-registry "$1" -out /dev/null -alias-prefix lab-e2e-sample -only pause,busybox,agnhost,jessie-dnsutils \
		>>"$LOGS/imgtool.log" 2>&1 || die "pushing sample aliases failed, see $LOGS/imgtool.log"
}

# forget_aliases: the nodes re-pull the sample aliases (their tags may now
# name newer content than the nodes hold).
forget_aliases() {
	local n name
	for n in $NODES; do
		for name in $(in_node "$n" ctr -a "$(node_sock "$n")" -n k8s.io images ls -q 2>/dev/null | grep '/lab-e2e-sample/' || true); do
			in_node "$n" ctr -a "$(node_sock "$n")" -n k8s.io images rm "$name" >/dev/null 2>&1 || true
		done
	done
}

e2e_sample() {
	local name=${1:-basic} focus=${2:-$SAMPLE_FOCUS_DEFAULT}
	[[ -f $STATE/env ]] && kc get --raw /readyz >/dev/null 2>&1 || die "the lab is not running: make lab-up"
	local out=$STATE/samples/$name work
	work=$(mktemp -d "$STATE/e2e-run.XXXX")
	local reg
	reg=127.0.0.1:$(cat "$STATE/registry.port")
	log "e2e sample '$name': pushing upstream-path aliases to $reg/lab-e2e-sample"
	push_aliases "$reg"
	forget_aliases
	cat >"$work/repo-list.yaml" <<EOF
gcRegistry: $reg/lab-e2e-sample
promoterE2eRegistry: $reg/lab-e2e-sample/e2e-test-images
EOF
	log "running e2e.test via go-runner (results in $out)"
	local t0=$SECONDS rc=0
	(
		cd "$work"
		export KUBECONFIG=$STATE/kubeconfig RESULTS_DIR=$work E2E_FOCUS=$focus E2E_SKIP= E2E_PROVIDER=local \
			E2E_PARALLEL=1 E2E_VERBOSITY=4 GINKGO_BIN=$BIN/ginkgo TEST_BIN=$BIN/e2e.test \
			E2E_EXTRA_ARGS="--repo-root=$work" KUBE_TEST_REPO_LIST=$work/repo-list.yaml \
			E2E_EXTRA_GINKGO_ARGS=-v
		"$BIN/go-runner"
	) >"$LOGS/e2e-sample-$name.log" 2>&1 || rc=$?
	rm -rf "$out"; mkdir -p "$out"
	cp "$work/e2e.log" "$work/junit_01.xml" "$out/" 2>/dev/null || true
	rm -rf "$work"
	[[ -s $out/e2e.log && -s $out/junit_01.xml ]] || die "e2e sample produced no e2e.log/junit_01.xml (rc=$rc), see $LOGS/e2e-sample-$name.log"
	log "e2e sample '$name' finished in $((SECONDS - t0))s (rc=$rc): $(tail -n 3 "$out/e2e.log" | tr '\n' ' ')"
	return $rc
}
