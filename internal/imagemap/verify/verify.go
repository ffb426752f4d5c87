// Package verify checks every pulled target of an image map in its
// registry: reachable, the tag exists, and it holds an image for the map's
// architecture. Checks run concurrently with a bound.
package verify

import (
	"context"
	"fmt"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/internal/parallel"
	"github.com/confrun/confrun/internal/imagemap/registry"
)

// DefaultConcurrency is how many references are checked at once.
const DefaultConcurrency = 16

// Item is one checked image.
type Item struct {
	Upstream string `json:"upstream"`
	Target   string `json:"target"`
	registry.Result
	// Blobs are the config and layers of the image for the architecture,
	// with their stored (compressed) sizes. Set with Options.Sizes.
	Blobs []registry.Blob `json:"-"`
}

// Report is the outcome of a verification.
type Report struct {
	Arch  string `json:"arch"`
	Items []Item `json:"images"`
	// Counts per status.
	Counts map[registry.Status]int `json:"counts"`
	// NotPulled counts the entries not meant to be pulled, not checked.
	NotPulled int `json:"notPulled"`
}

// OK reports whether every checked image is ok.
func (r *Report) OK() bool { return r.Counts[registry.StatusOK] == len(r.Items) }

// Failed returns the items that are not ok.
func (r *Report) Failed() []Item {
	var out []Item
	for _, it := range r.Items {
		if it.Status != registry.StatusOK {
			out = append(out, it)
		}
	}
	return out
}

// Options tune Run.
type Options struct {
	// Concurrency bounds the checks in flight (default DefaultConcurrency).
	Concurrency int
	// OnResult, if set, is called after each check, in the order checks
	// finish, from Run's goroutine; done counts finished checks.
	OnResult func(done, total int, it Item)
	// Sizes also reads the manifest of each ok image for its
	// architecture (one more request for an index), for Item.Blobs. An
	// image whose manifest cannot be read is then
	// reported with the status that read gives.
	Sizes bool
}

// Run checks every entry with Pull set, for architecture a, and returns
// the report in the entries' order. It returns an error only when ctx ends
// first.
func Run(ctx context.Context, c *registry.Client, entries []imagemap.Entry, a arch.Arch, o Options) (*Report, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	rep := &Report{Arch: a.Platform(), Counts: map[registry.Status]int{}}
	var todo []imagemap.Entry
	for _, e := range entries {
		if e.Pull {
			todo = append(todo, e)
		} else {
			rep.NotPulled++
		}
	}
	n := 0
	rep.Items = parallel.Map(len(todo), o.Concurrency, func(i int) Item {
		it := Item{Upstream: todo[i].Upstream, Target: todo[i].Target, Result: c.Inspect(ctx, todo[i].Target, a)}
		if o.Sizes && it.Status == registry.StatusOK {
			blobs, err := c.ResultBlobs(ctx, it.Result)
			if err != nil {
				it.Status, it.Detail = registry.Classify(err)
				return it
			}
			it.Blobs = blobs
		}
		return it
	}, func(done int, it Item) {
		n = done
		rep.Counts[it.Status]++
		if o.OnResult != nil {
			o.OnResult(done, len(todo), it)
		}
	})
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("verification interrupted after %d of %d images: %w", n, len(todo), err)
	}
	return rep, nil
}
