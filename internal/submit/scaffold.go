package submit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/release"
)

// InitOptions configure Init.
type InitOptions struct {
	// ResultsDir holds the vX.Y/<product> folders (default "results").
	ResultsDir string
	// Release is vX.Y; empty means the release of the one existing
	// results/vX.Y/<product> folder, else the newest confrun knows.
	Release string
	// ProductDir is the folder name, results/vX.Y/<ProductDir>.
	ProductDir string
	// FromFile is a YAML file with PRODUCT.yaml fields; Product's non-empty
	// fields override it.
	FromFile string
	Product  Product
	// Arch, ImageMap, Nodes and Commands record how the run was made.
	Arch     string
	ImageMap string
	Nodes    []string
	Commands []string
	// Force overwrites existing README.md and PRODUCT.yaml.
	Force bool
	// Prompt, when set (on a terminal), asks for required fields still
	// empty. Nil asks nothing.
	Prompt func(f ProductField) (string, error)
}

// InitResult is what Init wrote.
type InitResult struct {
	Dir     string   `json:"dir"`
	Release string   `json:"release"`
	Written []string `json:"written"`
	// Missing lists required PRODUCT.yaml fields left empty.
	Missing []string `json:"missing,omitempty"`
	// ImageMap is the image map recorded in README.md.
	ImageMap string `json:"imageMap,omitempty"`
}

// Init scaffolds results/vX.Y/<product>/PRODUCT.yaml and README.md. It
// never overwrites them without Force.
func Init(ctx context.Context, o InitOptions) (*InitResult, error) {
	if o.ResultsDir == "" {
		o.ResultsDir = "results"
	}
	if !productNameRE.MatchString(o.ProductDir) {
		return nil, fmt.Errorf("--product %q: use letters, digits, '.', '_' or '-' (it names the folder, the branch and the pull request)", o.ProductDir)
	}
	rel, err := initRelease(o)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.ResultsDir, rel.String(), o.ProductDir)
	p := &Product{}
	if o.FromFile != "" {
		if p, err = ReadProduct(o.FromFile); err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
	}
	for _, f := range ProductFields {
		if v := o.Product.Get(f.Key); v != "" {
			_ = p.Set(f.Key, v)
		}
	}
	if o.Prompt != nil {
		for _, f := range ProductFields {
			if !f.Required || p.Get(f.Key) != "" {
				continue
			}
			v, err := o.Prompt(f)
			if err != nil {
				return nil, err
			}
			_ = p.Set(f.Key, strings.TrimSpace(v))
		}
	}
	var a *arch.Arch
	if o.Arch != "" {
		parsed, err := arch.Parse(o.Arch)
		if err != nil {
			return nil, fmt.Errorf("--arch: %w", err)
		}
		a = &parsed
	}
	imageMap := o.ImageMap
	if imageMap == "" {
		if _, err := os.Stat(filepath.Join(dir, "imagemap.yaml")); err == nil {
			imageMap = filepath.Join(dir, "imagemap.yaml")
		}
	}
	var mapContent []byte
	if imageMap != "" {
		if mapContent, err = os.ReadFile(imageMap); err != nil {
			return nil, fmt.Errorf("--image-map: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	yml, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	header := "# PRODUCT.yaml of a cncf/k8s-conformance submission; check it with `confrun verify " + dir + "`.\n"
	readme := renderReadme(ctx, p, rel, dir, a, o, imageMap, mapContent)
	res := &InitResult{Dir: dir, Release: rel.String(), Missing: p.Missing(), ImageMap: imageMap}
	for _, w := range []struct {
		name string
		data []byte
	}{{FileProduct, append([]byte(header), yml...)}, {FileReadme, []byte(readme)}} {
		path := filepath.Join(dir, w.name)
		if err := atomicfile.WriteFile(path, w.data, atomicfile.Options{Force: o.Force}); err != nil {
			return res, err
		}
		res.Written = append(res.Written, path)
	}
	return res, ctx.Err()
}

func initRelease(o InitOptions) (release.Release, error) {
	if o.Release != "" {
		r, err := release.Parse(o.Release)
		if err != nil {
			return r, fmt.Errorf("--release: %w", err)
		}
		return r, nil
	}
	matches, _ := filepath.Glob(filepath.Join(o.ResultsDir, "v*", o.ProductDir))
	var found []release.Release
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			if r, err := release.Parse(filepath.Base(filepath.Dir(m))); err == nil {
				found = append(found, r)
			}
		}
	}
	switch len(found) {
	case 0:
		return release.Latest(), nil
	case 1:
		return found[0], nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Less(found[j]) })
	var names []string
	for _, r := range found {
		names = append(names, r.String())
	}
	return release.Release{}, fmt.Errorf("results for %s exist for several releases (%s): pass --release", o.ProductDir, strings.Join(names, ", "))
}

