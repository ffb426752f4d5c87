// Package regtest builds small images and pushes them to a registry, for
// the tests and the benchmark of the imagemap packages: an in-process
// go-containerregistry registry over loopback HTTP, or a real one.
package regtest

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Start runs an in-process registry on a loopback port for the test and
// returns its host:port. wrap, if given, wraps its handler (to inject
// faults).
func Start(t testing.TB, wrap ...func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	for _, w := range wrap {
		h = w(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// Image returns a small random image for platform ("linux/mips64le",
// "linux/arm/v7"); seed varies its content.
func Image(platform string, seed int64) (v1.Image, error) {
	img, err := random.Image(64+seed%64, 1)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	return mutate.ConfigFile(img, cf)
}

// PushImage pushes a single-platform image to ref and returns its digest.
func PushImage(ref, platform string, seed int64, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	img, err := Image(platform, seed)
	if err != nil {
		return "", err
	}
	if err := remote.Write(r, img, opts...); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	return d.String(), err
}

// PushIndex pushes an index with one image per platform to ref and
// returns the index digest and the digest of each platform's image.
func PushIndex(ref string, platforms []string, seed int64, opts ...remote.Option) (string, map[string]string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", nil, err
	}
	var idx v1.ImageIndex = empty.Index
	children := map[string]string{}
	for i, pl := range platforms {
		img, err := Image(pl, seed*16+int64(i))
		if err != nil {
			return "", nil, err
		}
		p, _ := v1.ParsePlatform(pl)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		d, _ := img.Digest()
		children[pl] = d.String()
	}
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return "", nil, fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := idx.Digest()
	return d.String(), children, err
}

// MustPushImage is PushImage for tests.
func MustPushImage(t testing.TB, ref, platform string) string {
	t.Helper()
	d, err := PushImage(ref, platform, int64(len(ref)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// MustPushIndex is PushIndex for tests.
func MustPushIndex(t testing.TB, ref string, platforms ...string) (string, map[string]string) {
	t.Helper()
	d, children, err := PushIndex(ref, platforms, int64(len(ref)))
	if err != nil {
		t.Fatal(err)
	}
	return d, children
}

// Private wraps a registry handler so that every repository whose path
// contains "/private/" answers 401 with a Basic challenge, like a registry
// that wants credentials.
func Private(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/private/") {
			w.Header().Set("WWW-Authenticate", `Basic realm="regtest"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ClosedAddr returns a loopback host:port nothing listens on.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
