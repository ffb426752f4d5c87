//go:build e2e

package helperimage

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/labtest"
)

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestMultiArchHelperInLabRegistry builds confrun from this source tree for
// amd64 and mips64le, pushes the helper image to the lab's registry (Debian's
// docker-registry) and reads the index back.
func TestMultiArchHelperInLabRegistry(t *testing.T) {
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var arches []arch.Arch
	for _, n := range []string{"amd64", "mips64el"} {
		a, err := arch.Parse(n)
		if err != nil {
			t.Fatal(err)
		}
		arches = append(arches, a)
	}
	ref, err := BuildAndPush(ctx, lab.Registry, Options{Arches: arches, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("reading back %s: %v", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != Entrypoint {
			t.Errorf("%s: config %s entrypoint %v", d.Platform.Architecture, cf.Architecture, cf.Config.Entrypoint)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "linux/amd64,linux/mips64le" {
		t.Errorf("platforms %v", got)
	}
}
