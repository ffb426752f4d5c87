package imagemap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/release"
)

// The header of imagemap.yaml.
const (
	APIVersion = "confrun.dev/v1alpha1"
	Kind       = "ImageMap"
)

// File is the content of imagemap.yaml: the settings a person edits
// (arch ... overrides) and the resolved table (images) that prepull and run
// read.
type File struct {
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	Kind       string `json:"kind" yaml:"kind"`
	// Arch is the architecture the targets are built for, in any
	// spelling arch.Parse accepts (mips64el, mips64le, loongarch64).
	Arch string `json:"arch" yaml:"arch"`
	// Release is the Kubernetes release (v1.34).
	Release string `json:"release" yaml:"release"`
	// KubernetesVersion tags the conformance image (default: the release's
	// newest patch that confrun knows).
	KubernetesVersion string `json:"kubernetesVersion,omitempty" yaml:"kubernetesVersion,omitempty"`
	// SonobuoyVersion tags the sonobuoy image.
	SonobuoyVersion string `json:"sonobuoyVersion,omitempty" yaml:"sonobuoyVersion,omitempty"`
	// SystemdLogs adds sonobuoy's systemd-logs plugin image.
	SystemdLogs bool `json:"systemdLogs,omitempty" yaml:"systemdLogs,omitempty"`
	// DefaultRegistry receives every image that no override or rule
	// maps, under its upstream repository path.
	DefaultRegistry string `json:"defaultRegistry,omitempty" yaml:"defaultRegistry,omitempty"`
	// Rules are tried top to bottom; the first that matches wins.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`
	// Overrides map one upstream reference to one target; they win over
	// rules.
	Overrides map[string]string `json:"overrides,omitempty" yaml:"overrides,omitempty"`
	// Images is the resolved table, written by `confrun images map`.
	Images []Entry `json:"images,omitempty" yaml:"images,omitempty"`
}

// Entry is one row of the resolved table: an upstream image and where the
// cluster gets it.
type Entry struct {
	// Upstream is the reference the e2e suite or the run uses.
	Upstream string `json:"upstream" yaml:"upstream"`
	// Target is the reference to pull for the map's architecture.
	Target string `json:"target" yaml:"target"`
	// Kind says where the image comes from: e2e, csi, literal, run.
	Kind inventory.Kind `json:"kind" yaml:"kind"`
	// Roles: manifest.go's ImageID (Agnhost) and/or the run's role
	// (conformance, sonobuoy, systemd-logs, pause).
	Roles []string `json:"roles,omitempty" yaml:"roles,omitempty,flow"`
	// Pull is false for images no node should pull (Reason says why);
	// prepull skips them and verify does not check them.
	Pull   bool   `json:"pull" yaml:"pull"`
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// RegistryKey is the e2e repo-list key that moves this image.
	RegistryKey string `json:"registryKey,omitempty" yaml:"registryKey,omitempty"`
	// Via says which setting produced Target: override, rule N,
	// defaultRegistry, upstream (nothing matched) or not-pulled.
	Via string `json:"via,omitempty" yaml:"via,omitempty"`
}

// HasRole reports whether the entry plays role.
func (e Entry) HasRole(role string) bool {
	for _, r := range e.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Via values.
const (
	ViaOverride        = "override"
	ViaDefaultRegistry = "defaultRegistry"
	ViaUpstream        = "upstream"
	ViaNotPulled       = "not-pulled"
)

// ReadFile reads and checks imagemap.yaml without requiring a table (the
// input of `confrun images map --config`).
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading image map: %w", err)
	}
	f, err := parseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func parseFile(b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty file: an image map starts with apiVersion: %s and kind: %s", APIVersion, Kind)
		}
		return nil, fmt.Errorf("not a valid image map: %w", err)
	}
	if f.APIVersion != APIVersion || f.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q, kind %q: an image map has apiVersion: %s and kind: %s", f.APIVersion, f.Kind, APIVersion, Kind)
	}
	if _, err := compileRules(f.Rules); err != nil {
		return nil, err
	}
	for u, t := range f.Overrides {
		if _, _, err := ParseOverrideFlag(u + "=" + t); err != nil {
			return nil, err
		}
	}
	if f.DefaultRegistry != "" {
		if err := checkRegistry(f.DefaultRegistry); err != nil {
			return nil, fmt.Errorf("defaultRegistry: %w", err)
		}
	}
	seen := map[string]bool{}
	for i, e := range f.Images {
		if e.Upstream == "" || e.Target == "" {
			return nil, fmt.Errorf("images[%d] needs both upstream and target", i)
		}
		if seen[e.Upstream] {
			return nil, fmt.Errorf("images: %s is listed twice", e.Upstream)
		}
		seen[e.Upstream] = true
		if e.Pull {
			if _, err := ParseRef(e.Target); err != nil {
				return nil, fmt.Errorf("images[%d] (%s): target: %w", i, e.Upstream, err)
			}
		}
	}
	return &f, nil
}

