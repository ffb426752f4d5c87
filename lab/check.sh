# Sourced by lab.sh: lab_check checks the lab's done-when items against the
# running lab (bringing it up first when LAB_CHECK_UP=1) and, with
# CHECK_DOWN=1, that lab-down leaves no process, mount, link, route or chain.

CHECK_FAILS=0
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; CHECK_FAILS=$((CHECK_FAILS + 1)); }

# check_pod NODE IMAGE [PLACEMENT]: a pod on NODE (PLACEMENT: JSON members
# of its spec that put it there; default nodeName) runs, logs, exec, DNS.
check_pod() {
	local n=$1 img=$2 pod=lab-check-${1#lab-} where=${3:-"\"nodeName\":\"$1\""}
	kc delete pod "$pod" --ignore-not-found --wait=true >/dev/null 2>&1
	kc run "$pod" --image="$img" --image-pull-policy=IfNotPresent --restart=Never \
		--overrides="{\"spec\":{$where,\"terminationGracePeriodSeconds\":1}}" \
		--command -- sh -c 'echo hello-from-$(hostname); exec sleep 3600' >/dev/null
	if kc wait --for=condition=Ready "pod/$pod" --timeout=180s >/dev/null 2>&1 &&
		[[ $(kc get pod "$pod" -o jsonpath='{.spec.nodeName}') == "$n" ]]; then
		ok "pod $pod ($img) runs on $n"
	else
		fail "pod $pod did not become Ready on $n: $(kc get pod "$pod" -o jsonpath='{.status.containerStatuses[0].state}' 2>&1)"
		return
	fi
	local out
	out=$(kc logs "$pod" 2>&1) && [[ $out == "hello-from-$pod" ]] && ok "kubectl logs $pod" || fail "kubectl logs $pod: $out"
	out=$(kc exec "$pod" -- cat /proc/self/cgroup 2>&1) && [[ -n $out ]] && ok "kubectl exec $pod" || fail "kubectl exec $pod: $out"
	out=$(kc exec "$pod" -- nslookup kubernetes.default.svc.cluster.local 2>&1) && [[ $out == *"$KUBERNETES_SVC_IP"* ]] &&
		ok "cluster DNS from $pod" || fail "cluster DNS from $pod: $out"
	out=$(kc exec "$pod" -- nslookup example.com 2>&1) && fail "an outside name resolved from $pod: $out" ||
		ok "outside names do not resolve from $pod (no forwarding)"
	kc delete pod "$pod" --wait=false >/dev/null 2>&1
}

check_down() {
	cmd_down >/dev/null 2>&1 || fail "lab-down exited non-zero"
	local left
	left=$(ls "$PIDS"/*.pid 2>/dev/null || true)
	[[ -z $left ]] && ok "no pidfiles left" || fail "pidfiles left: $left"
	left=$(for f in /proc/[0-9]*/cmdline; do tr "\\0" " " 2>/dev/null <"$f" | grep -E "$CACHE/bin|$VAR|$RUN" || true; done | grep -v grep || true)
	[[ -z $left ]] && ok "no lab process left" || fail "processes left: $left"
	left=$(awk -v a="$VAR" -v b="$RUN" '$5 ~ "^"a || $5 ~ "^"b {print $5}' /proc/self/mountinfo)
	[[ -z $left ]] && ok "no mount left" || fail "mounts left: $left"
	left=$(ip -o link show | awk -F': ' '{print $2}' | grep -E '^(crlab|veth)' || true)
	[[ -z $left ]] && ok "no link left" || fail "links left: $left"
	ip netns list | grep -q "crlab-" && fail "netns left: $(ip netns list | grep crlab-)" || ok "no netns left"
	ip route show | grep -q '10\.213\.' && fail "routes left: $(ip route show | grep '10\.213\.')" || ok "no route left"
	{ iptables -w -S; iptables -w -t mangle -S; ip6tables -w -S; } 2>/dev/null | grep -qE "$FWD_CHAIN|KUBE-" && fail "iptables chains left" || ok "no iptables chain left (filter)"
	iptables -w -t nat -S 2>/dev/null | grep -qE 'KUBE-|CNI-' && fail "nat chains left" || ok "no iptables chain left (nat)"
}

# place_mips NODE REF NAME: the mips64le variant of the lab image REF on
# NODE's containerd under NAME. The mips64le manifest itself is pulled (by
# digest), not the index: from an index the runtime would pick the host's
# platform (amd64).
place_mips() {
	local n=$1 ref=$2 name=$3 repo=${2%:*} sock digest
	sock=$(node_sock "$n")
	digest=$(curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' \
		"http://${ref%%/*}/v2/${repo#*/}/manifests/${ref##*:}" |
		jq -r '.manifests[] | select(.platform.architecture == "mips64le") | .digest')
	[[ -n $digest ]] && in_node "$n" ctr -a "$sock" -n k8s.io images pull --platform linux/mips64le \
		--hosts-dir "$VAR/${n#lab-}/etc/certs.d" "$repo@$digest" >/dev/null 2>&1 || return 1
	in_node "$n" ctr -a "$sock" -n k8s.io images tag --force "$repo@$digest" "$name" >/dev/null
	in_node "$n" ctr -a "$sock" -n k8s.io images rm "$repo@$digest" >/dev/null
}

# check_mips NODE: the mips64le variant of the lab busybox, pulled with
# --platform, runs emulated (qemu-user, binfmt F flag) in a pod. The image
# goes on the node under a check-only name, so the node's normal (amd64)
# images are left as they were.
check_mips() {
	local n=$1 ref tag sock pod=lab-check-mips out
	ref=$(image_ref busybox)
	tag=${ref%%/*}/lab-check/busybox:mips64le
	sock=$(node_sock "$n")
	place_mips "$n" "$ref" "$tag" || { fail "pulling the mips64le variant of $ref on $n"; return; }
	kc delete pod "$pod" --ignore-not-found --wait=true >/dev/null 2>&1
	kc run "$pod" --image="$tag" --image-pull-policy=Never --restart=Never \
		--overrides="{\"spec\":{\"nodeName\":\"$n\"}}" --command -- uname -m >/dev/null
	kc wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$pod" --timeout=120s >/dev/null 2>&1 || true
	out=$(kc logs "$pod" 2>&1)
	[[ $out == mips64 ]] && ok "mips64le busybox runs emulated on $n (uname -m: $out)" || fail "mips64le pod on $n: $out"
	kc delete pod "$pod" --wait=true >/dev/null 2>&1
	in_node "$n" ctr -a "$sock" -n k8s.io images rm "$tag" >/dev/null 2>&1 || true
}

# check_mips_node NODE: the emulated mips64le node (LAB_MIPS=1) reports
# kubernetes.io/arch=mips64le, and a pod placed by that label alone runs the
# lab's mips64el busybox there (uname -m: mips64), with logs, exec and DNS.
# The CRI would pull the amd64 variant, so the check places the mips64le one
# itself under a check-only name (confrun prepull --mode node does this for
# real runs).
check_mips_node() {
	local n=$1 ref tag out pod=lab-check-${1#lab-}
	out=$(kc get node "$n" -o jsonpath='{.metadata.labels.kubernetes\.io/arch} {.status.nodeInfo.architecture}')
	[[ $out == "mips64le mips64le" ]] && ok "node $n: kubernetes.io/arch and nodeInfo.architecture are mips64le" ||
		fail "node $n arch label/nodeInfo: $out"
	ref=$(image_ref busybox)
	tag=${ref%%/*}/lab-check/busybox:mips64le
	place_mips "$n" "$ref" "$tag" || { fail "placing the mips64le variant of $ref on $n"; return; }
	check_pod "$n" "$tag" '"nodeSelector":{"kubernetes.io/arch":"mips64le"}'
	# check_pod deleted its pod without waiting: run uname in a new one.
	pod=$pod-uname
	kc delete pod "$pod" --ignore-not-found --wait=true >/dev/null 2>&1
	kc run "$pod" --image="$tag" --image-pull-policy=Never --restart=Never \
		--overrides='{"spec":{"nodeSelector":{"kubernetes.io/arch":"mips64le"}}}' --command -- uname -m >/dev/null
	kc wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$pod" --timeout=180s >/dev/null 2>&1 || true
	out=$(kc logs "$pod" 2>&1)
	[[ $out == mips64 && $(kc get pod "$pod" -o jsonpath='{.spec.nodeName}') == "$n" ]] &&
		ok "pod by nodeSelector kubernetes.io/arch=mips64le runs on $n: uname -m = $out" || fail "uname pod on $n: $out"
	kc delete pod "$pod" lab-check-${n#lab-} --ignore-not-found --wait=true >/dev/null 2>&1
	in_node "$n" ctr -a "$(node_sock "$n")" -n k8s.io images rm "$tag" >/dev/null 2>&1 || true
}

lab_check() {
	if ! all_running; then
		[[ ${LAB_CHECK_UP:-0} == 1 ]] || die "the lab is not running: make lab-up (or LAB_CHECK_UP=1)"
		cmd_up
	fi
	local out n
	out=$(kc get nodes -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}')
	for n in $NODES; do [[ $out == *"$n=True"* ]] && ok "node $n Ready" || fail "node $n not Ready ($out)"; done
	out=$(kc version -o json)
	[[ $(jq -r .clientVersion.gitVersion <<<"$out") == "$K8S_VERSION" ]] && ok "kubectl $K8S_VERSION" || fail "client version: $out"
	[[ $(jq -r .serverVersion.gitVersion <<<"$out") == "$K8S_VERSION" ]] && ok "server $K8S_VERSION" || fail "server version: $out"
	for n in $NODES; do
		out=$(kc get node "$n" -o jsonpath='{.status.nodeInfo.kubeletVersion}')
		[[ $out == "$K8S_VERSION" ]] && ok "kubelet on $n $out" || fail "kubelet on $n: $out"
	done
	local img
	img=$(image_ref busybox)
	[[ $img == 127.0.0.1:* ]] && ok "lab busybox image $img" || fail "no busybox in images.json"
	for n in $NODES; do if is_mips "$n"; then check_mips_node "$n"; else check_pod "$n" "$img"; fi; done
	check_mips lab-node-2
	[[ ${CHECK_DOWN:-0} == 1 ]] && check_down
	if ((CHECK_FAILS)); then echo "lab-check: $CHECK_FAILS check(s) failed"; return 1; fi
	echo "lab-check: all checks passed"
}
