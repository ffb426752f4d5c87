// Package mirror copies the targets of an image map into one registry under
// upstream-compatible repository paths (registry.k8s.io/e2e-test-images/
// agnhost:2.56 -> MIRROR/e2e-test-images/agnhost:2.56), so that the e2e repo
// list alone points an unmodified suite at the architecture's images.
package mirror

import (
	"context"
	"fmt"

	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/internal/parallel"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/release"
)

// DefaultConcurrency is how many images are copied at once.
const DefaultConcurrency = 4

// Options configure Run.
type Options struct {
	// To is the mirror registry, host[:port][/path].
	To string
	// AllPlatforms copies whole indexes instead of the map's arch only.
	AllPlatforms bool
	// Concurrency bounds the copies in flight.
	Concurrency int
	// OnResult is called after each copy from Run's goroutine.
	OnResult func(done, total int, it Item)
}

// Item is one copied (or failed) image.
type Item struct {
	Upstream  string          `json:"upstream"`
	Source    string          `json:"source"`
	Dest      string          `json:"dest"`
	Digest    string          `json:"digest,omitempty"`
	Platforms []string        `json:"platforms,omitempty"`
	Status    registry.Status `json:"status"`
	Detail    string          `json:"detail,omitempty"`
}

// Result is the outcome of a mirror run.
type Result struct {
	Items []Item `json:"images"`
	// Map points at the mirror.
	Map *imagemap.Map `json:"-"`
	// RepoList redirects the suite to the mirror; nil with RepoListErr
	// when the map has images no repo-list key moves.
	RepoList    *imagemap.RepoList `json:"repoList,omitempty"`
	RepoListErr string             `json:"repoListError,omitempty"`
}

// OK reports whether every image was copied.
func (r *Result) OK() bool {
	for _, it := range r.Items {
		if it.Status != registry.StatusOK {
			return false
		}
	}
	return true
}

// Plan returns the mirrored map without copying anything (for a dry run and
// for checking the layout before work starts).
func Plan(m *imagemap.Map, to string) (*imagemap.Map, error) {
	mm, err := m.Mirrored(to)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	seen := map[string]string{}
	for _, e := range mm.Pulled() {
		if other, ok := seen[e.Target]; ok {
			return nil, fmt.Errorf("%s and %s would both be copied to %s: mirror them to different registries", other, e.Upstream, e.Target)
		}
		seen[e.Target] = e.Upstream
	}
	return mm, nil
}

// Run copies every pulled target of m to o.To and derives the repo list
// from keys (the release's repo-list keys). Copies that fail are reported
// per item; Run returns an error only for bad options or when ctx ends.
func Run(ctx context.Context, c *registry.Client, m *imagemap.Map, keys []release.RegistryKey, o Options) (*Result, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	mm, err := Plan(m, o.To)
	if err != nil {
		return nil, err
	}
	dest := map[string]string{}
	for _, e := range mm.Pulled() {
		dest[e.Upstream] = e.Target
	}
	todo := m.Pulled()
	n := 0
	res := &Result{Map: mm}
	res.Items = parallel.Map(len(todo), o.Concurrency, func(i int) Item {
		e := todo[i]
		it := Item{Upstream: e.Upstream, Source: e.Target, Dest: dest[e.Upstream], Status: registry.StatusOK}
		cp, err := c.Copy(ctx, e.Target, it.Dest, m.Arch(), o.AllPlatforms)
		if err != nil {
			it.Status, it.Detail = registry.Classify(err)
		} else {
			it.Digest, it.Platforms = cp.Digest, cp.Platforms
		}
		return it
	}, func(done int, it Item) {
		n = done
		if o.OnResult != nil {
			o.OnResult(done, len(todo), it)
		}
	})
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("mirror interrupted after %d of %d images: %w", n, len(todo), err)
	}
	if rl, err := mm.RepoList(keys); err != nil {
		res.RepoListErr = err.Error()
	} else {
		res.RepoList = rl
	}
	return res, nil
}
