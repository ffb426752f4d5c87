#!/usr/bin/env bash
# confrun lab driver: a two-node Kubernetes cluster on this machine, built
# from source (LAB_MIPS=1: plus lab-mips-1, an emulated mips64le node).
# Usage: lab/lab.sh build|up|down|status|e2e-sample|check
# See lab/README.md for the layout. Runs as root, non-interactive.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=build.sh
source "$LAB_DIR/build.sh"

STATE=$LAB_DIR/.state               # pidfiles, kubeconfig, env, images.json, logs
PIDS=$STATE/pids
LOGS=$STATE/logs
PKI=$STATE/pki
VAR=/var/lib/confrun-lab            # large state: etcd, kubelet, containerd roots, registry
RUN=/run/confrun-lab                # sockets and runtime state
BIN=$CACHE/bin/amd64

# Network layout (see README): everything inside 10.213.0.0/16, which gets an
# "unreachable" host route so nothing addressed to the lab can leave the box.
LAB_SUPERNET=10.213.0.0/16
NODE_NET_PREFIX=10.213.0           # bridge crlab0: host .1 (apiserver, registry), lab-node-N .(10+N)
NODE_BRIDGE=crlab0
POD_CIDR=10.213.64.0/18            # node-N gets 10.213.(63+N).0/24
SERVICE_CIDR=10.213.32.0/20
KUBERNETES_SVC_IP=10.213.32.1
DNS_SVC_IP=10.213.32.10
NODES="lab-node-1 lab-node-2"
# lab-mips-1 (LAB_MIPS=1): a GOARCH=mips64le kubelet under qemu-user with
# the native containerd/runc; see README "The mips64le node".
MIPS_NODE=lab-mips-1
ALL_NODES="$NODES $MIPS_NODE"     # what lab-down cleans up, whichever were started
APISERVER_IP=$NODE_NET_PREFIX.1
APISERVER_PORT=6443
FWD_CHAIN=CRLAB-FORWARD

PACKAGES="containerd runc containernetworking-plugins etcd-server docker-registry qemu-user-static binfmt-support iptables busybox-static iproute2 util-linux openssl curl"

# node_idx NODE: lab-node-N is N, lab-mips-M is 2+M (addresses, bridges, veths).
node_idx() {
	case $1 in
	lab-node-*) echo "${1##*-}" ;;
	lab-mips-*) echo "$((2 + ${1##*-}))" ;;
	*) die "unknown node $1" ;;
	esac
}
is_mips() { [[ $1 == lab-mips-* ]]; }
node_ip() { echo "$NODE_NET_PREFIX.$((10 + $(node_idx "$1")))"; }
node_ns() { echo "crlab-${1#lab-}"; }         # lab-node-N runs in network namespace crlab-node-N
node_veth() { echo "crlab-n$(node_idx "$1")h"; }  # host end of its veth on the node bridge
node_pod_cidr() { echo "10.213.$((63 + $(node_idx "$1"))).0/24"; }
node_pod_gw() { echo "10.213.$((63 + $(node_idx "$1"))).1"; }
node_sock() { echo "$RUN/${1#lab-}/containerd.sock"; }
# node_procs NODE...: the lab processes of those nodes.
node_procs() { local n; for n in "$@"; do printf '%s ' "containerd-${n#lab-}" "kubelet-${n#lab-}" "kube-proxy-${n#lab-}"; done; }
# in_node NODE CMD...: run CMD in that node's network namespace.
in_node() {
	local n=$1; shift
	nsenter "--net=/run/netns/$(node_ns "$n")" -- "$@"
}

