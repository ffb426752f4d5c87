package registry

import (
	"bytes"
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Blob is one blob of an image as its manifest lists it: the config or a
// layer, with its stored (compressed) size.
type Blob struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// ResultBlobs returns the config and layers of the image Inspect found for
// the architecture (res.ArchDigest), without asking the registry again when
// the tag named that image itself.
func (c *Client) ResultBlobs(ctx context.Context, res Result) ([]Blob, error) {
	if res.manifest != nil && res.ArchDigest == res.Digest {
		return parseBlobs(res.manifest, res.Ref)
	}
	return c.Blobs(ctx, res.Ref, res.ArchDigest)
}

// Blobs returns the config and layers of the image manifest digest in
// ref's repository (digest is a Result's ArchDigest: the image of one
// platform, not an index).
func (c *Client) Blobs(ctx context.Context, ref, digest string) ([]Blob, error) {
	r, err := c.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	byDigest := r.Context().Digest(digest)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	desc, err := c.puller.Get(ctx, byDigest)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest %s: %w", byDigest, err)
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is an index, not the image of one platform", byDigest)
	}
	return parseBlobs(desc.Manifest, byDigest.String())
}

func parseBlobs(manifest []byte, what string) ([]Blob, error) {
	m, err := v1.ParseManifest(bytes.NewReader(manifest))
	if err != nil {
		return nil, fmt.Errorf("parsing the manifest of %s: %w", what, err)
	}
	out := []Blob{{Digest: m.Config.Digest.String(), Size: m.Config.Size}}
	for _, l := range m.Layers {
		out = append(out, Blob{Digest: l.Digest.String(), Size: l.Size})
	}
	return out, nil
}
