package imagemap

import (
	"fmt"
	"sort"
	"strings"

	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/release"
)

// Resolve maps every image of inv by f's settings (arch, defaultRegistry,
// rules, overrides), in this order: an override for the exact reference;
// the first rule whose match is a prefix of it; the default registry under
// the upstream repository path; else the upstream reference itself. Images
// not meant to be pulled keep their upstream reference unless overridden.
// Warnings name overrides that match no image and targets shared by two
// images.
func Resolve(inv *inventory.Inventory, f File) (*Map, []string, error) {
	f.APIVersion, f.Kind = APIVersion, Kind
	if f.Release == "" {
		f.Release = inv.Release.String()
	}
	m, err := newMap(f)
	if err != nil {
		return nil, nil, err
	}
	rules, err := compileRules(f.Rules)
	if err != nil {
		return nil, nil, err
	}
	if f.DefaultRegistry != "" {
		if err := checkRegistry(f.DefaultRegistry); err != nil {
			return nil, nil, fmt.Errorf("default registry: %w", err)
		}
	}
	overrides := map[string]string{}
	for u, t := range f.Overrides {
		if _, _, err := ParseOverrideFlag(u + "=" + t); err != nil {
			return nil, nil, err
		}
		overrides[canonical(u)] = t
	}
	used := map[string]bool{}
	var entries []Entry
	for _, im := range inv.Images {
		e := Entry{Upstream: im.Ref, Kind: im.Kind, Roles: append([]string(nil), im.Roles...), Pull: im.Pull,
			Reason: im.Reason, RegistryKey: im.RegistryKey}
		if t, ok := overrides[canonical(im.Ref)]; ok {
			e.Target, e.Via = t, ViaOverride
			used[canonical(im.Ref)] = true
		} else if !im.Pull {
			e.Target, e.Via = im.Ref, ViaNotPulled
		} else if e.Target, e.Via, err = target(im.Ref, rules, m, f.DefaultRegistry); err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	m.file.Images = entries
	var warnings []string
	for u := range overrides {
		if !used[u] {
			warnings = append(warnings, fmt.Sprintf("override for %s matches no image of %s", u, inv.Release))
		}
	}
	sort.Strings(warnings)
	warnings = append(warnings, sharedTargets(entries)...)
	return m, warnings, nil
}

// canonical spells a reference out (nginx:1.27 -> docker.io/library/nginx:1.27)
// so that overrides match however they are written.
func canonical(ref string) string {
	if r, err := ParseRef(ref); err == nil {
		return r.String()
	}
	return ref
}

func target(upstream string, rules []compiledRule, m *Map, defaultRegistry string) (string, string, error) {
	ref, err := ParseRef(upstream)
	if err != nil {
		return "", "", fmt.Errorf("upstream image %s: %w", upstream, err)
	}
	for _, r := range rules {
		if rest, ok := r.matches(ref); ok {
			t, err := r.execute(templateData(ref, m.arch, defaultRegistry, rest))
			if err != nil {
				return "", "", err
			}
			return t, fmt.Sprintf("rule %d", r.index), nil
		}
	}
	if defaultRegistry != "" {
		return under(defaultRegistry, ref), ViaDefaultRegistry, nil
	}
	return upstream, ViaUpstream, nil
}

// under places ref's repository, tag and digest below registry[/path]:
// the upstream-compatible layout of a default registry or a mirror.
func under(registry string, ref Ref) string {
	moved := ref
	moved.Registry = strings.TrimSuffix(registry, "/")
	return moved.String()
}

// sharedTargets warns when two pulled images end up at the same target.
func sharedTargets(entries []Entry) []string {
	by := map[string][]string{}
	var order []string
	for _, e := range entries {
		if !e.Pull {
			continue
		}
		if len(by[e.Target]) == 0 {
			order = append(order, e.Target)
		}
		by[e.Target] = append(by[e.Target], e.Upstream)
	}
	var out []string
	for _, t := range order {
		if len(by[t]) > 1 {
			out = append(out, fmt.Sprintf("%s is the target of %d images (%s): add {{.Repository}} or {{.Tag}} to the rule, or an override",
				t, len(by[t]), strings.Join(by[t], ", ")))
		}
	}
	return out
}

// MakeOptions are the inputs of `confrun images map`.
type MakeOptions struct {
	// Config is an existing imagemap.yaml to start from (optional).
	Config string
	// Arch, Release, DefaultRegistry, KubernetesVersion, SonobuoyVersion
	// replace the config's values when set.
	Arch, Release, DefaultRegistry     string
	KubernetesVersion, SonobuoyVersion string
	// SystemdLogs, when set, replaces the config's value.
	SystemdLogs *bool
	// Rules (MATCH=TEMPLATE) are added after the config's rules;
	// Overrides (UPSTREAM=TARGET) replace the config's for the same image.
	Rules, Overrides []string
	// Inventory, if set, is used instead of the embedded one (for images
	// listed from a cluster).
	Inventory *inventory.Inventory
}

// Make builds an image map from a config file and command-line settings.
// Notes say what it decided on the user's behalf; warnings are from
// Resolve. Every error is a problem with the inputs.
func Make(o MakeOptions) (m *Map, inv *inventory.Inventory, notes []string, err error) {
	f := &File{APIVersion: APIVersion, Kind: Kind}
	if o.Config != "" {
		if f, err = ReadFile(o.Config); err != nil {
			return nil, nil, nil, err
		}
		kept, err := keptEdits(f)
		if err != nil {
			notes = append(notes, fmt.Sprintf("could not check %s for hand-edited targets: %v", o.Config, err))
		}
		for u, t := range kept {
			if f.Overrides == nil {
				f.Overrides = map[string]string{}
			}
			f.Overrides[u] = t
			notes = append(notes, fmt.Sprintf("kept your edited target of %s as an override: %s", u, t))
		}
		sort.Strings(notes)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&f.Arch, o.Arch)
	set(&f.Release, o.Release)
	set(&f.DefaultRegistry, o.DefaultRegistry)
	set(&f.KubernetesVersion, o.KubernetesVersion)
	set(&f.SonobuoyVersion, o.SonobuoyVersion)
	if o.SystemdLogs != nil {
		f.SystemdLogs = *o.SystemdLogs
	}
	for _, s := range o.Rules {
		r, err := ParseRuleFlag(s)
		if err != nil {
			return nil, nil, nil, err
		}
		f.Rules = append(f.Rules, r)
	}
	for _, s := range o.Overrides {
		u, t, err := ParseOverrideFlag(s)
		if err != nil {
			return nil, nil, nil, err
		}
		if f.Overrides == nil {
			f.Overrides = map[string]string{}
		}
		f.Overrides[u] = t
	}
	if f.Arch == "" {
		return nil, nil, nil, fmt.Errorf("no architecture: pass --arch (mips64el, loong64, riscv64, ...)")
	}
	inv = o.Inventory
	if inv == nil {
		if f.Release == "" {
			f.Release = release.Latest().String()
			notes = append(notes, fmt.Sprintf("no release given: mapping %s, the newest confrun knows (pass --release)", f.Release))
		}
		if inv, err = inventoryOf(f); err != nil {
			return nil, nil, nil, err
		}
	}
	if f.Release == "" {
		f.Release = inv.Release.String()
	}
	m, warnings, err := Resolve(inv, *f)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, inv, append(notes, warnings...), nil
}

func inventoryOf(f *File) (*inventory.Inventory, error) {
	r, err := release.Parse(f.Release)
	if err != nil {
		return nil, err
	}
	if err := release.Check(r); err != nil {
		return nil, fmt.Errorf("%w; for a newer cluster list its images with `confrun images list --from-cluster`", err)
	}
	return inventory.ForRelease(r, inventory.Options{KubernetesVersion: f.KubernetesVersion,
		SonobuoyVersion: f.SonobuoyVersion, SystemdLogs: f.SystemdLogs})
}

// keptEdits finds rows of f's table whose target differs from what f's own
// settings produce and that no override explains: targets edited by hand.
func keptEdits(f *File) (map[string]string, error) {
	if len(f.Images) == 0 {
		return nil, nil
	}
	inv, err := inventoryOf(f)
	if err != nil {
		return nil, err
	}
	m, _, err := Resolve(inv, *f)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, row := range f.Images {
		if _, ok := f.Overrides[row.Upstream]; ok {
			continue
		}
		if e, ok := m.Lookup(row.Upstream); ok && e.Target != row.Target {
			out[row.Upstream] = row.Target
		}
	}
	return out, nil
}

// ViaMirror marks targets that `confrun images mirror` copied.
const ViaMirror = "mirror"

// Mirrored returns the map that points at a mirror in registry to: every
// pulled image under its upstream repository path below to (what
// defaultRegistry does), so that an e2e repo list alone can redirect the
// suite. Entries not pulled are unchanged.
func (m *Map) Mirrored(to string) (*Map, error) {
	if err := checkRegistry(to); err != nil {
		return nil, err
	}
	f := m.File()
	f.DefaultRegistry, f.Rules, f.Overrides = strings.TrimSuffix(to, "/"), nil, nil
	for i, e := range f.Images {
		if !e.Pull {
			continue
		}
		ref, err := ParseRef(e.Upstream)
		if err != nil {
			return nil, fmt.Errorf("upstream image %s: %w", e.Upstream, err)
		}
		f.Images[i].Target, f.Images[i].Via = under(to, ref), ViaMirror
	}
	return &Map{file: f, arch: m.arch, release: m.release}, nil
}
