package prepull

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ResolvePlatformDigest returns the digest of ref's manifest for platform
// (linux/<arch>[/<variant>]): the entry of an index, or the manifest itself
// when it is for that platform. Node mode pulls by this digest, since a
// runtime only picks its own host platform out of an index. Registries on
// loopback and private addresses are spoken to over plain HTTP.
func ResolvePlatformDigest(ctx context.Context, ref, platform string) (string, error) {
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return "", fmt.Errorf("platform %q: %w", platform, err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return "", fmt.Errorf("looking up %s: %w", ref, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return "", fmt.Errorf("reading the index of %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return "", fmt.Errorf("reading the index of %s: %w", ref, err)
		}
		var have []string
		for _, m := range im.Manifests {
			if m.Platform == nil {
				continue
			}
			if platformMatches(*m.Platform, *want) {
				return m.Digest.String(), nil
			}
			have = append(have, m.Platform.String())
		}
		return "", fmt.Errorf("%s has no manifest for %s (it has %s)", ref, platform, strings.Join(have, ", "))
	}
	img, err := desc.Image()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	got := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if !platformMatches(got, *want) {
		return "", fmt.Errorf("%s is a single image for %s, not %s", ref, got.String(), platform)
	}
	return desc.Digest.String(), nil
}

func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	return want.Variant == "" || have.Variant == "" || have.Variant == want.Variant
}
