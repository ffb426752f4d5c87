package mirror

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/regtest"
	"github.com/confrun/confrun/internal/imagemap/verify"
	"github.com/confrun/confrun/internal/release"
)

// labMap maps v1.34 the way the lab names images, with every target pushed
// to src as an amd64+mips64le index except skip.
func labMap(t *testing.T, src string, skip string) (*imagemap.Map, *inventory.Inventory) {
	t.Helper()
	inv, err := inventory.ForRelease(release.MustParse("v1.34"), inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, warnings, err := imagemap.Resolve(inv, imagemap.File{Arch: "mips64el", DefaultRegistry: src,
		Rules: []imagemap.Rule{{Match: "*", Target: "{{.DefaultRegistry}}/cke/{{.Repository}}-{{.DebArch}}:{{.Tag}}"}}})
	if err != nil || len(warnings) > 0 {
		t.Fatal(err, warnings)
	}
	for _, e := range m.Pulled() {
		if !strings.Contains(e.Upstream, skip) || skip == "" {
			regtest.MustPushIndex(t, e.Target, "linux/amd64", "linux/mips64le")
		}
	}
	return m, inv
}

func newClient(t *testing.T, hosts ...string) *registry.Client {
	c, err := registry.New(registry.Options{Insecure: hosts, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMirrorThenRepoListWorks(t *testing.T) {
	src, dst := regtest.Start(t), regtest.Start(t)
	m, inv := labMap(t, src, "")
	c := newClient(t, src, dst)
	ctx := context.Background()
	reported := 0
	res, err := Run(ctx, c, m, inv.RegistryKeys, Options{To: dst + "/mirror", OnResult: func(done, total int, it Item) { reported++ }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || reported != len(m.Pulled()) || len(res.Items) != reported {
		t.Fatalf("ok=%v reported %d of %d: %+v", res.OK(), reported, len(m.Pulled()), res.Items)
	}
	if e, _ := res.Map.Lookup("registry.k8s.io/e2e-test-images/agnhost:2.56"); e.Target != dst+"/mirror/e2e-test-images/agnhost:2.56" || e.Via != imagemap.ViaMirror {
		t.Errorf("agnhost in the mirrored map: %+v", e)
	}
	// The mirrored map verifies for mips64le, and holds only that arch.
	rep, err := verify.Run(ctx, c, res.Map.Entries(), arch.MustParse("mips64le"), verify.Options{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify of the mirror: %v %+v", err, rep.Failed())
	}
	if r := c.Inspect(ctx, dst+"/mirror/e2e-test-images/agnhost:2.56", arch.MustParse("amd64")); r.Status != registry.StatusWrongArch {
		t.Errorf("amd64 copied too: %+v", r)
	}
	if res.RepoList == nil {
		t.Fatalf("no repo list: %s", res.RepoListErr)
	}
	if !strings.Contains(string(res.RepoList.Marshal()), `promoterE2eRegistry: "`+dst+`/mirror/e2e-test-images"`) {
		t.Errorf("repo list:\n%s", res.RepoList.Marshal())
	}
	// Running again is safe and copies nothing new.
	again, err := Run(ctx, c, m, inv.RegistryKeys, Options{To: dst + "/mirror"})
	if err != nil || !again.OK() {
		t.Errorf("second run: %v", err)
	}
}

func TestMirrorAllPlatformsAndFailures(t *testing.T) {
	src, dst := regtest.Start(t), regtest.Start(t)
	m, inv := labMap(t, src, "agnhost")
	c := newClient(t, src, dst)
	res, err := Run(context.Background(), c, m, inv.RegistryKeys, Options{To: dst, AllPlatforms: true, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, it := range res.Items {
		if it.Status != registry.StatusOK {
			failed++
			if !strings.Contains(it.Upstream, "agnhost") || it.Status != registry.StatusMissing {
				t.Errorf("failed item %+v", it)
			}
		} else if len(it.Platforms) != 2 {
			t.Errorf("all platforms copied only %v", it.Platforms)
		}
	}
	if res.OK() || failed != 1 {
		t.Errorf("%d failed, ok=%v", failed, res.OK())
	}
}

func TestPlanRejectsCollisions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imagemap.yaml")
	content := `apiVersion: confrun.dev/v1alpha1
kind: ImageMap
arch: amd64
release: v1.34
images:
- {upstream: "registry.k8s.io/x/app:1", target: "a.example/app:1", pull: true}
- {upstream: "quay.io/x/app:1", target: "b.example/app:1", pull: true}
`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := imagemap.LoadMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(m, "mirror.example"); err == nil || !strings.Contains(err.Error(), "mirror.example/x/app:1") {
		t.Errorf("collision: %v", err)
	}
	if _, err := Plan(m, "https://mirror.example"); err == nil {
		t.Error("--to with a scheme accepted")
	}
}
