//go:build e2e

package mirror

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/verify"
	"github.com/confrun/confrun/internal/labtest"
	"github.com/confrun/confrun/internal/release"
)

// The lab's arch-named images, mirrored under upstream paths in the lab's
// own registry, verify for mips64le, and the repo list points at them.
func TestLabMirror(t *testing.T) {
	lab := labtest.Require(t)
	r, err := release.Parse(lab.K8sVersion)
	if err != nil {
		t.Fatal(err)
	}
	full, err := inventory.ForRelease(r, inventory.Options{KubernetesVersion: lab.K8sVersion})
	if err != nil {
		t.Fatal(err)
	}
	// Only the images the lab built.
	inv := *full
	inv.Images = nil
	for _, im := range lab.Images {
		if e, ok := full.Find(im.Upstream); ok {
			inv.Images = append(inv.Images, e)
		}
	}
	if len(inv.Images) < 3 {
		t.Fatalf("lab images in the inventory: %+v", inv.Images)
	}
	m, _, err := imagemap.Resolve(&inv, imagemap.File{Arch: "mips64el", DefaultRegistry: lab.Registry, Rules: []imagemap.Rule{
		{Match: "registry.k8s.io", Target: "{{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}"},
		{Match: "docker.io/sonobuoy", Target: "{{.DefaultRegistry}}/cke/sonobuoy/{{.Name}}-{{.DebArch}}:{{.Tag}}"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := registry.New(registry.Options{Insecure: []string{lab.Registry}})
	if err != nil {
		t.Fatal(err)
	}
	to := fmt.Sprintf("%s/confrun-e2e/mirror-%d", lab.Registry, time.Now().UnixNano())
	ctx := context.Background()
	res, err := Run(ctx, c, m, inv.RegistryKeys, Options{To: to})
	if err != nil || !res.OK() {
		t.Fatalf("%v %+v", err, res.Items)
	}
	rep, err := verify.Run(ctx, c, res.Map.Entries(), arch.MustParse("mips64le"), verify.Options{})
	if err != nil || !rep.OK() {
		t.Fatalf("mirror does not verify: %v %+v", err, rep.Failed())
	}
	for _, it := range res.Items {
		if !strings.HasPrefix(it.Dest, to+"/") || len(it.Platforms) != 1 || it.Platforms[0] != "linux/mips64le" {
			t.Errorf("copied %+v", it)
		}
	}
	if res.RepoList == nil || !strings.Contains(string(res.RepoList.Marshal()), to+"/e2e-test-images") {
		t.Errorf("repo list %v %s", res.RepoList, res.RepoListErr)
	}
}
