// Package inventory lists every image a conformance run of one Kubernetes
// release needs: the e2e suite's images (embedded per release by
// `go generate ./internal/release` from the k8s.io/kubernetes module's
// test/utils/image/manifest.go), and the images the run itself uses (the
// conformance image, sonobuoy, systemd-logs when it runs, the node's pause).
// It also says which images are not meant to be pulled at all.
//
// Why manifest.go and not `e2e.test --list-images`: the Go source of every
// release is in the module cache, read offline in seconds with go/ast, while
// the list needs an e2e.test binary per release (minutes of build each, and
// releases before v1.25 do not build with a plain module setup). Parsing the
// source also yields what --list-images cannot: each image's repo-list key,
// its ImageID, the node's pause image and the names tests write literally.
// The e2e-tagged test checks the v1.34 result against the lab's e2e.test.
// For a cluster newer than the embedded data, FromCluster runs --list-images
// inside the cluster's own conformance image.
package inventory

import (
	"fmt"
	"sort"
	"strings"

	"github.com/confrun/confrun/internal/buildinfo"
	"github.com/confrun/confrun/internal/release"
)

// Kind says where an image comes from.
type Kind string

const (
	// KindE2E is an image of manifest.go's list (e2e.test --list-images).
	KindE2E Kind = release.ImageKindE2E
	// KindCSI is a CSI driver image the e2e list adds from its manifests.
	KindCSI Kind = release.ImageKindCSI
	// KindLiteral is a name test code writes literally; never pulled on
	// purpose (several are meant to fail, such as webserver:404).
	KindLiteral Kind = release.ImageKindLiteral
	// KindRun is an image the run itself needs (see the Role constants).
	KindRun Kind = "run"
)

// Roles of the run's own images. E2E images carry their manifest.go
// ImageID (Agnhost, BusyBox, ...) as role.
const (
	RoleConformance = "conformance"
	RoleSonobuoy    = "sonobuoy"
	RoleSystemdLogs = "systemd-logs"
	RolePause       = "pause"
)

// DefaultSonobuoyVersion is the sonobuoy release whose images a run uses
// when the binary does not link the sonobuoy library (it is the version in
// go.mod; buildinfo reports the linked one).
const DefaultSonobuoyVersion = "v0.57.3"

// SystemdLogsImage is sonobuoy's config.DefaultSystemdLogsImage (v0.57.3),
// fully qualified.
const SystemdLogsImage = "docker.io/sonobuoy/systemd-logs:v0.4"

// notPulled are the repo-list keys whose images exist to test pull
// failures and private-registry auth; sonobuoy's default repo list leaves
// them out too.
var notPulled = map[string]string{
	"invalidRegistry":         "points at an invalid registry on purpose (tests a failing pull)",
	"gcAuthenticatedRegistry": "needs credentials for gcr.io/authenticated-image-pulling (tests private-registry auth)",
	"privateRegistry":         "needs credentials for gcr.io/k8s-authenticated-test (tests private-registry auth)",
	"microsoftRegistry":       "Windows-only image",
}

// Image is one image of the inventory.
type Image struct {
	// Ref is the upstream reference the suite or the run uses.
	Ref string `json:"ref"`
	// Kind says where it comes from.
	Kind Kind `json:"kind"`
	// Roles are manifest.go's ImageID for e2e images and the Role
	// constants for the run's images; an image can have both (Pause).
	Roles []string `json:"roles,omitempty"`
	// RegistryKey is the e2e repo-list key that can move it to another
	// registry (empty: no repo list can).
	RegistryKey string `json:"registryKey,omitempty"`
	// Pull is false for images no node should pull: see Reason.
	Pull bool `json:"pull"`
	// Reason says why an image is not pulled.
	Reason string `json:"reason,omitempty"`
	// Source is where upstream defines it.
	Source string `json:"source,omitempty"`
}

