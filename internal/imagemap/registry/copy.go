package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/confrun/confrun/internal/arch"
)

// StatusError is an error with a verdict, such as a source without the
// wanted architecture.
type StatusError struct {
	Status Status
	Detail string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s: %s", e.Status, e.Detail) }

// Copied describes one finished copy.
type Copied struct {
	Source string `json:"source"`
	Dest   string `json:"dest"`
	// Digest is the manifest digest now at Dest (the same as at the
	// source: manifests are copied byte for byte).
	Digest    string   `json:"digest"`
	Platforms []string `json:"platforms"`
}

// Copy copies src to dst: only the linux/a image of a multi-platform
// source, or with allPlatforms the whole index. Blobs the destination has
// are not sent again. Each request has the client's timeout; the copy as a
// whole is bounded only by ctx (large layers take as long as they take).
func (c *Client) Copy(ctx context.Context, src, dst string, a arch.Arch, allPlatforms bool) (Copied, error) {
	out := Copied{Source: src, Dest: dst}
	srcRef, err := c.ParseReference(src)
	if err != nil {
		return out, err
	}
	dstRef, err := c.ParseReference(dst)
	if err != nil {
		return out, err
	}
	desc, err := c.puller.Get(ctx, srcRef)
	if err != nil {
		return out, fmt.Errorf("reading %s: %w", src, err)
	}
	var what remote.Taggable
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return out, fmt.Errorf("reading index %s: %w", src, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return out, fmt.Errorf("reading index %s: %w", src, err)
		}
		child, all := Pick(im, a)
		if allPlatforms {
			what, out.Digest, out.Platforms = idx, desc.Digest.String(), all
			break
		}
		if child == nil {
			return out, &StatusError{Status: StatusWrongArch, Detail: fmt.Sprintf("%s holds %v, not %s", src, all, a.Platform())}
		}
		img, err := idx.Image(child.Digest)
		if err != nil {
			return out, fmt.Errorf("reading the %s image of %s: %w", a.Platform(), src, err)
		}
		what, out.Digest, out.Platforms = img, child.Digest.String(), []string{platformString(*child.Platform)}
	default:
		img, err := desc.Image()
		if err != nil {
			return out, fmt.Errorf("reading %s: %w", src, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return out, fmt.Errorf("reading the config of %s: %w", src, err)
		}
		p := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if !allPlatforms && !matches(p, a) {
			return out, &StatusError{Status: StatusWrongArch, Detail: fmt.Sprintf("%s is %s, not %s", src, platformString(p), a.Platform())}
		}
		what, out.Digest, out.Platforms = img, desc.Digest.String(), []string{platformString(p)}
	}
	if err := c.pusher.Push(ctx, dstRef, what); err != nil {
		return out, fmt.Errorf("writing %s: %w", dst, err)
	}
	return out, nil
}