# ---------------------------------------------------------------- packages
ensure_packages() {
	local missing=() p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if ((${#missing[@]})); then
		log "installing Debian packages: ${missing[*]}"
		# Keep package scripts from starting etcd/registry/containerd services: the lab starts its own.
		local prc=/usr/sbin/policy-rc.d made=0
		if [[ ! -e $prc ]]; then printf '#!/bin/sh\nexit 101\n' >$prc; chmod +x $prc; made=1; fi
		export DEBIAN_FRONTEND=noninteractive
		retry 3 apt-get update -q >"$LOGS/apt-update.log" 2>&1 || { ((made)) && rm -f $prc; die "apt-get update failed, see $LOGS/apt-update.log"; }
		retry 3 apt-get install -y -q --no-install-recommends "${missing[@]}" >"$LOGS/apt-install.log" 2>&1 ||
			{ ((made)) && rm -f $prc; die "apt-get install failed, see $LOGS/apt-install.log"; }
		((made)) && rm -f $prc
	fi
	# binfmt handlers for mips64le (F flag: they work inside containers too).
	if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-mips64el ]]; then
		mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
		update-binfmts --enable qemu-mips64el >/dev/null 2>&1 || log "warning: could not enable qemu-mips64el binfmt handler"
	fi
}

# busybox for mips64el: Debian's busybox-static:mips64el package.
ensure_busybox_mips() {
	local dir=$CACHE/debs/mips64el
	[[ -x $dir/bin/busybox ]] && return
	log "fetching busybox-static:mips64el"
	mkdir -p "$dir"
	if ! dpkg --print-foreign-architectures | grep -qx mips64el; then
		dpkg --add-architecture mips64el
		retry 3 apt-get update -q >"$LOGS/apt-update-mips.log" 2>&1 || die "apt-get update (mips64el) failed"
	fi
	(cd "$dir" && rm -f ./*.deb && retry 3 apt-get download busybox-static:mips64el >"$LOGS/apt-download.log" 2>&1) || {
		apt-get update -q >>"$LOGS/apt-update-mips.log" 2>&1
		(cd "$dir" && apt-get download busybox-static:mips64el >>"$LOGS/apt-download.log" 2>&1) || die "apt-get download busybox-static:mips64el failed"
	}
	dpkg-deb -x "$dir"/busybox-static_*_mips64el.deb "$dir"
}

retry() {
	local n=$1 i; shift
	for ((i = 1; i <= n; i++)); do
		"$@" && return 0
		((i < n)) && { log "retrying ($i/$n): $*"; sleep $((i * 3)); }
	done
	return 1
}

# ---------------------------------------------------------------- processes
pidof_lab() { local f=$PIDS/$1.pid; [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
running() { pidof_lab "$1" >/dev/null; }

# start NAME NETNS|- CMD...: start CMD detached, log to $LOGS/NAME.log, pid to $PIDS/NAME.pid.
start() {
	local name=$1 ns=$2; shift 2
	running "$name" && return
	local pre=()
	[[ $ns != - ]] && pre=(nsenter "--net=/run/netns/$ns" --)
	# setsid execs (no fork: a background job is not a group leader), and so
	# does nsenter, so $! is the PID of the program itself.
	setsid "${pre[@]}" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$PIDS/$name.pid"
}

stop() {
	local name=$1 pid i
	pid=$(pidof_lab "$name") || { rm -f "$PIDS/$name.pid"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$pid" 2>/dev/null && { log "$name ($pid) did not stop on TERM, killing"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; }
	rm -f "$PIDS/$name.pid"
}

# wait_until SECONDS WHAT CMD...
wait_until() {
	local t=$1 what=$2 i; shift 2
	for ((i = 0; i < t * 2; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	die "timed out after ${t}s waiting for $what"
}

kc() { "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

# ---------------------------------------------------------------- PKI
# cert NAME CN ORG EXT: key + cert signed by the lab CA.
cert() {
	local name=$1 cn=$2 org=$3 ext=$4 subj="/CN=$2"
	[[ -f $PKI/$name.crt ]] && return
	[[ -n $org ]] && subj="/O=$org/CN=$cn"
	openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/${CA:-ca}.crt" -CAkey "$PKI/${CA:-ca}.key" -CAcreateserial \
		-days 3650 -sha256 -out "$PKI/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
	rm -f "$PKI/$name.csr"
}

gen_pki() {
	[[ -f $PKI/done ]] && { node_certs; return; }
	log "generating PKI in $PKI"
	rm -rf "$PKI"; mkdir -p "$PKI"; chmod 700 "$PKI"
	local n ca
	for ca in ca front-proxy-ca; do
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/$ca.key" -out "$PKI/$ca.crt" -days 3650 \
			-subj "/CN=confrun-lab-$ca" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
	done
	local client='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
	cert apiserver kube-apiserver "" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$APISERVER_IP,IP:$KUBERNETES_SVC_IP"
	cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "$client"
	cert admin confrun-lab-admin system:masters "$client"
	cert controller-manager system:kube-controller-manager "" "$client"
	cert scheduler system:kube-scheduler "" "$client"
	cert kube-proxy system:kube-proxy "" "$client"
	node_certs
	CA=front-proxy-ca cert front-proxy-client front-proxy-client "" "$client"
	openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
	openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	touch "$PKI/done"
}

# node_certs: kubelet client and serving certificates of every node.
node_certs() {
	local n
	for n in $NODES; do
		cert "kubelet-$n" "system:node:$n" system:nodes 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
		cert "kubelet-$n-serving" "$n" "" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$n,IP:$(node_ip "$n")"
	done
}

# kubeconfig FILE USER-CERT-NAME: a kubeconfig with every certificate embedded.
# Written atomically: every node's kube_proxy_up rewrites the shared
# kube-proxy.kubeconfig while the kube-proxies started before read it.
kubeconfig() {
	local file=$1 who=$2
	cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: confrun-lab
  cluster:
    server: https://$APISERVER_IP:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $who
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$who.crt")
    client-key-data: $(base64 -w0 "$PKI/$who.key")
contexts:
- name: confrun-lab
  context: {cluster: confrun-lab, user: $who}
current-context: confrun-lab
EOF
	chmod 600 "$file.tmp"
	mv -f "$file.tmp" "$file"
}

# ---------------------------------------------------------------- network
net_up() {
	[[ -f $STATE/ip_forward.orig ]] || cat /proc/sys/net/ipv4/ip_forward >"$STATE/ip_forward.orig"
	sysctl -qw net.ipv4.ip_forward=1
	sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "warning: br_netfilter sysctls missing"
	if ! ip link show $NODE_BRIDGE >/dev/null 2>&1; then
		ip link add $NODE_BRIDGE type bridge
		ip addr add "$APISERVER_IP/24" dev $NODE_BRIDGE
	fi
	ip link set $NODE_BRIDGE up
	# Every lab address not more specifically routed is unreachable: nothing
	# addressed to the lab (e.g. a ClusterIP without endpoints) takes the
	# default route off this machine.
	ip route replace unreachable $LAB_SUPERNET metric 4000
	# Pods have no default route (see CNI config); guard forwarding as well.
	iptables -w -N $FWD_CHAIN 2>/dev/null || true
	iptables -w -F $FWD_CHAIN
	iptables -w -A $FWD_CHAIN -s $LAB_SUPERNET -d $LAB_SUPERNET -j RETURN
	iptables -w -A $FWD_CHAIN -s $LAB_SUPERNET -j DROP
	iptables -w -A $FWD_CHAIN -d $LAB_SUPERNET -j DROP
	iptables -w -C FORWARD -j $FWD_CHAIN 2>/dev/null || iptables -w -I FORWARD 1 -j $FWD_CHAIN
	# Every node: its own network namespace, a veth into the node bridge. Its
	# containerd, kubelet, kube-proxy and pods live there, with no default
	# route: a pull of an image the node lacks (e.g. registry.k8s.io/...)
	# fails on the spot instead of reaching for the internet.
	local n ns veth
	for n in $NODES; do
		ns=$(node_ns "$n") veth=$(node_veth "$n")
		if [[ ! -e /run/netns/$ns ]]; then
			ip netns add "$ns"
			ip link add "$veth" type veth peer name eth0 netns "$ns"
			ip link set "$veth" master $NODE_BRIDGE up
			ip -n "$ns" addr add "$(node_ip "$n")/24" dev eth0
			ip -n "$ns" link set eth0 up
			ip -n "$ns" link set lo up
			ip -n "$ns" route add $LAB_SUPERNET via "$APISERVER_IP" dev eth0
			ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
			ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
		fi
		ip route replace "$(node_pod_cidr "$n")" via "$(node_ip "$n")" dev $NODE_BRIDGE
	done
}

net_down() {
	local n
	for n in $ALL_NODES; do
		ip route del "$(node_pod_cidr "$n")" 2>/dev/null || true
		ip netns del "$(node_ns "$n")" 2>/dev/null || true
		ip link del "$(node_veth "$n")" 2>/dev/null || true
	done
	ip link del $NODE_BRIDGE 2>/dev/null || true
	ip route del unreachable $LAB_SUPERNET 2>/dev/null || true
	if iptables -w -L $FWD_CHAIN -n >/dev/null 2>&1; then
		while iptables -w -D FORWARD -j $FWD_CHAIN 2>/dev/null; do :; done
		iptables -w -F $FWD_CHAIN; iptables -w -X $FWD_CHAIN
	fi
	if [[ -f $STATE/ip_forward.orig ]]; then
		sysctl -qw net.ipv4.ip_forward="$(cat "$STATE/ip_forward.orig")"
		rm -f "$STATE/ip_forward.orig"
	fi
}

# ---------------------------------------------------------------- registry
registry_port() {
	if [[ -f $STATE/registry.port ]]; then cat "$STATE/registry.port"; return; fi
	local p
	for ((p = 5055; p < 5155; p++)); do
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && ! ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p" >"$STATE/registry.port"; echo "$p"; return
		fi
	done
	die "no free port for the registry in 5055-5154"
}

registry_up() {
	local port=$1 addr name
	mkdir -p "$VAR/registry/data"
	# Two docker-registry processes serve one storage directory: 127.0.0.1
	# (the name in every image reference) and the node bridge address, which
	# the nodes' containerds use (127.0.0.1 inside a node's namespace is its own).
	for addr in 127.0.0.1 "$APISERVER_IP"; do
		name=registry-${addr//./-}
		cat >"$VAR/registry/$name.yml" <<EOF
version: 0.1
log: {level: warn, formatter: text}
storage:
  filesystem: {rootdirectory: $VAR/registry/data}
  delete: {enabled: true}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: "$addr:$port"}
EOF
		start "$name" - /usr/bin/docker-registry serve "$VAR/registry/$name.yml"
	done
	wait_until 30 "registry on 127.0.0.1:$port" curl -fsS "http://127.0.0.1:$port/v2/"
	wait_until 30 "registry on $APISERVER_IP:$port" curl -fsS "http://$APISERVER_IP:$port/v2/"
}

# ---------------------------------------------------------------- node runtime
containerd_up() {
	local n=$1 port=$2 short=${1#lab-} ns
	ns=$(node_ns "$n")
	local root=$VAR/$short/containerd state=$RUN/$short/containerd etc=$VAR/$short/etc
	mkdir -p "$root" "$state" "$etc/certs.d/127.0.0.1:$port" "$etc/net.d" "$VAR/$short/cni-ipam"
	local reghost=$APISERVER_IP
	cat >"$etc/certs.d/127.0.0.1:$port/hosts.toml" <<EOF
server = "http://$reghost:$port"
[host."http://$reghost:$port"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOF
	cat >"$etc/net.d/10-crlab.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "crlab",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "crlab-cni$(node_idx "$n")",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$VAR/$short/cni-ipam",
        "ranges": [[{"subnet": "$(node_pod_cidr "$n")", "gateway": "$(node_pod_gw "$n")"}]],
        "routes": [{"dst": "$LAB_SUPERNET"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
	cat >"$etc/containerd.toml" <<EOF
version = 2
root = "$root"
state = "$state"
[grpc]
  address = "$(node_sock "$n")"
[ttrpc]
  address = "$(node_sock "$n").ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "127.0.0.1:$port/cke/kubernetes/pause-mips64el:3.10.1"
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$etc/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$etc/certs.d"
EOF
	start "containerd-$short" "$ns" /usr/bin/containerd --config "$etc/containerd.toml"
	wait_until 30 "containerd of $n" test -S "$(node_sock "$n")"
}

# cgroup v1: the kubelet's cgroupRoot must exist in every hierarchy, with
# cpuset.cpus/mems filled in.
cgroup_root() {
	local name=$1 h
	for h in /sys/fs/cgroup/*/; do
		[[ -d $h && $h != */unified/ ]] || continue
		mkdir -p "$h$name" 2>/dev/null || true
	done
	if [[ -d /sys/fs/cgroup/cpuset/$name ]]; then
		cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$name/cpuset.cpus"
		cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$name/cpuset.mems"
	fi
}

kubelet_up() {
	local n=$1 short=${1#lab-} ns
	ns=$(node_ns "$n")
	local dir=$VAR/$short/kubelet cg=crlab-$short
	mkdir -p "$dir" "$VAR/$short/pod-logs"
	cgroup_root "$cg"
	kubeconfig "$VAR/$short/kubelet.kubeconfig" "kubelet-$n"
	cat >"$VAR/$short/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $(node_ip "$n")
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-$n-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-$n-serving.key
cgroupDriver: cgroupfs
cgroupRoot: /$cg
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$(node_sock "$n")
clusterDNS: [$DNS_SVC_IP]
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: $VAR/$short/pod-logs
serializeImagePulls: false
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard: {memory.available: "200Mi", nodefs.available: "5%", imagefs.available: "5%"}
maxPods: 110
rotateCertificates: false
EOF
	local kubelet=$BIN/kubelet
	# The mips64le kubelet runs under qemu-user (binfmt F flag); it registers
	# the node with kubernetes.io/arch=mips64le (its own GOARCH).
	is_mips "$n" && kubelet=$CACHE/bin/mips64le/kubelet
	start "kubelet-$short" "$ns" "$kubelet" --config "$VAR/$short/kubelet.yaml" \
		--kubeconfig "$VAR/$short/kubelet.kubeconfig" --hostname-override "$n" --node-ip "$(node_ip "$n")" \
		--root-dir "$dir" --v=2
}

kube_proxy_up() {
	local n=$1 short=${1#lab-} ns
	ns=$(node_ns "$n")
	kubeconfig "$VAR/kube-proxy.kubeconfig" kube-proxy
	cat >"$VAR/$short/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $VAR/kube-proxy.kubeconfig}
hostnameOverride: $n
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $(node_ip "$n")
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
	start "kube-proxy-$short" "$ns" "$BIN/kube-proxy" --config "$VAR/$short/kube-proxy.yaml" --v=2
}

# ---------------------------------------------------------------- control plane
control_plane_up() {
	mkdir -p "$VAR/etcd"
	start etcd - /usr/bin/etcd --name lab --data-dir "$VAR/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster lab=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
		--quota-backend-bytes 4294967296 --logger zap
	wait_until 60 etcd curl -fsS http://127.0.0.1:2379/health
	start kube-apiserver - "$BIN/kube-apiserver" \
		--etcd-servers=http://127.0.0.1:2379 \
		--bind-address="$APISERVER_IP" --advertise-address="$APISERVER_IP" --secure-port=$APISERVER_PORT \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$PKI/ca.crt" \
		--kubelet-preferred-address-types=InternalIP,Hostname \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range=$SERVICE_CIDR \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--allow-privileged=true \
		--enable-aggregator-routing=true \
		--requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
		--requestheader-allowed-names=front-proxy-client \
		--requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
		--requestheader-username-headers=X-Remote-User \
		--proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
		--v=1
	wait_until 120 kube-apiserver kc get --raw /readyz
	kubeconfig "$VAR/controller-manager.kubeconfig" controller-manager
	kubeconfig "$VAR/scheduler.kubeconfig" scheduler
	start kube-controller-manager - "$BIN/kube-controller-manager" \
		--kubeconfig="$VAR/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$VAR/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$VAR/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false \
		--root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--use-service-account-credentials=true --service-cluster-ip-range=$SERVICE_CIDR \
		--controllers='*,bootstrapsigner,tokencleaner' --v=1
	start kube-scheduler - "$BIN/kube-scheduler" \
		--kubeconfig="$VAR/scheduler.kubeconfig" \
		--authentication-kubeconfig="$VAR/scheduler.kubeconfig" \
		--authorization-kubeconfig="$VAR/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false --v=1
}

# ---------------------------------------------------------------- images
images_push() {
	local port=$1
	ensure_busybox_mips
	build_aux imgtool "$LAB_DIR/imgtool" . imgtool amd64
	"$BIN/imgtool" -cache "$CACHE/images" -bin "$CACHE/bin" \
		-busybox-amd64 /bin/busybox -busybox-mips64le "$CACHE/debs/mips64el/bin/busybox" \
		-agnhost-files "$(cd "$LAB_DIR" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/test/images/agnhost/porter" \
		-registry "127.0.0.1:$port" -out "$STATE/images.json" >>"$LOGS/imgtool.log" 2>&1 ||
		die "building/pushing images failed, see $LOGS/imgtool.log"
}

# forget_stale_images NODE: containerd roots outlive lab-down; drop any lab
# image whose name now points at another digest than the registry's, so that
# IfNotPresent pulls the current content.
forget_stale_images() {
	local n=$1 sock name digest want
	sock=$(node_sock "$n")
	in_node "$n" ctr -a "$sock" -n k8s.io images ls 2>/dev/null | awk 'NR > 1 {print $1, $3}' |
		while read -r name digest; do
			want=$(jq -r --arg r "$name" '.[] | select(.ref == $r) | .digest' "$STATE/images.json")
			if [[ -n $want && $want != "$digest" ]]; then
				in_node "$n" ctr -a "$sock" -n k8s.io images rm "$name" >/dev/null 2>&1 || true
			fi
		done
}

image_ref() { jq -r --arg n "$1" '.[] | select(.name == $n) | .ref' "$STATE/images.json"; }

addons_up() {
	local coredns
	coredns=$(image_ref coredns)
	sed -e "s|@IMAGE@|$coredns|g" -e "s|@DNS_IP@|$DNS_SVC_IP|g" "$LAB_DIR/manifests/coredns.yaml" | kc apply -f - >/dev/null
}

# ---------------------------------------------------------------- verbs
write_env() {
	local port=$1
	cat >"$STATE/env" <<EOF
LAB_KUBECONFIG=$STATE/kubeconfig
LAB_REGISTRY=127.0.0.1:$port
LAB_BIN_DIR=$BIN
LAB_K8S_VERSION=$K8S_VERSION
LAB_NODES="$NODES"
LAB_IMAGES_JSON=$STATE/images.json
LAB_APISERVER=https://$APISERVER_IP:$APISERVER_PORT
LAB_CONTAINERD_SOCKETS="$(for n in $NODES; do printf '%s=%s ' "$n" "$(node_sock "$n")"; done | sed 's/ $//')"
LAB_NODE_NETNS="$(for n in $NODES; do printf '%s=%s ' "$n" "$(node_ns "$n")"; done | sed 's/ $//')"
LAB_POD_CIDR=$POD_CIDR
LAB_SERVICE_CIDR=$SERVICE_CIDR
LAB_DNS_IP=$DNS_SVC_IP
LAB_CACHE_DIR=$CACHE
EOF
}

CONTROL_PROCS="etcd kube-apiserver kube-controller-manager kube-scheduler registry-127-0-0-1 registry-${APISERVER_IP//./-}"

all_running() {
	local p
	for p in $CONTROL_PROCS $(node_procs $NODES); do
		running "$p" || return 1
	done
	[[ -f $STATE/kubeconfig ]] && kc get --raw /readyz >/dev/null 2>&1
}

usage_hint() {
	cat <<EOF
The lab is up: nodes $NODES, Kubernetes $K8S_VERSION.
  export KUBECONFIG=$STATE/kubeconfig        # admin, certificates embedded
  source $STATE/env                          # LAB_REGISTRY, LAB_BIN_DIR, ...
  $BIN/kubectl --kubeconfig $STATE/kubeconfig get nodes -o wide
Images (lab registry 127.0.0.1:$(cat "$STATE/registry.port")): $STATE/images.json
Stop everything with: make lab-down
EOF
}

# The lab uses machine-wide names (bridge, netns, /var/lib/confrun-lab), so
# one lab runs per machine: $VAR/owner names the checkout whose lab it is.
# A lab whose processes are all gone (the session or machine that ran it
# stopped without lab-down) leaves pidfiles, links and mounts behind: then
# this checkout clears them and takes over.
check_owner() {
	local owner f pid
	STALE_OWNER=
	owner=$(cat "$VAR/owner" 2>/dev/null) || return 0
	[[ $owner == "$STATE" ]] && return 0
	for f in "$owner"/pids/*.pid; do
		[[ -e $f ]] || continue
		pid=$(cat "$f" 2>/dev/null) || continue
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
			die "a lab started from another checkout is running ($owner); run 'make lab-down' there first"
		fi
	done
	log "the lab started from $owner is no longer running: clearing what it left behind"
	STALE_OWNER=1
}

cmd_up() {
	local t0=$SECONDS
	mkdir -p "$STATE" "$PIDS" "$LOGS"
	check_owner
	if [[ -n $STALE_OWNER ]]; then
		cmd_down
		mkdir -p "$STATE" "$PIDS" "$LOGS"
	fi
	if all_running; then
		log "lab already running"
		kc get nodes -o wide
		usage_hint
		return
	fi
	if ls "$PIDS"/*.pid >/dev/null 2>&1; then
		log "found a partial lab: stopping it first"
		cmd_down
		mkdir -p "$STATE" "$PIDS" "$LOGS"
	fi
	ensure_packages
	build_all
	if has_mips; then build_kubelet_mips; fi
	mkdir -p "$VAR"; echo "$STATE" >"$VAR/owner"
	gen_pki
	kubeconfig "$STATE/kubeconfig" admin
	local port
	port=$(registry_port)
	write_env "$port"
	net_up
	registry_up "$port"
	images_push "$port"
	control_plane_up
	local n
	for n in $NODES; do containerd_up "$n" "$port"; forget_stale_images "$n"; done
	for n in $NODES; do kubelet_up "$n"; done
	for n in $NODES; do kube_proxy_up "$n"; done
	log "waiting for nodes to register"
	# The emulated kubelet starts several times slower than a native one.
	for n in $NODES; do wait_until "$(is_mips "$n" && echo 300 || echo 120)" "node $n to register" kc get node "$n"; done
	for n in $NODES; do
		kc patch node "$n" --type merge -p "{\"spec\":{\"podCIDR\":\"$(node_pod_cidr "$n")\",\"podCIDRs\":[\"$(node_pod_cidr "$n")\"]}}" >/dev/null 2>&1 || true
	done
	addons_up
	wait_until "$(has_mips && echo 300 || echo 180)" "nodes Ready" kc wait --for=condition=Ready node --all --timeout=5s
	wait_until 180 "CoreDNS Ready" kc -n kube-system wait --for=condition=Available deploy/coredns --timeout=5s
	log "lab up in $((SECONDS - t0))s"
	echo "$((SECONDS - t0))" >"$STATE/last-up-seconds"
	kc get nodes -o wide
	usage_hint
}

# Stop and remove every pod sandbox through CRI, so that CNI DEL runs
# (veths, IPAM, portmap rules) and mounts go away.
remove_pods() {
	local n sock
	for n in $ALL_NODES; do
		sock=$(node_sock "$n")
		[[ -S $sock ]] && running "containerd-${n#lab-}" || continue
		[[ -x $BIN/labcri ]] || continue
		in_node "$n" "$BIN/labcri" -runtime-endpoint "unix://$sock" -remove-all || log "warning: removing pods on $n failed"
	done
}

# Kill any containerd shim whose -address is one of our sockets (they outlive
# containerd by design). Matched by PID from /proc, never by name.
kill_shims() {
	local f pid cmd
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}; pid=${pid%/cmdline}
		cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
		if [[ $cmd == *containerd-shim* && $cmd == *"-address $RUN/"* ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
	done
}

unmount_all() {
	local m
	# Deepest first.
	for m in $(awk -v a="$VAR" -v b="$RUN" '$5 ~ "^"a || $5 ~ "^"b {print $5}' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount $m"
	done
}

# The kubelet (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) and the
# CNI portmap plugin (CNI-HOSTPORT-*) leave chains behind in the host
# namespace, in iptables and ip6tables; the lab is the only kubelet and CNI
# user on this machine, so they are ours. kube-proxy --cleanup ran before.
chains_cleanup() {
	local ipt t rule c
	for ipt in iptables ip6tables; do
		command -v $ipt >/dev/null || continue
		for t in filter nat mangle; do
			{ $ipt -w -t "$t" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j (KUBE|CNI)-' || true; } | while read -r rule; do
				eval "$ipt -w -t $t ${rule/-A /-D }" 2>/dev/null || true
			done
			for c in $($ipt -w -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ {print $2}'); do
				$ipt -w -t "$t" -F "$c" 2>/dev/null || true
			done
			for c in $($ipt -w -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ {print $2}'); do
				$ipt -w -t "$t" -X "$c" 2>/dev/null || true
			done
		done
	done
}

cmd_down() {
	mkdir -p "$STATE" "$PIDS" "$LOGS"
	remove_pods
	local p rev
	rev=$(printf '%s\n' $ALL_NODES | tac | sed 's/^lab-//')
	for p in $rev; do stop "kube-proxy-$p"; done
	for p in $rev; do stop "kubelet-$p"; done
	remove_pods
	for p in $rev; do stop "containerd-$p"; done
	kill_shims
	for p in kube-scheduler kube-controller-manager kube-apiserver etcd registry-127-0-0-1 "registry-${APISERVER_IP//./-}"; do stop "$p"; done
	# Any other pidfile is ours too.
	for p in "$PIDS"/*.pid; do if [[ -e $p ]]; then stop "$(basename "$p" .pid)"; fi; done
	# kube-proxy's iptables rules in the host namespace (node-2's die with its namespace).
	[[ -x $BIN/kube-proxy ]] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
	chains_cleanup
	unmount_all
	net_down
	# Fresh cluster state next time; keep containerd image content and the registry.
	local n h
	for n in $ALL_NODES; do rm -rf "$VAR/${n#lab-}/kubelet" "$VAR/${n#lab-}/pod-logs" "$VAR/${n#lab-}/cni-ipam"; done
	rm -rf "$VAR/etcd" "$RUN"
	for h in /sys/fs/cgroup/*/; do
		for p in $ALL_NODES; do
			p=crlab-${p#lab-}
			[[ -d $h$p ]] && find "$h$p" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
	done
	rm -f "$STATE/kubeconfig" "$STATE/env"
	rm -rf "$PKI"
	[[ $(cat "$VAR/owner" 2>/dev/null) == "$STATE" ]] && rm -f "$VAR/owner"
	log "lab down"
}

cmd_status() {
	local p pid
	echo "components:"
	for p in $CONTROL_PROCS $(node_procs $NODES); do
		if pid=$(pidof_lab "$p"); then printf '  %-28s running (pid %s)\n' "$p" "$pid"; else printf '  %-28s stopped\n' "$p"; fi
	done
	if [[ -f $STATE/kubeconfig ]] && kc get --raw /readyz >/dev/null 2>&1; then
		echo "nodes:"; kc get nodes -o wide | sed 's/^/  /'
		echo "kube-system pods:"; kc -n kube-system get pods -o wide | sed 's/^/  /'
		[[ -f $STATE/env ]] && { echo "env ($STATE/env):"; sed 's/^/  /' "$STATE/env"; }
		all_running || { echo "lab: some components are not running"; return 1; }
	else
		echo "apiserver: not reachable"
		return 1
	fi
}

has_mips() { [[ " $NODES " == *" $MIPS_NODE "* ]]; }

main() {
	[[ $(id -u) == 0 ]] || die "the lab needs root"
	# lab-mips-1 is part of the lab when asked for (LAB_MIPS=1) or, for the
	# verbs that act on a running lab, when that lab started it.
	if [[ ${LAB_MIPS:-0} == 1 ]] || { [[ ${1:-} != up && ${LAB_MIPS:-} != 0 ]] && [[ -f $PIDS/kubelet-${MIPS_NODE#lab-}.pid ]]; }; then
		NODES="$NODES $MIPS_NODE"
	fi
	case ${1:-} in
	build) mkdir -p "$STATE" "$LOGS"; ensure_packages; ensure_busybox_mips; build_all; if has_mips; then build_kubelet_mips; fi ;;
	packages) mkdir -p "$STATE" "$LOGS"; ensure_packages; ensure_busybox_mips ;;
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	e2e-sample) shift; source "$LAB_DIR/e2e-sample.sh"; e2e_sample "$@" ;;
	check) source "$LAB_DIR/check.sh"; lab_check ;;
	*) die "usage: $0 build|up|down|status|e2e-sample [NAME [FOCUS]]|check" ;;
	esac
}

[[ ${LAB_SOURCE_ONLY:-0} == 1 ]] || main "$@"
