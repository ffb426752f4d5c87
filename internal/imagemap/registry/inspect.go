package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/confrun/confrun/internal/arch"
)

// Status is the verdict on one reference.
type Status string

// Statuses.
const (
	// StatusOK: the tag exists and holds an image for linux/ARCH.
	StatusOK Status = "ok"
	// StatusMissing: the registry answers but has no such repository or tag.
	StatusMissing Status = "missing"
	// StatusWrongArch: the tag exists but holds no image for linux/ARCH.
	StatusWrongArch Status = "wrong-arch"
	// StatusUnauthorized: the registry wants credentials we lack (or
	// refuses the ones we have).
	StatusUnauthorized Status = "unauthorized"
	// StatusUnreachable: no answer (connection refused, DNS, TLS, timeout,
	// server error).
	StatusUnreachable Status = "unreachable"
)

// Result is what Inspect found.
type Result struct {
	Ref    string `json:"ref"`
	Status Status `json:"status"`
	// Digest is what the tag points to (an index or an image manifest).
	Digest string `json:"digest,omitempty"`
	// ArchDigest is the digest of the linux/ARCH image manifest (equal to
	// Digest for a single-platform image).
	ArchDigest string `json:"archDigest,omitempty"`
	MediaType  string `json:"mediaType,omitempty"`
	// Platforms are the platforms the tag holds (os/arch[/variant]).
	Platforms []string `json:"platforms,omitempty"`
	// Detail explains a status other than ok.
	Detail string `json:"detail,omitempty"`

	// manifest is the image manifest when the tag named a single image.
	manifest []byte
}

// Inspect checks that ref exists and holds an image for linux/a. It does
// not return an error: every failure is a Status with a Detail.
func (c *Client) Inspect(ctx context.Context, ref string, a arch.Arch) Result {
	res := Result{Ref: ref}
	r, err := c.ParseReference(ref)
	if err != nil {
		res.Status, res.Detail = StatusMissing, err.Error()
		return res
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	desc, err := c.puller.Get(ctx, r)
	if err != nil {
		return c.failed(res, ctx, err)
	}
	res.Digest, res.MediaType = desc.Digest.String(), string(desc.MediaType)
	if desc.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			res.Status, res.Detail = StatusUnreachable, "the registry returned an index that does not parse: "+err.Error()
			return res
		}
		child, platforms := Pick(im, a)
		res.Platforms = platforms
		if child != nil {
			res.ArchDigest = child.Digest.String()
		}
		return verdict(res, a)
	}
	img, err := desc.Image()
	if err != nil {
		return c.failed(res, ctx, err)
	}
	res.manifest = desc.Manifest
	cfg, err := img.ConfigFile()
	if err != nil {
		return c.failed(res, ctx, fmt.Errorf("reading the image config: %w", err))
	}
	p := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if p.OS != "" || p.Architecture != "" {
		res.Platforms = []string{platformString(p)}
	}
	if matches(p, a) {
		res.ArchDigest = res.Digest
	}
	return verdict(res, a)
}

func verdict(res Result, a arch.Arch) Result {
	if res.ArchDigest != "" {
		res.Status = StatusOK
		return res
	}
	res.Status = StatusWrongArch
	if len(res.Platforms) == 0 {
		res.Detail = "the image declares no platform; " + a.Platform() + " wanted"
	} else {
		res.Detail = fmt.Sprintf("holds %s, not %s", strings.Join(res.Platforms, ", "), a.Platform())
	}
	return res
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Pick returns the index's image for linux/a (nil if none) and the
// platforms the index holds, sorted; attestation entries are left out.
func Pick(im *v1.IndexManifest, a arch.Arch) (*v1.Descriptor, []string) {
	var child *v1.Descriptor
	var platforms []string
	for i, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue
		}
		platforms = append(platforms, platformString(*m.Platform))
		if child == nil && matches(*m.Platform, a) {
			child = &im.Manifests[i]
		}
	}
	sort.Strings(platforms)
	return child, platforms
}

// matches reports whether p is linux/a; a variant is compared only when
// the architecture has one (arm/v7).
func matches(p v1.Platform, a arch.Arch) bool {
	if p.OS != "linux" || p.Architecture != a.GOARCH {
		return false
	}
	return a.Variant == "" || p.Variant == "" || p.Variant == a.Variant
}

// failed classifies an error into a status.
func (c *Client) failed(res Result, ctx context.Context, err error) Result {
	res.Status, res.Detail = Classify(err)
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		res.Status, res.Detail = StatusUnreachable, fmt.Sprintf("no answer within %s (--timeout)", c.opts.Timeout)
	}
	return res
}

// Classify turns a go-containerregistry error into a status and a short
// explanation.
func Classify(err error) (Status, string) {
	var serr *StatusError
	if errors.As(err, &serr) {
		return serr.Status, serr.Detail
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return StatusMissing, diag(terr)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return StatusUnauthorized, diag(terr) + authHint
			}
		}
		switch terr.StatusCode {
		case http.StatusNotFound:
			return StatusMissing, diag(terr)
		case http.StatusUnauthorized, http.StatusForbidden:
			return StatusUnauthorized, diag(terr) + authHint
		}
		return StatusUnreachable, diag(terr)
	}
	if errors.Is(err, remote.ErrSchema1) {
		return StatusWrongArch, "a Docker schema 1 manifest has no platform: push the image again with a current tool"
	}
	if errors.Is(err, context.Canceled) {
		return StatusUnreachable, "cancelled"
	}
	msg := err.Error()
	if strings.Contains(msg, "server gave HTTP response to HTTPS client") {
		msg += " (the registry speaks plain HTTP: pass --insecure-registry HOST:PORT if that is intended)"
	}
	return StatusUnreachable, msg
}

const authHint = " (log in with `docker login` or a credential helper; confrun reads ~/.docker/config.json)"

func diag(e *transport.Error) string {
	var parts []string
	for _, d := range e.Errors {
		s := string(d.Code)
		if d.Message != "" {
			s += ": " + d.Message
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("HTTP %d %s", e.StatusCode, strings.Join(parts, "; "))
}
