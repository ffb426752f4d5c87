package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/regtest"
	"github.com/confrun/confrun/internal/nodecheck"
)

// writeMap writes a mips64el image map whose targets are the given
// references and loads it.
func writeMap(t *testing.T, targets ...string) (*imagemap.Map, string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: mips64el\nrelease: v1.34\nimages:\n")
	for i, tg := range targets {
		fmt.Fprintf(&b, "  - upstream: registry.k8s.io/e2e-test-images/img%d:1.0\n    target: %s\n    kind: e2e\n    pull: true\n", i, tg)
	}
	b.WriteString("  - upstream: invalid.registry.k8s.io/invalid/alpine:3.1\n    target: invalid.registry.k8s.io/invalid/alpine:3.1\n    kind: literal\n    pull: false\n    reason: never pulled\n")
	p := filepath.Join(t.TempDir(), "imagemap.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := imagemap.LoadMap(p)
	if err != nil {
		t.Fatal(err)
	}
	return m, p
}

// TestCheckImageMap reads a real (in-process) registry: on the mips64le
// node every pulled image must hold linux/mips64le, and the node's room is
// weighed against the images' stored size; nodes of another architecture
// are told apart by whether they are cordoned.
func TestCheckImageMap(t *testing.T) {
	host := regtest.Start(t)
	img, err := regtest.Image("linux/mips64le", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{host + "/cke/a:1", host + "/cke/b:1"} { // one image under two names
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	regtest.MustPushImage(t, host+"/cke/amd-only:1", "linux/amd64")
	m, path := writeMap(t, host+"/cke/a:1", host+"/cke/b:1", host+"/cke/amd-only:1", host+"/cke/gone:1")
	reg, err := registry.New(registry.Options{Insecure: []string{host}, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	mips, amd, cordoned := node("mips-1", "mips64le", "containerd://2.1", true), node("amd-1", "amd64", "containerd://2.1", true), node("amd-2", "amd64", "containerd://2.1", true)
	cordoned.Spec.Unschedulable = true
	o := &Options{ImageMap: m, ImageMapPath: path, Registry: reg}
	mi, err := o.checkImageMap(context.Background(), []corev1.Node{*mips, *amd, *cordoned})
	if err != nil {
		t.Fatal(err)
	}

	c := mi.check(mips)
	if c.Status != nodecheck.StatusFail || !strings.Contains(c.Evidence, "2 of the 4 images") ||
		!strings.Contains(c.Evidence, "amd-only:1 (wrong-arch: holds linux/amd64, not linux/mips64le)") ||
		!strings.Contains(c.Evidence, "gone:1 (missing") || !strings.Contains(c.Evidence, "(1 more are never pulled)") || !strings.Contains(c.Fix, "mips64el") {
		t.Errorf("mips node: %+v", c)
	}
	if c := mi.check(amd); c.Status != nodecheck.StatusWarn || !strings.Contains(c.Fix, "kubectl cordon amd-1") {
		t.Errorf("schedulable amd64 node: %+v", c)
	}
	if c := mi.check(cordoned); c.Status != nodecheck.StatusOK || !strings.Contains(c.Evidence, "cordoned") {
		t.Errorf("cordoned amd64 node: %+v", c)
	}
	if !mi.forNode(mips) || mi.forNode(amd) {
		t.Error("forNode does not follow the node's arch")
	}

	// The need counts the shared image once, then adds the unpacked layers.
	mf, _ := img.Manifest()
	stored := mf.Config.Size
	for _, l := range mf.Layers {
		stored += l.Size
	}
	need, why := mi.need(mips)
	if want := uint64(float64(stored) * (1 + UnpackFactor)); need != want || !strings.Contains(why, "the 2 images of "+path) {
		t.Errorf("need %d (%s), want %d", need, why, want)
	}
	// An image the node status lists (here by digest, as prepull's node
	// mode names it) takes no more room, nor do the layers the other
	// image shares with it.
	d, _ := img.Digest()
	placed := mips.DeepCopy()
	placed.Status.Images = []corev1.ContainerImage{{Names: []string{host + "/cke/a@" + d.String()}, SizeBytes: stored}}
	if need, why := mi.need(placed); need != 0 || !strings.Contains(why, "1 of them already on the node") {
		t.Errorf("after a prepull: need %d (%s), want 0", need, why)
	}

	// A cluster without a mips64le node fails on every node.
	mi, err = o.checkImageMap(context.Background(), []corev1.Node{*amd})
	if err != nil {
		t.Fatal(err)
	}
	if c := mi.check(amd); c.Status != nodecheck.StatusFail || !strings.Contains(c.Evidence, "no node of the cluster is linux/mips64le") {
		t.Errorf("no mips node: %+v", c)
	}

	// Every image there: ok.
	m, _ = writeMap(t, host+"/cke/a:1", host+"/cke/b:1")
	o.ImageMap = m
	mi, err = o.checkImageMap(context.Background(), []corev1.Node{*mips})
	if err != nil {
		t.Fatal(err)
	}
	if c := mi.check(mips); c.Status != nodecheck.StatusOK || !strings.Contains(c.Evidence, "2 of the 2 images") {
		t.Errorf("all there: %+v", c)
	}
}
