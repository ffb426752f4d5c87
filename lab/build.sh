#!/usr/bin/env bash
# Builds the lab's pinned Kubernetes programs (and later its images) into the
# version-keyed cache outside the checkout. Sourced by lab.sh; runnable alone:
#   lab/build.sh [all|k8s|mips|kubelet-mips|test-overlay|sonobuoy|coredns]
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

# Emulation workarounds for the mips64le kubelet (see README, "The mips64le
# node"), applied through `go build -overlay` to one file of a package each:
#   lab/mips/_overlay/<import path>/<file>.go        replaces that file;
#   lab/mips/_overlay/<import path>/<file>.go.patch  a diff applied to
#     upstream's file (into $OVERLAY_DIR/gen/) to make the replacement.
# The go command refuses to overlay files inside the module cache, so the
# module holding such a package is first copied verbatim to
# $CACHE/overlay/src/<module>@<version> and replaced by that directory in a
# copy of lab/go.mod (-modfile); the overlay then swaps the file in the copy,
# which itself stays upstream's bytes.
OVERLAY_DIR=$CACHE/overlay

# mips_overlay_prepare: writes $OVERLAY_DIR/go.mod (+go.sum) and
# $OVERLAY_DIR/overlay.json; prints the overlaid package import paths.
mips_overlay_prepare() {
	local f rel pkg file mod ver dir copy sep="" pkgs=()
	mkdir -p "$OVERLAY_DIR/src"
	cp "$LAB_DIR/go.mod" "$OVERLAY_DIR/go.mod"
	cp "$LAB_DIR/go.sum" "$OVERLAY_DIR/go.sum"
	{
		printf '{"Replace": {'
		while IFS= read -r f; do
			rel=${f#"$LAB_DIR/mips/_overlay/"}
			pkg=$(dirname "$rel") file=$(basename "${rel%.patch}")
			read -r mod ver dir < <(cd "$LAB_DIR" && go list -f '{{.Module.Path}} {{.Module.Version}} {{.Module.Dir}}' "$pkg") ||
				die "overlay $rel: package $pkg is not in lab/go.mod's build list"
			[[ -f $dir${pkg#"$mod"}/$file ]] || die "overlay $rel: $dir${pkg#"$mod"} has no $file to replace"
			copy=$OVERLAY_DIR/src/$mod@$ver
			if [[ ! -f $copy/.complete ]]; then
				mkdir -p "$copy" && cp -R "$dir/." "$copy/" && chmod -R u+w "$copy" || die "copying $mod@$ver"
				[[ -f $copy/go.mod ]] || echo "module $mod" >"$copy/go.mod"
				touch "$copy/.complete"
			fi
			go mod edit -replace "$mod=$copy" "$OVERLAY_DIR/go.mod"
			if [[ $f == *.patch ]]; then
				mkdir -p "$OVERLAY_DIR/gen/$pkg"
				patch --quiet --force -o "$OVERLAY_DIR/gen/$pkg/$file" "$copy${pkg#"$mod"}/$file" "$f" >&2 ||
					die "overlay $rel does not apply to $mod@$ver"
				f=$OVERLAY_DIR/gen/$pkg/$file
			fi
			printf '%s\n  "%s": "%s"' "$sep" "$copy${pkg#"$mod"}/$file" "$f"
			sep=, pkgs+=("$pkg")
		done < <(overlay_sources)
		printf '\n}}\n'
	} >"$OVERLAY_DIR/overlay.json"
	printf '%s\n' "${pkgs[@]}" | sort -u
}

overlay_sources() { find "$LAB_DIR/mips/_overlay" -type f \( -name '*.go' -o -name '*.go.patch' \) | sort; }

# mips_go CMD ARGS...: `go CMD` for linux/mips64le with the overlay.
mips_go() {
	local cmd=$1; shift
	(cd "$LAB_DIR" && CGO_ENABLED=0 GOOS=linux GOARCH=mips64le nice go "$cmd" -modfile "$OVERLAY_DIR/go.mod" \
		-overlay "$OVERLAY_DIR/overlay.json" "$@")
}

# build_kubelet_mips: the kubelet of the emulated lab-mips-1 node,
# GOARCH=mips64le with the overlay, into bin/mips64le/kubelet.
build_kubelet_mips() {
	local out=$CACHE/bin/mips64le k t0=$SECONDS
	k=$(key kubelet-mips64le "$LAB_DIR/go.mod" "$LAB_DIR/go.sum" $(overlay_sources))
	if fresh kubelet-mips64le "$k" && [[ -x $out/kubelet ]]; then log "kubelet mips64le: cached in $out"; return; fi
	mips_overlay_prepare >/dev/null
	mkdir -p "$out"
	log "building the mips64le kubelet (overlay $OVERLAY_DIR/overlay.json)"
	mips_go build -trimpath -ldflags "$(k8s_ldflags)" -o "$out/kubelet" k8s.io/kubernetes/cmd/kubelet
	stamp kubelet-mips64le "$k"
	log "built the mips64le kubelet in $((SECONDS - t0))s"
}

# test_overlay: upstream's own tests of every overlaid package, built for
# mips64le with the overlay and run emulated (qemu-user via binfmt).
test_overlay() {
	local pkgs
	pkgs=$(mips_overlay_prepare)
	# fsnotify's TestAdd/permission_denied expects EACCES from a chmod 000
	# directory: as root there is none (it fails natively as root too).
	# shellcheck disable=SC2086
	mips_go test -count=1 -skip 'TestAdd/permission_denied' $pkgs
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
	kubelet-mips) build_kubelet_mips ;;
	test-overlay) test_overlay ;;
	sonobuoy) AUX_LDFLAGS="-X github.com/vmware-tanzu/sonobuoy/pkg/buildinfo.Version=$SONOBUOY_VERSION" build_aux sonobuoy "$LAB_DIR/third/sonobuoy" github.com/vmware-tanzu/sonobuoy sonobuoy "amd64 mips64le" ;;
	coredns) build_aux coredns "$LAB_DIR/third/coredns" . coredns amd64 ;;
	nc) build_aux nc "$LAB_DIR/third/coredns" ./nc nc "amd64 mips64le" ;;
	dig) build_aux dig "$LAB_DIR/third/coredns" ./dig dig "amd64 mips64le" ;;
	imgtool) build_aux imgtool "$LAB_DIR/imgtool" . imgtool amd64 ;;
	*) die "usage: $0 [all|k8s|mips|kubelet-mips|test-overlay|sonobuoy|coredns]" ;;
	esac
fi