func orPlaceholder(v, what string) string {
	if v == "" {
		return "<" + what + ">"
	}
	return v
}

func renderReadme(ctx context.Context, p *Product, rel release.Release, dir string, a *arch.Arch, o InitOptions, imageMap string, mapContent []byte) string {
	var b bytes.Buffer
	name := orPlaceholder(p.Name, "product name")
	fmt.Fprintf(&b, "# %s %s on Kubernetes %s\n\n", name, p.Version, rel)
	if p.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", p.Description)
	}
	for _, l := range [][2]string{{"Vendor", p.Vendor}, {"Website", p.WebsiteURL}, {"Documentation", p.DocumentationURL}, {"Source", p.RepoURL}} {
		if l[1] != "" {
			fmt.Fprintf(&b, "- %s: %s\n", l[0], l[1])
		}
	}
	fmt.Fprintf(&b, "\n## Installing %s\n\n%s\n\n", name, ReadmePlaceholder)
	fmt.Fprintf(&b, "Describe, step by step, how to install and configure %s to build the cluster these\n"+
		"tests ran on. Copy the instructions in: a link alone is not enough.\n\n", name)

	fmt.Fprintf(&b, "## How these results were made\n\n")
	fmt.Fprintf(&b, "The certified-conformance suite (focus `\\[Conformance\\]`, no skip) was run with confrun.\n\n")
	fmt.Fprintf(&b, "- Kubernetes release: %s", rel)
	if f, err := os.Open(filepath.Join(dir, FileE2ELog)); err == nil {
		lf, err := scanLog(ctx, f)
		f.Close()
		if err == nil && lf.E2EVersion != "" {
			fmt.Fprintf(&b, " (e2e.test %s, kube-apiserver %s)", lf.E2EVersion, orPlaceholder(lf.APIServerVersion, "unknown"))
		}
	}
	b.WriteString("\n")
	archName, archFlag := "<arch>", "<arch>"
	if a != nil {
		archName, archFlag = fmt.Sprintf("%s (%s)", a.Debian, a.Platform()), a.Debian
	}
	fmt.Fprintf(&b, "- Architecture: %s\n", archName)
	if len(o.Nodes) > 0 {
		fmt.Fprintf(&b, "- Nodes: %s\n", strings.Join(o.Nodes, ", "))
	}
	mapFlag := "<imagemap.yaml>"
	if imageMap != "" {
		fmt.Fprintf(&b, "- Image map: %s\n", filepath.Base(imageMap))
		mapFlag = imageMap
	}
	cmds := o.Commands
	if len(cmds) == 0 {
		cmds = []string{
			"confrun doctor",
			fmt.Sprintf("confrun prepull --arch %s --imagemap %s", archFlag, mapFlag),
			fmt.Sprintf("confrun run --arch %s --release %s --product %s --imagemap %s", archFlag, rel, o.ProductDir, mapFlag),
			"confrun verify " + dir,
			"confrun submit " + dir,
		}
	}
	b.WriteString("\nCommands:\n\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s\n", c)
	}
	if len(mapContent) > 0 {
		b.WriteString("\n### Image map\n\nEach image the suite uses and the image built for this architecture that replaced it:\n\n```yaml\n")
		b.Write(mapContent)
		if !bytes.HasSuffix(mapContent, []byte("\n")) {
			b.WriteString("\n")
		}
		b.WriteString("```\n")
	}
	return b.String()
}

// PromptFrom returns a Prompt that asks on w and reads answers from r.
func PromptFrom(r io.Reader, w io.Writer) func(ProductField) (string, error) {
	var buf [1]byte
	return func(f ProductField) (string, error) {
		fmt.Fprintf(w, "%s (%s): ", f.Key, f.Help)
		var line []byte
		for {
			n, err := r.Read(buf[:])
			if n == 1 {
				if buf[0] == '\n' {
					break
				}
				line = append(line, buf[0])
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return "", fmt.Errorf("reading %s: %w", f.Key, err)
			}
		}
		return string(line), nil
	}
}
