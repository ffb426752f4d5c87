package imagemap

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/confrun/confrun/internal/arch"
)

// Rule maps every upstream image under a registry or repository prefix to a
// target through a template.
type Rule struct {
	// Match is a registry (registry.k8s.io), a repository prefix
	// (registry.k8s.io/e2e-test-images, docker.io/sonobuoy) or "*" for
	// every image. It matches whole path elements only.
	Match string `json:"match" yaml:"match"`
	// Target is a Go template of the target reference; see TemplateData.
	Target string `json:"target" yaml:"target"`
}

// TemplateData are the values a rule's target template can use.
type TemplateData struct {
	// Registry is the upstream registry host (registry.k8s.io).
	Registry string
	// Repository is the upstream path below it (e2e-test-images/agnhost).
	Repository string
	// Name is the repository's last element (agnhost).
	Name string
	// Rest is the repository path after the rule's Match prefix (agnhost
	// for match registry.k8s.io/e2e-test-images; volume/nfs for .../volume/nfs).
	Rest string
	// Tag and Digest of the upstream reference.
	Tag    string
	Digest string
	// Arch is the Go/OCI name of the map's architecture (mips64le), DebArch
	// Debian's (mips64el), Uname what uname -m prints (mips64).
	Arch    string
	DebArch string
	Uname   string
	// DefaultRegistry is the map's defaultRegistry.
	DefaultRegistry string
}

var templateFuncs = template.FuncMap{
	// replace OLD NEW S, for pipelines: {{.Repository | replace "/" "-"}}
	"replace": func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"lower":   strings.ToLower,
	// trimPrefix PREFIX S
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
}

// compiledRule is a Rule ready to apply.
type compiledRule struct {
	Rule
	index  int
	prefix string // normalized Match, "" for "*"
	tmpl   *template.Template
}

// normalizeMatch turns a Match into a path prefix: no scheme, no trailing
// slash, Docker Hub spelled out.
func normalizeMatch(m string) string {
	m = strings.TrimSpace(m)
	if m == "*" {
		return ""
	}
	m = strings.TrimSuffix(m, "/")
	if m == "index.docker.io" || strings.HasPrefix(m, "index.docker.io/") {
		m = "docker.io" + strings.TrimPrefix(m, "index.docker.io")
	}
	return m
}

func compileRules(rules []Rule) ([]compiledRule, error) {
	out := make([]compiledRule, 0, len(rules))
	for i, r := range rules {
		where := fmt.Sprintf("rule %d (match %q)", i+1, r.Match)
		if strings.TrimSpace(r.Match) == "" {
			return nil, fmt.Errorf("rule %d has no match: give a registry or repository prefix such as registry.k8s.io, or \"*\"", i+1)
		}
		if strings.Contains(r.Match, "://") {
			return nil, fmt.Errorf("%s: write the registry without a scheme (registry.k8s.io, not https://registry.k8s.io)", where)
		}
		if strings.TrimSpace(r.Target) == "" {
			return nil, fmt.Errorf("%s has no target template", where)
		}
		t, err := template.New(where).Funcs(templateFuncs).Option("missingkey=error").Parse(r.Target)
		if err != nil {
			return nil, fmt.Errorf("%s: bad target template: %w", where, err)
		}
		cr := compiledRule{Rule: r, index: i + 1, prefix: normalizeMatch(r.Match), tmpl: t}
		// Fail now, not per image, on templates that cannot work.
		sample := TemplateData{Registry: "registry.k8s.io", Repository: "e2e-test-images/agnhost", Name: "agnhost", Rest: "agnhost",
			Tag: "2.56", Arch: "amd64", DebArch: "amd64", Uname: "x86_64", DefaultRegistry: "registry.example"}
		if _, err := cr.execute(sample); err != nil {
			return nil, err
		}
		out = append(out, cr)
	}
	return out, nil
}

// matches reports whether the rule applies to ref and returns the rest of
// the repository after its prefix.
func (c compiledRule) matches(ref Ref) (string, bool) {
	if c.prefix == "" {
		return ref.Repository, true
	}
	p := ref.Path()
	if p == c.prefix {
		return "", true
	}
	if strings.HasPrefix(p, c.prefix+"/") {
		return strings.TrimPrefix(p, c.prefix+"/"), true
	}
	return "", false
}

func (c compiledRule) execute(d TemplateData) (string, error) {
	var buf bytes.Buffer
	if err := c.tmpl.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("rule %d (match %q): %w", c.index, c.Match, err)
	}
	target := strings.TrimSpace(buf.String())
	if _, err := ParseRef(target); err != nil {
		return "", fmt.Errorf("rule %d (match %q) makes %q of %s: %w (end the template with :{{.Tag}})", c.index, c.Match, target,
			d.Registry+"/"+d.Repository, err)
	}
	return target, nil
}

func templateData(ref Ref, a arch.Arch, defaultRegistry, rest string) TemplateData {
	return TemplateData{Registry: ref.Registry, Repository: ref.Repository, Name: ref.Name(), Rest: rest, Tag: ref.Tag,
		Digest: ref.Digest, Arch: a.GOARCH, DebArch: a.Debian, Uname: a.Uname, DefaultRegistry: defaultRegistry}
}

// ParseRuleFlag reads a rule written as MATCH=TEMPLATE on the command line.
func ParseRuleFlag(s string) (Rule, error) {
	m, t, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(m) == "" || strings.TrimSpace(t) == "" {
		return Rule{}, fmt.Errorf("rule %q: write it as MATCH=TEMPLATE, e.g. 'registry.k8s.io={{.DefaultRegistry}}/{{.Name}}-{{.DebArch}}:{{.Tag}}'", s)
	}
	return Rule{Match: strings.TrimSpace(m), Target: strings.TrimSpace(t)}, nil
}

// ParseOverrideFlag reads an override written as UPSTREAM=TARGET.
func ParseOverrideFlag(s string) (string, string, error) {
	u, t, ok := strings.Cut(s, "=")
	u, t = strings.TrimSpace(u), strings.TrimSpace(t)
	if !ok || u == "" || t == "" {
		return "", "", fmt.Errorf("override %q: write it as UPSTREAM=TARGET, e.g. registry.k8s.io/pause:3.10.1=reg.example/pause-mips64el:3.10.1", s)
	}
	if _, err := ParseRef(u); err != nil {
		return "", "", fmt.Errorf("override %q: %w", s, err)
	}
	if _, err := ParseRef(t); err != nil {
		return "", "", fmt.Errorf("override %q: %w", s, err)
	}
	return u, t, nil
}
