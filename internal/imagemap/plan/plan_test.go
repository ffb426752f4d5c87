package plan

import (
	"context"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/release"
)

func setup(t *testing.T, rel, archName string) ([]imagemap.Entry, Options) {
	t.Helper()
	r := release.MustParse(rel)
	inv, err := inventory.ForRelease(r, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := arch.MustParse(archName)
	m, _, err := imagemap.Resolve(inv, imagemap.File{Arch: archName, DefaultRegistry: "reg.example"})
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := release.ImageSources(r)
	if err != nil {
		t.Fatal(err)
	}
	return m.Entries(), Options{Arch: a, Module: inv.Module, Keys: inv.RegistryKeys, Sources: srcs}
}

func step(t *testing.T, steps []Step, upstream string) Step {
	t.Helper()
	for _, s := range steps {
		if s.Upstream == upstream {
			return s
		}
	}
	t.Fatalf("no step for %s", upstream)
	return Step{}
}

func TestPlanMips(t *testing.T) {
	entries, o := setup(t, "v1.34", "mips64el")
	steps := Make(context.Background(), entries, o)
	pulled := 0
	for _, e := range entries {
		if e.Pull {
			pulled++
		}
	}
	if len(steps) != pulled {
		t.Fatalf("%d steps for %d pulled images (nothing verified: all need a plan)", len(steps), pulled)
	}
	ag := step(t, steps, "registry.k8s.io/e2e-test-images/agnhost:2.56")
	if !strings.Contains(ag.Source, "test/images/agnhost") || ag.Version != "2.56" || ag.Base != "alpine:3.21" || ag.BaseVerdict != BaseMissing {
		t.Errorf("agnhost: %+v", ag)
	}
	if !strings.Contains(ag.Advice, "no linux/mips64le base") || !strings.Contains(ag.Advice, "Debian") {
		t.Errorf("agnhost advice: %s", ag.Advice)
	}
	bb := step(t, steps, "registry.k8s.io/e2e-test-images/busybox:1.37.0-1")
	if bb.BaseVerdict != BaseExists || !strings.Contains(bb.Advice, "VERSION is 1.37.0-2") {
		t.Errorf("busybox: %+v", bb)
	}
	if h := step(t, steps, "registry.k8s.io/e2e-test-images/httpd:2.4.39-4"); !strings.Contains(h.Source, "test/images/httpd-new") {
		t.Errorf("httpd 2.4.39-4 source %s", h.Source)
	}
	if s := step(t, steps, "registry.k8s.io/sig-storage/csi-attacher:v4.8.0"); s.Source != "github.com/kubernetes-csi/external-attacher" || s.BaseVerdict != BaseNone {
		t.Errorf("csi-attacher: %+v", s)
	}
	if s := step(t, steps, "docker.io/sonobuoy/sonobuoy:"+inventory.SonobuoyVersion()); !strings.Contains(s.Advice, "advertise address") {
		t.Errorf("sonobuoy: %+v", s)
	}
	if k := step(t, steps, "registry.k8s.io/e2e-test-images/kitten:1.7"); !strings.Contains(k.Advice, "builds on the e2e image agnhost:2.33") {
		t.Errorf("kitten: %+v", k)
	}
	if s := step(t, steps, "registry.k8s.io/pause:3.10.1"); !strings.Contains(s.Source, "build/pause") {
		t.Errorf("pause: %+v", s)
	}
}

func TestPlanArchWithUpstreamBase(t *testing.T) {
	entries, o := setup(t, "v1.34", "aarch64")
	ag := step(t, Make(context.Background(), entries, o), "registry.k8s.io/e2e-test-images/agnhost:2.56")
	if ag.BaseVerdict != BaseUpstream || ag.Base != "arm64v8/alpine:3.21" {
		t.Errorf("agnhost for arm64: %+v", ag)
	}
}

func TestPlanUsesStatusesAndBaseCheck(t *testing.T) {
	entries, o := setup(t, "v1.34", "loong64")
	o.Statuses = map[string]registry.Result{}
	for _, e := range entries {
		o.Statuses[e.Target] = registry.Result{Status: registry.StatusOK}
	}
	agTarget := "reg.example/e2e-test-images/agnhost:2.56"
	o.Statuses[agTarget] = registry.Result{Status: registry.StatusWrongArch, Detail: "holds linux/amd64"}
	o.Statuses["reg.example/pause:3.10.1"] = registry.Result{Status: registry.StatusUnreachable}
	var asked []string
	o.CheckBase = func(_ context.Context, ref string) registry.Result {
		asked = append(asked, ref)
		return registry.Result{Status: registry.StatusWrongArch}
	}
	steps := Make(context.Background(), entries, o)
	if len(steps) != 2 {
		t.Fatalf("steps for ok images: %+v", steps)
	}
	ag := step(t, steps, "registry.k8s.io/e2e-test-images/agnhost:2.56")
	if ag.Status != registry.StatusWrongArch || ag.BaseCheck != registry.StatusWrongArch || ag.BaseVerdict != BaseMissing {
		t.Errorf("agnhost: %+v", ag)
	}
	if len(asked) != 1 || asked[0] != "docker.io/library/alpine:3.21" {
		t.Errorf("asked registries about %v", asked)
	}
	if p := step(t, steps, "registry.k8s.io/pause:3.10.1"); !strings.Contains(p.Advice, "could not check") {
		t.Errorf("pause: %+v", p)
	}
	o.All = true
	if n := len(Make(context.Background(), entries, o)); n <= 2 {
		t.Errorf("All gave %d steps", n)
	}
}

func TestPlanOldRelease(t *testing.T) {
	entries, o := setup(t, "v1.18", "mips64el")
	steps := Make(context.Background(), entries, o)
	var ag Step
	for _, s := range steps {
		if strings.Contains(s.Upstream, "/agnhost:") {
			ag = s
		}
	}
	if !strings.Contains(ag.Source, "test/images/agnhost") {
		t.Errorf("v1.18 agnhost: %+v", ag)
	}
}

func TestFamilyOf(t *testing.T) {
	for in, want := range map[string]string{
		"alpine:3.21": "alpine", "arm64v8/alpine:3.21": "alpine", "registry.k8s.io/build-image/debian-base-arm64:bookworm-v1.0.6": "debian-base",
		"busybox@sha256:0": "busybox", "s390x/clefos:7": "clefos",
	} {
		if got := familyOf(in); got != want {
			t.Errorf("familyOf(%s) = %s", in, got)
		}
	}
	if got := dockerHubRef("arm64v8/alpine:3.21"); got != "docker.io/arm64v8/alpine:3.21" {
		t.Errorf("dockerHubRef = %s", got)
	}
}