// checkRegistry accepts host[:port][/path] without scheme or tag.
func checkRegistry(r string) error {
	if strings.Contains(r, "://") {
		return fmt.Errorf("%q: write the registry without a scheme (127.0.0.1:5000, registry.example/mirror)", r)
	}
	if _, err := ParseRef(strings.TrimSuffix(r, "/") + "/x:y"); err != nil {
		return fmt.Errorf("%q is not a registry[/path]: %w", r, err)
	}
	return nil
}

// Map is a loaded image map: its settings and resolved table.
type Map struct {
	file    File
	arch    arch.Arch
	release release.Release
}

// LoadMap reads the image map at path (written by `confrun images map`)
// for the other steps: it must hold a resolved table.
func LoadMap(path string) (*Map, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := newMap(*f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.file.Images) == 0 {
		return nil, fmt.Errorf("%s has no images table: run `confrun images map --config %s --force` to resolve it", path, path)
	}
	return m, nil
}

func newMap(f File) (*Map, error) {
	if f.Arch == "" {
		return nil, fmt.Errorf("no arch: say which architecture the targets are built for (arch: mips64el)")
	}
	a, err := arch.Parse(f.Arch)
	if err != nil {
		return nil, err
	}
	if f.Release == "" {
		return nil, fmt.Errorf("no release: say which Kubernetes release the map is for (release: v1.34)")
	}
	r, err := release.Parse(f.Release)
	if err != nil {
		return nil, err
	}
	return &Map{file: f, arch: a, release: r}, nil
}

// Arch is the architecture the targets are for.
func (m *Map) Arch() arch.Arch { return m.arch }

// Release is the Kubernetes release the map is for.
func (m *Map) Release() release.Release { return m.release }

// File returns a copy of the map's content.
func (m *Map) File() File {
	f := m.file
	f.Images = m.Entries()
	f.Rules = append([]Rule(nil), m.file.Rules...)
	f.Overrides = map[string]string{}
	for k, v := range m.file.Overrides {
		f.Overrides[k] = v
	}
	return f
}

// Entries returns the resolved table, in the map's order (the run's own
// images first).
func (m *Map) Entries() []Entry {
	out := make([]Entry, len(m.file.Images))
	for i, e := range m.file.Images {
		e.Roles = append([]string(nil), e.Roles...)
		out[i] = e
	}
	return out
}

// Pulled returns the entries a node should hold (Pull is true).
func (m *Map) Pulled() []Entry {
	var out []Entry
	for _, e := range m.Entries() {
		if e.Pull {
			out = append(out, e)
		}
	}
	return out
}

// Lookup returns the entry of an upstream reference ("nginx:1.27" finds
// docker.io/library/nginx:1.27 too).
func (m *Map) Lookup(upstream string) (Entry, bool) {
	want := upstream
	if r, err := ParseRef(upstream); err == nil {
		want = r.String()
	}
	for _, e := range m.file.Images {
		if e.Upstream == upstream {
			return e, true
		}
		if r, err := ParseRef(e.Upstream); err == nil && r.String() == want {
			return e, true
		}
	}
	return Entry{}, false
}

// Image returns the entry playing role: inventory.RoleConformance,
// RoleSonobuoy, RoleSystemdLogs, RolePause, or an e2e ImageID (Agnhost).
func (m *Map) Image(role string) (Entry, bool) {
	for _, e := range m.file.Images {
		if e.HasRole(role) {
			return e, true
		}
	}
	return Entry{}, false
}

var fieldComments = map[string]string{
	"arch":            "Architecture the targets are built for (Debian, Go or uname name).",
	"release":         "Kubernetes release whose e2e images this maps.",
	"defaultRegistry": "Images that no override or rule maps go here, under their upstream repository path.",
	"rules": `Tried top to bottom, the first whose match (a registry or repository prefix, or "*") fits wins.
Template values: {{.Registry}} {{.Repository}} {{.Name}} {{.Rest}} {{.Tag}} {{.Digest}}
{{.Arch}} (Go name) {{.DebArch}} (Debian name) {{.Uname}} {{.DefaultRegistry}};
functions: replace OLD NEW, lower, trimPrefix PREFIX.`,
	"overrides": "upstream reference: target reference. Wins over rules.",
	"images": `The resolved table (written by confrun images map; prepull, run and verify read it).
Edit rules and overrides above and re-run; a target edited here by hand is kept as an override.`,
}

// Marshal renders the map as commented YAML.
func (m *Map) Marshal() ([]byte, error) {
	f := m.File()
	if len(f.Overrides) == 0 {
		f.Overrides = nil
	}
	var doc yaml.Node
	if err := doc.Encode(&f); err != nil {
		return nil, fmt.Errorf("encoding image map: %w", err)
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if c, ok := fieldComments[doc.Content[i].Value]; ok {
			doc.Content[i].HeadComment = c
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# confrun image map: every image a conformance run needs and where to pull it for one architecture.\n")
	buf.WriteString("# Made by `confrun images map`; check it with `confrun images verify`.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encoding image map: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFile writes the map to path atomically; an existing file is
// replaced only with force.
func (m *Map) WriteFile(path string, force bool) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, atomicfile.Options{Force: force})
}
