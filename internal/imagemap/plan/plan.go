// Package plan tells a porting team, for each image it still has to build,
// where upstream builds it, which VERSION that source is at, and which base
// image upstream uses for the architecture (from the embedded BASEIMAGE
// files), and whether that base exists for it: alpine has no mips64el, so
// the agnhost recipe needs another base before the first build starts.
package plan

import (
	"context"
	"fmt"
	"strings"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/release"
)

// Base verdicts.
const (
	BaseUpstream = "upstream"  // BASEIMAGE names a base for the arch
	BaseExists   = "exists"    // no line for the arch, but the base family has it
	BaseMissing  = "missing"   // the base family has no image for the arch
	BaseUnknown  = "unknown"   // confrun cannot tell (use --check-bases)
	BaseNone     = "not-known" // the source has no BASEIMAGE (external project)
)

// Step is what to do for one image.
type Step struct {
	Upstream string `json:"upstream"`
	Target   string `json:"target,omitempty"`
	// Status is the target's verify status (empty when not checked).
	Status registry.Status `json:"status,omitempty"`
	Detail string          `json:"detail,omitempty"`
	// Source is where upstream builds the image.
	Source string `json:"source,omitempty"`
	// Version is the VERSION file of that source at this release.
	Version string `json:"version,omitempty"`
	// UpstreamPlatforms are the Linux platforms BASEIMAGE lists.
	UpstreamPlatforms []string `json:"upstreamPlatforms,omitempty"`
	// Base is the base image upstream uses for the arch, or for amd64
	// when it has none for the arch (see BaseVerdict).
	Base        string `json:"base,omitempty"`
	BaseVerdict string `json:"baseVerdict"`
	// BaseCheck is the registry's answer for Base on linux/ARCH, with
	// Options.CheckBases.
	BaseCheck registry.Status `json:"baseCheck,omitempty"`
	// Advice is what to do, in a sentence or two.
	Advice string `json:"advice,omitempty"`
}

// Options say what to plan for.
type Options struct {
	Arch arch.Arch
	// Module is the kubernetes version the sources were read from.
	Module string
	// Keys are the release's repo-list keys; Sources its test/images.
	Keys    []release.RegistryKey
	Sources []release.ImageSource
	// Statuses are verify results by target; entries whose target is ok
	// are left out unless All is set.
	Statuses map[string]registry.Result
	All      bool
	// CheckBase, if set, asks a registry whether a base exists for Arch.
	CheckBase func(ctx context.Context, ref string) registry.Result
}

// Make returns a step for every pulled entry still to build.
func Make(ctx context.Context, entries []imagemap.Entry, o Options) []Step {
	var out []Step
	for _, e := range entries {
		if !e.Pull {
			continue
		}
		st := Step{Upstream: e.Upstream, Target: e.Target}
		if r, ok := o.Statuses[e.Target]; ok {
			st.Status, st.Detail = r.Status, r.Detail
			if r.Status == registry.StatusOK && !o.All {
				continue
			}
		}
		src, dir, note := source(e, o.Keys, o.Sources, o.Module)
		st.Source = src
		var advice []string
		if note != "" {
			advice = append(advice, note)
		}
		st.BaseVerdict = BaseNone
		if dir != nil {
			st.Version = dir.Version
			advice = append(advice, base(ctx, &st, dir, o)...)
		}
		switch st.Status {
		case registry.StatusUnauthorized, registry.StatusUnreachable:
			advice = append([]string{"could not check the target (" + string(st.Status) + "): it may exist already"}, advice...)
		}
		st.Advice = strings.Join(advice, "; ")
		out = append(out, st)
	}
	return out
}

// base fills in the base image facts of a test/images source.
func base(ctx context.Context, st *Step, dir *release.ImageSource, o Options) []string {
	platform := "linux/" + o.Arch.GOARCH
	for _, b := range dir.Bases {
		if strings.HasPrefix(b.Platform, "linux/") {
			st.UpstreamPlatforms = append(st.UpstreamPlatforms, b.Platform)
		}
	}
	if len(dir.Bases) == 0 {
		st.BaseVerdict = BaseNone
		return []string{"test/images/" + dir.Dir + " has no BASEIMAGE file"}
	}
	if b, ok := dir.Base(platform); ok {
		st.Base, st.BaseVerdict = b, BaseUpstream
		return []string{fmt.Sprintf("upstream builds %s on %s: use the upstream recipe", platform, b)}
	}
	amd, ok := dir.Base("linux/amd64")
	if !ok {
		st.BaseVerdict = BaseUnknown
		return []string{fmt.Sprintf("BASEIMAGE has no line for %s or linux/amd64", platform)}
	}
	st.Base = amd
	if rest, ok := strings.CutPrefix(amd, "REGISTRY/"); ok {
		// BASEIMAGE's REGISTRY is the e2e registry: built on another test image.
		st.BaseVerdict = BaseUnknown
		return []string{fmt.Sprintf("upstream has no %s base; it builds on the e2e image %s (REGISTRY is the e2e registry): build that for %s first and use it as the base",
			platform, strings.SplitN(rest, "-linux-", 2)[0], platform)}
	}
	var advice []string
	lead := fmt.Sprintf("upstream has no %s base (it builds %s); its amd64 base is %s", platform, strings.Join(st.UpstreamPlatforms, ", "), amd)
	verdict, note := knows(amd, o.Arch)
	if o.CheckBase != nil {
		r := o.CheckBase(ctx, dockerHubRef(amd))
		st.BaseCheck = r.Status
		switch r.Status {
		case registry.StatusOK:
			verdict = "yes"
		case registry.StatusWrongArch, registry.StatusMissing:
			verdict = "no"
		}
	}
	switch verdict {
	case "yes":
		st.BaseVerdict = BaseExists
		advice = append(advice, lead+fmt.Sprintf(", which exists for %s: add a %s line to BASEIMAGE", platform, platform))
	case "no":
		st.BaseVerdict = BaseMissing
		advice = append(advice, lead+fmt.Sprintf(", which has no %s image: choose another base (%s)", platform, alternatives))
	default:
		st.BaseVerdict = BaseUnknown
		advice = append(advice, lead+fmt.Sprintf("; confrun does not know whether it exists for %s (--check-bases asks its registry)", platform))
	}
	if note != "" {
		advice = append(advice, note)
	}
	return advice
}
