#!/usr/bin/env bash
# make demo [ARCH=amd64|mips64el]: the whole confrun pipeline against the
# local lab cluster, each step's own output shown:
#
#   images map -> images verify -> doctor -> prepull -> run -> submit init ->
#   verify -> submit --dry-run
#
# The lab builds only the images its demo focus needs (pause, busybox,
# agnhost, the conformance and sonobuoy images), as amd64+mips64le indexes
# under a MIPS team's names. So `images verify` and `prepull` really report the
# other e2e images as missing, and `verify` really fails the coverage and
# focus rules of a small focus: the demo checks that exactly those expected
# things fail and that everything the focus needs works.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:-amd64}
CONFRUN=$PWD/bin/confrun
# Specs that need only agnhost, busybox and pause; under 10 minutes on the lab.
DEMO_FOCUS=${DEMO_FOCUS:-'(Pods should get a host IP|Pods should be submitted and removed|Downward API should provide pod name, namespace and IP address as env vars|Kubectl client Kubectl version should check is all data is printed|DNS should provide DNS for services).*\[Conformance\]'}
NEEDED=(pause busybox agnhost conformance sonobuoy)

bold() { if [ -t 1 ]; then printf '\n\033[1m%s\033[0m\n' "$*"; else printf '\n%s\n' "$*"; fi; }
step() { bold "== [$(date +%H:%M:%S)] $*"; }
die() { echo "demo: $*" >&2; exit 1; }

case "$ARCH" in
amd64 | x86_64) ARCH=amd64 ;;
mips64el | mips64le)
	ARCH=mips64el
	export LAB_MIPS=1
	;;
*) die "ARCH=$ARCH: the lab has amd64 nodes and (LAB_MIPS=1) an emulated mips64el node" ;;
esac
[ -x "$CONFRUN" ] || die "$CONFRUN is missing: run make build"
command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }

step "lab: bring up the local cluster (built from source, cached after the first time)"
make -s lab-status >/dev/null 2>&1 || make lab-up
# shellcheck disable=SC1091
source lab/.state/env
export KUBECONFIG=$LAB_KUBECONFIG
KUBECTL=$LAB_BIN_DIR/kubectl
if [ "$ARCH" = mips64el ] && ! "$KUBECTL" get node lab-mips-1 >/dev/null 2>&1; then
	make lab-up LAB_MIPS=1 # adds the emulated mips64le node
	source lab/.state/env
fi
RELEASE=v${LAB_K8S_VERSION#v}
RELEASE=${RELEASE%.*}
PRODUCT=lab-$ARCH
DIR=results/$RELEASE/$PRODUCT
MAP=$DIR/imagemap.yaml
mkdir -p "$DIR"
"$KUBECTL" get nodes -L kubernetes.io/arch

step "1/8 confrun images map: upstream e2e images of $RELEASE -> the lab registry's $ARCH builds"
"$CONFRUN" images map --arch "$ARCH" --release "$RELEASE" --kubernetes-version "$LAB_K8S_VERSION" \
	--default-registry "$LAB_REGISTRY" \
	--rule 'registry.k8s.io={{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-mips64el:{{.Tag}}' \
	--rule 'docker.io/sonobuoy={{.DefaultRegistry}}/cke/sonobuoy/{{.Name}}-mips64el:{{.Tag}}' \
	--out "$MAP" --force | tail -n 3

step "2/8 confrun images verify: does each image exist for linux/$ARCH?"
"$CONFRUN" images verify --imagemap "$MAP" --insecure-registry "$LAB_REGISTRY" -o json >"$DIR/images-verify.json" || true
"$CONFRUN" images verify --imagemap "$MAP" --insecure-registry "$LAB_REGISTRY" | tail -n 4 || true
for name in "${NEEDED[@]}"; do
	st=$(jq -r --arg n "$name" '[.images[] | select(.target | test("/" + $n + "-[^/]*:"))] | first | .status // "absent"' "$DIR/images-verify.json")
	[ "$st" = ok ] || die "the demo needs the lab's $name image, but images verify says: $st"
done
echo "every image the demo focus needs is ok; the others are missing because the lab does not build them"

step "3/8 confrun doctor: what stands between the nodes and a passing run"
# With the map: do its images hold each node's arch, is there disk for them.
"$CONFRUN" doctor --helper-registry "$LAB_REGISTRY" --imagemap "$MAP" --insecure-registry "$LAB_REGISTRY" ||
	echo "(doctor found failures: the map's images that the lab does not build, see step 2)"

step "4/8 confrun prepull --mode node: every image on every node, also under its upstream name"
SOCKETS=()
for pair in $LAB_CONTAINERD_SOCKETS; do SOCKETS+=(--containerd-socket "$pair"); done
"$CONFRUN" prepull --imagemap "$MAP" --mode node "${SOCKETS[@]}" --helper-registry "$LAB_REGISTRY" --force ||
	echo "(prepull could not place the images the lab does not build; see above)"

step "5/8 confrun run --arch $ARCH: sonobuoy with the demo focus"
if [ "$ARCH" = mips64el ]; then
	# The e2e suite's own test pods have no arch selector: in this mixed lab
	# they would land on the amd64 nodes. A porting team's cluster is all
	# mips64el; cordoning the amd64 nodes for the run makes the lab so.
	AMD64_NODES=$("$KUBECTL" get nodes -l kubernetes.io/arch=amd64 -o name)
	trap '"$KUBECTL" uncordon $AMD64_NODES >/dev/null' EXIT
	"$KUBECTL" cordon $AMD64_NODES
fi
"$CONFRUN" run --arch "$ARCH" --product "$PRODUCT" --imagemap "$MAP" --focus "$DEMO_FOCUS" --timeout 20m --force
# The results are on disk: remove the run from the cluster.
"$CONFRUN" run --cleanup
if [ "$ARCH" = mips64el ]; then
	"$KUBECTL" uncordon $AMD64_NODES
	trap - EXIT
	if grep -q 'lab-mips-1' "$DIR/e2e.log"; then echo "the e2e.log shows the test pods on lab-mips-1"; fi
fi

step "6/8 confrun submit init: PRODUCT.yaml and README.md"
"$CONFRUN" submit init --product "$PRODUCT" --release "$RELEASE" --no-prompt --force --arch "$ARCH" \
	--vendor "confrun lab" --name "confrun lab cluster ($ARCH)" --version "0.1.0" --type distribution \
	--description "A two-node Kubernetes built from source by confrun's lab." \
	--website-url "https://example.com/confrun-lab" --documentation-url "https://example.com/confrun-lab/docs" \
	--contact-email-address "lab@example.com" --nodes "${LAB_NODES// /,}"

step "7/8 confrun verify: the k8s-conformance rules, checked locally"
if "$CONFRUN" verify "$DIR" -o json >"$DIR/verify.json"; then
	echo "verify passed"
else
	"$CONFRUN" verify "$DIR" || true
	# A demo focus is not a full certification run (coverage, focus), and the
	# README still holds submit init's placeholder for install instructions.
	unexpected=$(jq -r '.failed | map(select(. != "junit-coverage" and . != "run-focus" and . != "readme-instructions")) | join(", ")' "$DIR/verify.json")
	[ -z "$unexpected" ] || die "verify failed rules the demo does not expect: $unexpected"
	echo "(only the expected rules failed: a demo focus is not a certification run, and README.md awaits your install instructions)"
fi

step "8/8 confrun submit --dry-run: the pull request confrun would open"
"$CONFRUN" submit "$DIR" --dry-run --force --signoff-name "confrun demo" --signoff-email "demo@example.com"

bold "demo done: results in $DIR"
ls -la "$DIR"
