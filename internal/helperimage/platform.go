package helperimage

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
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
	if listed(insecure, r.Context().RegistryStr()) {
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
	var held []string
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS != "unknown" {
			held = append(held, platformOf(*m.Platform))
		}
	}
	sort.Strings(held)
	p.Platforms = held
	for _, a := range arches {
		d, ok := childFor(im, a)
		if !ok {
			return p, fmt.Errorf("the helper image %s holds %s, not %s: build one for the cluster's architectures with --helper-registry (it takes confrun-linux-<arch> binaries from --helper-binaries or builds them)",
				ref, strings.Join(held, ", "), a.Platform())
		}
		p.ByArch[a.Platform()] = r.Context().Digest(d.String()).String()
	}
	return p, nil
}

func childFor(im *v1.IndexManifest, a arch.Arch) (v1.Hash, bool) {
	for _, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS != "linux" || m.Platform.Architecture != a.GOARCH {
			continue
		}
		if a.Variant == "" || m.Platform.Variant == "" || m.Platform.Variant == a.Variant {
			return m.Digest, true
		}
	}
	return v1.Hash{}, false
}

func platformOf(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// listed reports whether host (host:port) or its host part is in hosts.
func listed(hosts []string, host string) bool {
	bare, _, err := net.SplitHostPort(host)
	if err != nil {
		bare = host
	}
	for _, h := range hosts {
		if h == host || h == bare {
			return true
		}
	}
	return false
}
