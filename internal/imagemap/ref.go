package imagemap

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is how Docker Hub references are spelled out (the e2e suite
// writes docker.io/library/...).
const dockerHub = "docker.io"

// Ref is an image reference split the way rules see it. Docker Hub
// references are spelled out: "nginx:1.27" is docker.io/library/nginx:1.27.
type Ref struct {
	// Registry is the host[:port] (registry.k8s.io, docker.io).
	Registry string
	// Repository is the path below the registry (e2e-test-images/agnhost).
	Repository string
	// Tag and Digest; at least one is set.
	Tag    string
	Digest string
}

// ParseRef splits reference s. It must name a tag or a digest: a map never
// means "latest" by accident.
func ParseRef(s string) (Ref, error) {
	if _, err := name.ParseReference(s); err != nil {
		return Ref{}, fmt.Errorf("%q is not an image reference: %w", s, err)
	}
	rest := s
	var r Ref
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest, rest = rest[i+1:], rest[:i]
	}
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag, rest = rest[i+1:], rest[:i]
	}
	if r.Tag == "" && r.Digest == "" {
		return Ref{}, fmt.Errorf("%q names no tag: write it as %s:TAG", s, s)
	}
	first, path, ok := strings.Cut(rest, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, r.Repository = first, path
	} else {
		r.Registry, r.Repository = dockerHub, rest
	}
	if r.Registry == "index.docker.io" {
		r.Registry = dockerHub
	}
	if r.Registry == dockerHub && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository
	}
	return r, nil
}

// Path is registry/repository, what rules match against.
func (r Ref) Path() string { return r.Registry + "/" + r.Repository }

// Name is the repository's last element (agnhost, npb-ep).
func (r Ref) Name() string { return r.Repository[strings.LastIndexByte(r.Repository, '/')+1:] }

// String is the full reference.
func (r Ref) String() string {
	s := r.Path()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Host returns the registry host[:port] of reference s, as written (empty
// when s does not parse).
func Host(s string) string {
	r, err := ParseRef(s)
	if err != nil {
		return ""
	}
	return r.Registry
}
