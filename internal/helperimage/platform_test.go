package helperimage

import (
	"context"
	"debug/elf"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
)

func TestPin(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	amd64, mips, riscv := mustArch(t, "amd64"), mustArch(t, "mips64el"), mustArch(t, "riscv64")
	bins := writeBins(t, map[string][]byte{"amd64": fakeELF(elf.EM_X86_64, false, "a"), "mips64le": fakeELF(elf.EM_MIPS, false, "m")})
	idx, err := Build(ctx, Options{Arches: []arch.Arch{amd64, mips}, Binaries: bins})
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := Push(ctx, host+"/confrun/helper:t", idx)
	if err != nil {
		t.Fatal(err)
	}

	p, err := Pin(ctx, pushed, []arch.Arch{amd64, mips}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Index || p.Image != pushed || len(p.ByArch) != 2 || strings.Join(p.Platforms, ",") != "linux/amd64,linux/mips64le" {
		t.Fatalf("pinned %+v", p)
	}
	// Each pinned reference is the single image of that platform.
	for _, a := range []arch.Arch{amd64, mips} {
		ref := p.For(a)
		if !strings.HasPrefix(ref, host+"/confrun/helper@sha256:") || ref == pushed {
			t.Fatalf("%s pinned to %q", a.Platform(), ref)
		}
		r, _ := name.ParseReference(ref)
		img, err := remote.Image(r)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil || cfg.Architecture != a.GOARCH {
			t.Errorf("%s: config arch %v, %v; want %s", ref, cfg, err, a.GOARCH)
		}
	}
	if got := p.For(riscv); got != pushed {
		t.Errorf("an arch not pinned falls back to the image, got %q", got)
	}

	// An index without a node's arch is refused, naming what it holds.
	if _, err := Pin(ctx, pushed, []arch.Arch{amd64, riscv}, nil); err == nil ||
		!strings.Contains(err.Error(), "linux/amd64, linux/mips64le, not linux/riscv64") || !strings.Contains(err.Error(), "--helper-registry") {
		t.Errorf("missing arch: %v", err)
	}

	// A single image stays as it is when it fits every node, and is
	// refused otherwise.
	single := p.ByArch[mips.Platform()]
	sp, err := Pin(ctx, single, []arch.Arch{mips}, nil)
	if err != nil || sp.Index || sp.For(mips) != single {
		t.Errorf("single image: %+v, %v", sp, err)
	}
	if _, err := Pin(ctx, single, []arch.Arch{mips, amd64}, nil); err == nil || !strings.Contains(err.Error(), "single linux/mips64le image") {
		t.Errorf("single image for two arches: %v", err)
	}

	// Not there at all.
	if _, err := Pin(ctx, host+"/confrun/helper:nope", []arch.Arch{amd64}, nil); err == nil || !strings.Contains(err.Error(), "reading the helper image") {
		t.Errorf("missing tag: %v", err)
	}
}