// HasRole reports whether the image plays role.
func (im Image) HasRole(role string) bool {
	for _, r := range im.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Inventory is every image of one release's conformance run.
type Inventory struct {
	Release release.Release `json:"-"`
	// ReleaseName is Release as text (for JSON and YAML output).
	ReleaseName string `json:"release"`
	// Module is the k8s.io/kubernetes version the e2e list was read from,
	// or the conformance image asked with FromCluster.
	Module string `json:"module"`
	// RegistryKeys are the e2e repo-list keys of the release.
	RegistryKeys []release.RegistryKey `json:"registryKeys"`
	Images       []Image               `json:"images"`
}

// Options choose the run's own images.
type Options struct {
	// KubernetesVersion tags the conformance image (v1.34.4). Default: the
	// patch release the embedded data was read from.
	KubernetesVersion string
	// SonobuoyVersion tags sonobuoy's image. Default: the linked sonobuoy
	// library, else DefaultSonobuoyVersion.
	SonobuoyVersion string
	// SystemdLogs adds sonobuoy's systemd-logs plugin image.
	SystemdLogs bool
}

// SonobuoyVersion is the sonobuoy version a run uses by default.
func SonobuoyVersion() string {
	if v := buildinfo.Get().Sonobuoy; v != "" {
		return v
	}
	return DefaultSonobuoyVersion
}

// ForRelease returns the inventory of release r from the embedded data.
func ForRelease(r release.Release, o Options) (*Inventory, error) {
	d, err := release.Images(r)
	if err != nil {
		return nil, err
	}
	return build(r, d.Module, d, d.Images, o)
}

// build makes the inventory of release r from images (upstream's list) and
// d (the release data: keys, node pause).
func build(r release.Release, module string, d *release.ImageData, images []release.UpstreamImage, o Options) (*Inventory, error) {
	inv := &Inventory{Release: r, ReleaseName: r.String(), Module: module, RegistryKeys: d.RegistryKeys}
	if o.KubernetesVersion == "" {
		o.KubernetesVersion = module
	}
	var e2e []Image
	for _, u := range images {
		if u.Kind == release.ImageKindNodePause {
			continue
		}
		im := Image{Ref: u.Ref, Kind: Kind(u.Kind), RegistryKey: u.RegistryKey, Pull: true, Source: u.Source}
		if u.ID != "" {
			im.Roles = []string{u.ID}
		}
		classify(&im, u.ID)
		e2e = append(e2e, im)
	}
	run, err := runImages(r, d, o)
	if err != nil {
		return nil, err
	}
	for _, u := range d.Images {
		if u.Kind == release.ImageKindNodePause {
			run = append(run, Image{Ref: u.Ref, Kind: KindRun, Roles: []string{RolePause}, RegistryKey: u.RegistryKey,
				Pull: true, Source: u.Source})
		}
	}
	// The run's images first; an image in both lists (the node's pause is
	// usually the e2e Pause) stays one e2e entry with both roles.
	all := merge(e2e, run)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Kind == KindRun && all[j].Kind != KindRun })
	inv.Images = all
	return inv, nil
}

// classify marks the images that are not meant to be pulled.
func classify(im *Image, id string) {
	if reason, ok := notPulled[im.RegistryKey]; ok {
		im.Pull, im.Reason = false, reason
		return
	}
	if strings.Contains(id, "Windows") {
		im.Pull, im.Reason = false, "Windows-only image"
		return
	}
	if im.Kind == KindLiteral {
		im.Pull = false
		im.Reason = "named literally in test code, outside the e2e list: tests expect it to fail to pull or never start it; no repo list can move it"
	}
}

// runImages are the conformance and sonobuoy images (the pause image is
// added from the data).
func runImages(r release.Release, d *release.ImageData, o Options) ([]Image, error) {
	if o.SonobuoyVersion == "" {
		o.SonobuoyVersion = SonobuoyVersion()
	}
	// The conformance image lives where the release's gcRegistry points
	// (k8s.gcr.io for older releases, registry.k8s.io now).
	reg := ""
	for _, k := range d.RegistryKeys {
		if k.Key == "gcRegistry" {
			reg = k.Default
		}
	}
	if reg == "" {
		return nil, fmt.Errorf("embedded image data of %s has no gcRegistry key", r)
	}
	out := []Image{
		{Ref: reg + "/conformance:" + o.KubernetesVersion, Kind: KindRun, Roles: []string{RoleConformance}, Pull: true,
			Source: "test/conformance/image (the e2e suite's own image)"},
		{Ref: "docker.io/sonobuoy/sonobuoy:" + o.SonobuoyVersion, Kind: KindRun, Roles: []string{RoleSonobuoy}, Pull: true,
			Source: "sonobuoy " + o.SonobuoyVersion + " aggregator and worker"},
	}
	if o.SystemdLogs {
		out = append(out, Image{Ref: SystemdLogsImage, Kind: KindRun, Roles: []string{RoleSystemdLogs}, Pull: true,
			Source: "sonobuoy's systemd-logs plugin"})
	}
	return out, nil
}

// merge joins lists, folding an image listed twice into its first entry
// (the node's pause usually is the e2e Pause image too).
func merge(lists ...[]Image) []Image {
	var out []Image
	at := map[string]int{}
	for _, l := range lists {
		for _, im := range l {
			if i, ok := at[im.Ref]; ok {
				for _, r := range im.Roles {
					if !out[i].HasRole(r) {
						out[i].Roles = append(out[i].Roles, r)
					}
				}
				if out[i].RegistryKey == "" {
					out[i].RegistryKey = im.RegistryKey
				}
				continue
			}
			at[im.Ref] = len(out)
			out = append(out, im)
		}
	}
	return out
}

// Find returns the image with reference ref.
func (inv *Inventory) Find(ref string) (Image, bool) {
	for _, im := range inv.Images {
		if im.Ref == ref {
			return im, true
		}
	}
	return Image{}, false
}

// Key returns the registry key named key.
func (inv *Inventory) Key(key string) (release.RegistryKey, bool) {
	for _, k := range inv.RegistryKeys {
		if k.Key == key {
			return k, true
		}
	}
	return release.RegistryKey{}, false
}

// Nearest returns the newest release with embedded data that is not newer
// than r (the data to use for a cluster newer than confrun).
func Nearest(r release.Release) release.Release {
	best := release.Supported()[0]
	for _, s := range release.Supported() {
		if !r.Less(s) {
			best = s
		}
	}
	return best
}
