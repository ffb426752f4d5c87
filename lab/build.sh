#!/usr/bin/env bash
# Builds the lab's pinned Kubernetes programs (and later its images) into the
# version-keyed cache outside the checkout. Sourced by lab.sh; runnable alone:
#   lab/build.sh [all|k8s|mips|sonobuoy|coredns]
set -euo pipefail

LAB_DIR=${LAB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
K8S_VERSION=${K8S_VERSION:-v1.34.4}
SONOBUOY_VERSION=${SONOBUOY_VERSION:-v0.57.3}
# Bump when the way things are built changes (flags, file layout, contents).
LAB_RECIPE=${LAB_RECIPE:-3}
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/confrun-lab
CACHE=$CACHE_ROOT/$K8S_VERSION

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# key NAME FILES... : a hash of the recipe, toolchain and the given inputs.
key() {
	local name=$1; shift
	{ echo "recipe=$LAB_RECIPE name=$name k8s=$K8S_VERSION sonobuoy=$SONOBUOY_VERSION"; go version; cat "$@"; } | sha256sum | cut -c1-16
}
# fresh NAME KEY: true when the cache already holds NAME built with KEY.
fresh() { [[ -f $CACHE/stamps/$1 && $(cat "$CACHE/stamps/$1") == "$2" ]]; }
stamp() { mkdir -p "$CACHE/stamps"; echo "$2" >"$CACHE/stamps/$1"; }

k8s_ldflags() {
	local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
	local date=${BUILD_DATE:-2026-02-10T12:53:36Z} f=()
	# The module proxy zip carries no git metadata: gitCommit names the source.
	local -A kv=([gitVersion]=$K8S_VERSION [gitMajor]=1 [gitMinor]=$minor
		[gitCommit]="module-proxy-k8s.io/kubernetes@$K8S_VERSION" [gitTreeState]=clean [buildDate]=$date)
	for k in "${!kv[@]}"; do
		f+=("-X 'k8s.io/component-base/version.$k=${kv[$k]}'" "-X 'k8s.io/client-go/pkg/version.$k=${kv[$k]}'")
	done
	echo "-s -w ${f[*]}"
}

# build_k8s ARCH PROGRAMS...: go build + go test -c (e2e.test) from lab/go.mod.
build_k8s() {
	local arch=$1; shift
	local out=$CACHE/bin/$arch k
	k=$(key "k8s-$arch-$*" "$LAB_DIR/go.mod" "$LAB_DIR/go.sum" "$LAB_DIR/pause/main.go" "$LAB_DIR/labcri/main.go")
	if fresh "k8s-$arch" "$k"; then log "k8s $arch programs: cached in $out"; return; fi
	mkdir -p "$out"
	local ldf pkgs=() want_e2e=0 p t0=$SECONDS
	ldf=$(k8s_ldflags)
	for p in "$@"; do
		case $p in
		e2e.test) want_e2e=1 ;;
		ginkgo) pkgs+=(github.com/onsi/ginkgo/v2/ginkgo) ;;
		go-runner) pkgs+=(k8s.io/kubernetes/test/conformance/image/go-runner) ;;
		agnhost) pkgs+=(k8s.io/kubernetes/test/images/agnhost) ;;
		pause) pkgs+=(github.com/confrun/confrun/lab/pause) ;;
		labcri) pkgs+=(github.com/confrun/confrun/lab/labcri) ;;
		*) pkgs+=("k8s.io/kubernetes/cmd/$p") ;;
		esac
	done
	log "building $arch: $* (this is the slow part on a cold cache)"
	(cd "$LAB_DIR" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch nice go build -trimpath -ldflags "$ldf" -o "$out/" "${pkgs[@]}")
	if ((want_e2e)); then
		(cd "$LAB_DIR" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch nice go test -c -trimpath -ldflags "$ldf" -o "$out/e2e.test" k8s.io/kubernetes/test/e2e)
	fi
	stamp "k8s-$arch" "$k"
	log "built $arch programs in $((SECONDS - t0))s"
}

# build_aux NAME MODDIR PKG BIN ARCHES: programs from a separate pinned module
# (sonobuoy, coredns), kept out of lab/go.mod so their dependencies do not
# move Kubernetes' ones.
build_aux() {
	local name=$1 dir=$2 pkg=$3 bin=$4 arches=$5 k arch t0=$SECONDS
	k=$(key "$name-$arches-$pkg" "$dir/go.mod" "$dir/go.sum" $(find "$dir" -name '*.go' | sort))
	if fresh "$name" "$k"; then log "$name: cached"; return; fi
	for arch in $arches; do
		mkdir -p "$CACHE/bin/$arch"
		log "building $name for $arch"
		(cd "$dir" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch nice go build -trimpath -ldflags "-s -w ${AUX_LDFLAGS:-}" -o "$CACHE/bin/$arch/$bin" "$pkg")
	done
	stamp "$name" "$k"
	log "built $name in $((SECONDS - t0))s"
}

HOST_PROGRAMS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl ginkgo go-runner agnhost pause labcri e2e.test"
IMAGE_PROGRAMS="kubectl ginkgo go-runner agnhost pause e2e.test"

build_all() {
	local t0=$SECONDS
	build_k8s amd64 $HOST_PROGRAMS
	build_aux coredns "$LAB_DIR/third/coredns" . coredns amd64
	build_aux dig "$LAB_DIR/third/coredns" ./dig dig "amd64 mips64le"
	build_aux nc "$LAB_DIR/third/coredns" ./nc nc "amd64 mips64le"
	build_aux imgtool "$LAB_DIR/imgtool" . imgtool amd64
	AUX_LDFLAGS="-X github.com/vmware-tanzu/sonobuoy/pkg/buildinfo.Version=$SONOBUOY_VERSION" \
		build_aux sonobuoy "$LAB_DIR/third/sonobuoy" github.com/vmware-tanzu/sonobuoy sonobuoy "amd64 mips64le"
	build_k8s mips64le $IMAGE_PROGRAMS
	log "all programs ready in $CACHE/bin ($((SECONDS - t0))s)"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	case ${1:-all} in
	all) build_all ;;
	k8s) build_k8s amd64 $HOST_PROGRAMS ;;
	mips) build_k8s mips64le $IMAGE_PROGRAMS ;;
	sonobuoy) AUX_LDFLAGS="-X github.com/vmware-tanzu/sonobuoy/pkg/buildinfo.Version=$SONOBUOY_VERSION" build_aux sonobuoy "$LAB_DIR/third/sonobuoy" github.com/vmware-tanzu/sonobuoy sonobuoy "amd64 mips64le" ;;
	coredns) build_aux coredns "$LAB_DIR/third/coredns" . coredns amd64 ;;
	nc) build_aux nc "$LAB_DIR/third/coredns" ./nc nc "amd64 mips64le" ;;
	dig) build_aux dig "$LAB_DIR/third/coredns" ./dig dig "amd64 mips64le" ;;
	imgtool) build_aux imgtool "$LAB_DIR/imgtool" . imgtool amd64 ;;
	*) die "usage: $0 [all|k8s|mips|sonobuoy|coredns]" ;;
	esac
fi
