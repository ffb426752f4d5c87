package inventory

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/release"
)

func mustRelease(t *testing.T, r release.Release, o Options) *Inventory {
	t.Helper()
	inv, err := ForRelease(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestForReleaseRunImagesAndPolicy(t *testing.T) {
	r := release.MustParse("v1.34")
	inv := mustRelease(t, r, Options{SonobuoyVersion: "v0.57.3"})
	mod, _ := release.ModuleVersion(r)
	if inv.Images[0].Ref != "registry.k8s.io/conformance:"+mod || !inv.Images[0].HasRole(RoleConformance) {
		t.Errorf("first image %+v, want the conformance image of %s", inv.Images[0], mod)
	}
	if im, ok := inv.Find("docker.io/sonobuoy/sonobuoy:v0.57.3"); !ok || im.Kind != KindRun || !im.Pull {
		t.Errorf("sonobuoy image: %+v %v", im, ok)
	}
	if _, ok := inv.Find(SystemdLogsImage); ok {
		t.Error("systemd-logs listed without SystemdLogs")
	}
	// The node's pause is the e2e Pause in v1.34: one entry, both roles.
	pauses := 0
	for _, im := range inv.Images {
		if im.HasRole(RolePause) {
			pauses++
			if !im.HasRole("Pause") || im.RegistryKey != "gcRegistry" || !im.Pull {
				t.Errorf("pause image %+v", im)
			}
		}
	}
	if pauses != 1 {
		t.Errorf("%d pause images", pauses)
	}
	// images.md: these exist to test pull failures and auth; and the names
	// the Deployment tests build at run time.
	for _, ref := range []string{
		"invalid.registry.k8s.io/invalid/alpine:3.1", "gcr.io/authenticated-image-pulling/alpine:3.7",
		"gcr.io/k8s-authenticated-test/agnhost:2.6", "webserver:404", "gcr.io/google_samples/gb-redisslave:nonexistent",
	} {
		im, ok := inv.Find(ref)
		if !ok || im.Pull || im.Reason == "" {
			t.Errorf("%s: %+v (found %v), want not pulled with a reason", ref, im, ok)
		}
	}
	d, _ := release.Images(r)
	pulled := 0
	for _, im := range inv.Images {
		if im.Pull {
			pulled++
			if _, bad := notPulled[im.RegistryKey]; bad || im.Kind == KindLiteral {
				t.Errorf("%s pulled", im.Ref)
			}
		}
	}
	// Every image of the data is in the inventory exactly once.
	if n := len(d.Images) + 2 - 1; len(inv.Images) != n {
		t.Errorf("%d images, want %d (data + conformance + sonobuoy - merged pause)", len(inv.Images), n)
	}
	if pulled == 0 || pulled == len(inv.Images) {
		t.Errorf("%d of %d pulled", pulled, len(inv.Images))
	}
}

func TestForReleaseOptions(t *testing.T) {
	inv := mustRelease(t, release.MustParse("v1.34"), Options{KubernetesVersion: "v1.34.2", SonobuoyVersion: "v9.9.9", SystemdLogs: true})
	for _, ref := range []string{"registry.k8s.io/conformance:v1.34.2", "docker.io/sonobuoy/sonobuoy:v9.9.9", SystemdLogsImage} {
		if im, ok := inv.Find(ref); !ok || im.Kind != KindRun {
			t.Errorf("%s missing: %+v", ref, im)
		}
	}
}

func TestOlderReleaseUsesItsRegistry(t *testing.T) {
	inv := mustRelease(t, release.MustParse("v1.21"), Options{})
	if !strings.HasPrefix(inv.Images[0].Ref, "k8s.gcr.io/conformance:v1.21.") {
		t.Errorf("v1.21 conformance image %s", inv.Images[0].Ref)
	}
	for _, im := range inv.Images {
		if strings.Contains(im.Ref, "mcr.microsoft.com") && im.Pull {
			t.Errorf("Windows image %s pulled", im.Ref)
		}
	}
}

func TestEveryReleaseBuilds(t *testing.T) {
	for _, r := range release.Supported() {
		inv := mustRelease(t, r, Options{})
		seen := map[string]bool{}
		for _, im := range inv.Images {
			if seen[im.Ref] {
				t.Errorf("%s: %s listed twice", r, im.Ref)
			}
			seen[im.Ref] = true
		}
		if _, ok := inv.Key("promoterE2eRegistry"); !ok && !r.Less(release.MustParse("v1.22")) {
			t.Errorf("%s has no promoterE2eRegistry key", r)
		}
	}
}

func listed(inv *Inventory) []string {
	var out []string
	for _, im := range inv.Images {
		if im.Kind == KindE2E || im.Kind == KindCSI {
			out = append(out, im.Ref)
		}
	}
	return out
}

func TestFromListMatchesEmbedded(t *testing.T) {
	r := release.MustParse("v1.34")
	want := mustRelease(t, r, Options{SonobuoyVersion: "v1"})
	refs := listed(want)
	rand.New(rand.NewSource(1)).Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
	got, err := FromList(r, want.Module, strings.NewReader(strings.Join(refs, "\n")+"\n\n"), Options{SonobuoyVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	// Same images, order, kinds, keys and policy, minus the literal names
	// (never in the list).
	var wantNoLit []Image
	for _, im := range want.Images {
		if im.Kind != KindLiteral {
			wantNoLit = append(wantNoLit, im)
		}
	}
	if len(got.Images) != len(wantNoLit) {
		t.Fatalf("%d images from the list, %d embedded", len(got.Images), len(wantNoLit))
	}
	for i := range wantNoLit {
		g, w := got.Images[i], wantNoLit[i]
		if g.Ref != w.Ref || g.Kind != w.Kind || g.RegistryKey != w.RegistryKey || g.Pull != w.Pull || strings.Join(g.Roles, ",") != strings.Join(w.Roles, ",") {
			t.Errorf("image %d: got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestFromListNewerRelease(t *testing.T) {
	newer := release.Release{Major: 1, Minor: release.Latest().Minor + 5}
	list := "registry.k8s.io/e2e-test-images/agnhost:9.99\nregistry.k8s.io/sig-storage/csi-new:v1\nregistry.k8s.io/etcd:9.9.9-0\nquay.io/somewhere/else:1\n"
	inv, err := FromList(newer, "v1.41.0", strings.NewReader(list), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Release != newer || inv.Images[0].Ref != "registry.k8s.io/conformance:v1.41.0" {
		t.Errorf("release %s, first image %s", inv.Release, inv.Images[0].Ref)
	}
	want := map[string]string{
		"registry.k8s.io/e2e-test-images/agnhost:9.99": "promoterE2eRegistry",
		"registry.k8s.io/sig-storage/csi-new:v1":       "sigStorageRegistry",
		"registry.k8s.io/etcd:9.9.9-0":                 "gcRegistry",
		"quay.io/somewhere/else:1":                     "",
	}
	for ref, key := range want {
		im, ok := inv.Find(ref)
		if !ok || im.RegistryKey != key || im.Kind != KindE2E {
			t.Errorf("%s: %+v, want key %q", ref, im, key)
		}
	}
}

func TestFromListRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "\n\n", "I0101 12:00:00 some log line\n", "agnhost\n"} {
		if _, err := FromList(release.MustParse("v1.34"), "v1.34.4", strings.NewReader(in), Options{}); err == nil {
			t.Errorf("FromList(%q) accepted", in)
		}
	}
}

func TestNearest(t *testing.T) {
	if got := Nearest(release.MustParse("v1.99")); got != release.Latest() {
		t.Errorf("Nearest(v1.99) = %s", got)
	}
	if got := Nearest(release.MustParse("v1.30")); got != release.MustParse("v1.30") {
		t.Errorf("Nearest(v1.30) = %s", got)
	}
}
