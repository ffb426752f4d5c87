//go:build e2e

package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/regtest"
	"github.com/confrun/confrun/internal/labtest"
	"github.com/confrun/confrun/internal/release"
)

// labRules express the lab's naming (lab/imgtool): registry.k8s.io/.../NAME:TAG
// is REGISTRY/cke/kubernetes/NAME-mips64el:TAG, sonobuoy/NAME:TAG is
// REGISTRY/cke/sonobuoy/NAME-mips64el:TAG.
var labRules = []imagemap.Rule{
	{Match: "registry.k8s.io", Target: "{{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}"},
	{Match: "docker.io/sonobuoy", Target: "{{.DefaultRegistry}}/cke/sonobuoy/{{.Name}}-{{.DebArch}}:{{.Tag}}"},
}

func TestLabMapAndVerify(t *testing.T) {
	lab := labtest.Require(t)
	r, err := release.Parse(lab.K8sVersion)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.ForRelease(r, inventory.Options{KubernetesVersion: lab.K8sVersion})
	if err != nil {
		t.Fatal(err)
	}
	// A deliberately missing image (nothing pushed there) and a wrong-arch
	// one: an amd64-only image pushed to the lab registry now.
	stamp := time.Now().UnixNano()
	missing := fmt.Sprintf("%s/confrun-e2e/imagemap-missing-%d:1.0", lab.Registry, stamp)
	wrongArch := fmt.Sprintf("%s/confrun-e2e/imagemap-amd64only-%d:1.0", lab.Registry, stamp)
	if _, err := regtest.PushImage(wrongArch, "linux/amd64", stamp, remote.WithContext(context.Background())); err != nil {
		t.Fatalf("pushing the amd64-only image to the lab registry: %v", err)
	}
	const nginx, nonroot = "registry.k8s.io/e2e-test-images/nginx:1.14-4", "registry.k8s.io/e2e-test-images/nonroot:1.4"
	m, warnings, err := imagemap.Resolve(inv, imagemap.File{Arch: "mips64el", DefaultRegistry: lab.Registry, Rules: labRules,
		Overrides: map[string]string{nginx: missing, nonroot: wrongArch}})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("%v %v", err, warnings)
	}

	// The rules give exactly the names the lab built.
	var check []imagemap.Entry
	for _, im := range lab.Images {
		e, ok := m.Lookup(im.Upstream)
		if !ok {
			continue // a cluster add-on (CoreDNS), not a conformance image
		}
		if e.Target != im.Ref {
			t.Errorf("%s maps to %s, the lab built %s", im.Upstream, e.Target, im.Ref)
		}
		check = append(check, e)
	}
	if len(check) < 3 {
		t.Fatalf("only %d lab images are conformance images: %+v", len(check), lab.Images)
	}
	for _, up := range []string{nginx, nonroot} {
		e, _ := m.Lookup(up)
		check = append(check, e)
	}

	c, err := registry.New(registry.Options{Insecure: []string{lab.Registry}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), c, check, arch.MustParse("mips64el"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range rep.Items {
		want := registry.StatusOK
		switch it.Target {
		case missing:
			want = registry.StatusMissing
		case wrongArch:
			want = registry.StatusWrongArch
		}
		if it.Status != want {
			t.Errorf("%s: %s (%s), want %s", it.Target, it.Status, it.Detail, want)
		}
		if want != registry.StatusOK {
			continue
		}
		for _, im := range lab.Images {
			if im.Ref == it.Target && im.Digest != it.Digest {
				t.Errorf("%s: digest %s, the lab pushed %s", it.Target, it.Digest, im.Digest)
			}
		}
		if !strings.Contains(strings.Join(it.Platforms, ","), "linux/mips64le") {
			t.Errorf("%s platforms %v", it.Target, it.Platforms)
		}
	}
	if rep.OK() || rep.Counts[registry.StatusMissing] != 1 || rep.Counts[registry.StatusWrongArch] != 1 {
		t.Errorf("counts %v", rep.Counts)
	}
}
