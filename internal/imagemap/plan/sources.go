package plan

import (
	"fmt"
	"strings"

	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/release"
)

// external are images built outside kubernetes/kubernetes test/images, by
// upstream repository path (registry host left out, so k8s.gcr.io and
// registry.k8s.io both match). Found by reading each project's release
// tooling; the note says what a porting team meets.
var external = []struct {
	path, source, note string
}{
	{"pause", "github.com/kubernetes/kubernetes build/pause", "FROM scratch with one static C binary: cross-compile it, no base image needed"},
	{"etcd", "github.com/kubernetes/kubernetes cluster/images/etcd", "its Makefile picks registry.k8s.io/build-image/debian-base-<arch> per arch (amd64, arm, arm64, ppc64le, s390x only); etcd itself is Go"},
	{"conformance", "github.com/kubernetes/kubernetes test/conformance/image", "e2e.test, ginkgo, kubectl and go-runner (all Go, CGO_ENABLED=0) on registry.k8s.io/build-image/go-runner"},
	{"build-image/distroless-iptables", "github.com/kubernetes/release images/build/distroless-iptables", "iptables from Debian copied onto distroless"},
	{"build-image/debian-iptables", "github.com/kubernetes/release images/build/debian-iptables", "Debian base with iptables"},
	{"sig-storage/csi-attacher", "github.com/kubernetes-csi/external-attacher", ""},
	{"sig-storage/csi-provisioner", "github.com/kubernetes-csi/external-provisioner", ""},
	{"sig-storage/csi-resizer", "github.com/kubernetes-csi/external-resizer", ""},
	{"sig-storage/csi-snapshotter", "github.com/kubernetes-csi/external-snapshotter", ""},
	{"sig-storage/snapshot-controller", "github.com/kubernetes-csi/external-snapshotter", ""},
	{"sig-storage/csi-external-health-monitor-controller", "github.com/kubernetes-csi/external-health-monitor", ""},
	{"sig-storage/csi-node-driver-registrar", "github.com/kubernetes-csi/node-driver-registrar", ""},
	{"sig-storage/livenessprobe", "github.com/kubernetes-csi/livenessprobe", ""},
	{"sig-storage/hostpathplugin", "github.com/kubernetes-csi/csi-driver-host-path", ""},
	{"sig-storage/volume-data-source-validator", "github.com/kubernetes-csi/volume-data-source-validator", ""},
	{"sig-storage/hello-populator", "github.com/kubernetes-csi/lib-volume-populator", ""},
	{"sig-storage/nfs-provisioner", "github.com/kubernetes-sigs/nfs-ganesha-server-and-external-provisioner", "needs NFS-Ganesha built for the arch"},
	{"sig-storage/mock-driver", "github.com/kubernetes-csi/csi-test", ""},
	{"cloud-provider-gcp/gcp-compute-persistent-disk-csi-driver", "github.com/kubernetes-sigs/gcp-compute-persistent-disk-csi-driver", "only GCE tests use it"},
	{"sonobuoy/sonobuoy", "github.com/vmware-tanzu/sonobuoy (Dockerfile)",
		"build with CGO_ENABLED=0; a worker built with Go >= 1.24.8/1.25.2 rejects its own aggregator URL [ip]:port, so set the aggregator's advertise address or build with an older toolchain"},
	{"sonobuoy/systemd-logs", "github.com/vmware-tanzu/sonobuoy-plugins systemd-logs", ""},
}

// source says where upstream builds the image of entry e; keys are the
// release's repo-list keys.
func source(e imagemap.Entry, keys []release.RegistryKey, srcs []release.ImageSource, module string) (src string, dir *release.ImageSource, note string) {
	ref, err := imagemap.ParseRef(e.Upstream)
	if err != nil {
		return "", nil, ""
	}
	switch e.RegistryKey {
	case "promoterE2eRegistry", "e2eRegistry", "e2eVolumeRegistry":
		if d := testImageDir(e.Upstream, ref.Tag, e.RegistryKey, keys, srcs); d != nil {
			src = fmt.Sprintf("github.com/kubernetes/kubernetes test/images/%s (%s)", d.Dir, module)
			if d.Version != "" && d.Version != ref.Tag {
				note = fmt.Sprintf("the suite uses tag %s but test/images/%s/VERSION is %s at %s: build the commit that set %s, or build %s and add an override",
					ref.Tag, d.Dir, d.Version, module, ref.Tag, d.Version)
			}
			return src, d, note
		}
	}
	repo := ref.Repository
	for _, x := range external {
		if repo == x.path || strings.HasSuffix(repo, "/"+x.path) {
			return x.source, nil, x.note
		}
	}
	if ref.Registry == "docker.io" && strings.HasPrefix(repo, "library/") {
		return "Docker official image github.com/docker-library/" + strings.TrimPrefix(repo, "library/"), nil, ""
	}
	if strings.Contains(repo, "sig-storage/") {
		return "github.com/kubernetes-csi (a sig-storage image)", nil, ""
	}
	return "", nil, "confrun does not know where this image is built"
}

// testImageDir finds test/images/<dir> for an e2e image: the directory of
// the image's name whose VERSION is the tag (httpd:2.4.39-4 is
// test/images/httpd-new), else the one named like the image.
func testImageDir(upstream, tag, key string, keys []release.RegistryKey, srcs []release.ImageSource) *release.ImageSource {
	var name string
	for _, k := range keys {
		if k.Key == key && strings.HasPrefix(upstream, k.Default+"/") {
			name = strings.TrimSuffix(strings.TrimPrefix(upstream, k.Default+"/"), ":"+tag)
		}
	}
	if name == "" {
		return nil
	}
	if key == "e2eVolumeRegistry" {
		name = "volume/" + name
	}
	for _, c := range []string{name, name + "-new"} {
		for i := range srcs {
			if srcs[i].Dir == c && srcs[i].Version == tag {
				return &srcs[i]
			}
		}
	}
	for i := range srcs {
		if srcs[i].Dir == name {
			return &srcs[i]
		}
	}
	return nil
}
