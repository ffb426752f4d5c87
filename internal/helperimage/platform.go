package helperimage

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap/registry"
)

// Pinned is a helper image resolved for the architectures of a cluster.
type Pinned struct {
	// Image is the reference given (a multi-arch index, or one image).
	Image string
	// Index reports whether Image is an index. Only then does a runtime
	// pick a platform out of it.
	Index bool
	// Platforms are the platforms the index holds, sorted.
	Platforms []string
	// ByArch maps a platform (linux/<goarch>[/<variant>]) to the
	// reference, by digest, of the image for that platform. A runtime
	// takes a single image of any platform, so a node gets the binary for
	// its own architecture even when its runtime would pick another one
	// out of the index (containerd picks its host platform).
	ByArch map[string]string
}

// For returns the reference to run on a node of architecture a: the
// per-platform reference when there is one, else Image.
func (p Pinned) For(a arch.Arch) string {
	if r, ok := p.ByArch[a.Platform()]; ok {
		return r
	}
	return p.Image
}

// Pin reads ref from its registry and returns, for each architecture, the
// reference by digest of its image. An index that lacks one of the
// architectures is an error naming the ones it holds; a single image is
// returned as is (it cannot be pinned further) when its platform matches
// every architecture, and is an error otherwise. Registries on loopback and
// private addresses, and those listed in insecure (host or host:port), are
// spoken to over plain HTTP.
func Pin(ctx context.Context, ref string, arches []arch.Arch, insecure []string, opts ...remote.Option) (Pinned, error) {
	p := Pinned{Image: ref, ByArch: map[string]string{}}
	r, err := name.ParseReference(ref)
	if err != nil {
		return p, fmt.Errorf("parsing the helper image reference %q: %w", ref, err)
	}
	if registry.Listed(insecure, r.Context().RegistryStr()) {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return p, fmt.Errorf("parsing the helper image reference %q: %w", ref, err)
		}
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return p, fmt.Errorf("reading the helper image %s from its registry: %w", ref, err)
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return p, fmt.Errorf("reading the helper image %s: %w", ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return p, fmt.Errorf("reading the config of the helper image %s: %w", ref, err)
		}
		for _, a := range arches {
			if cfg.OS != "linux" || cfg.Architecture != a.GOARCH {
				return p, fmt.Errorf("the helper image %s is a single linux/%s image, but the nodes include %s: build a multi-arch one with --helper-registry", ref, cfg.Architecture, a.Platform())
			}
		}
		return p, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return p, fmt.Errorf("reading the helper image index %s: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return p, fmt.Errorf("reading the helper image index %s: %w", ref, err)
	}
	p.Index = true
	_, p.Platforms = registry.Pick(im, arch.Arch{}) // what it holds: no image is for the zero arch
	for _, a := range arches {
		child, _ := registry.Pick(im, a)
		if child == nil {
			return p, fmt.Errorf("the helper image %s holds %s, not %s: build one for the cluster's architectures with --helper-registry (it takes confrun-linux-<arch> binaries from --helper-binaries or builds them)",
				ref, strings.Join(p.Platforms, ", "), a.Platform())
		}
		p.ByArch[a.Platform()] = r.Context().Digest(child.Digest.String()).String()
	}
	return p, nil
}
