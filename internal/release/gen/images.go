package main

// Image extractors: images.json and baseimages.json per release.
//
// images.json is read from the source with go/ast rather than by running
// `e2e.test --list-images`: the source is in the module cache for every
// release offline, while the list needs one e2e.test build per release
// (minutes each, and releases before v1.25 do not build with today's module
// setup). The e2e-tagged test in internal/imagemap/inventory checks that the
// v1.34 result equals the lab's e2e.test --list-images.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/confrun/confrun/internal/release"
)

const (
	manifestPath     = "test/utils/image/manifest.go"
	csiManifestPath  = "test/utils/image/csi_manifest.go"
	csiManifestsDir  = "test/e2e/testing-manifests/storage-csi"
	kubeadmConstants = "cmd/kubeadm/app/constants/constants.go"
	e2eDir           = "test/e2e"
	testImagesDir    = "test/images"
)

func extractImages(moduleDir, outDir string) error {
	d, err := readImageData(moduleDir)
	if err != nil {
		return err
	}
	return writeJSON(filepath.Join(outDir, "images.json"), d)
}

func extractImageSources(moduleDir, outDir string) error {
	srcs, err := readImageSources(moduleDir)
	if err != nil {
		return err
	}
	// One directory per line: compact, and still a readable diff.
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, s := range srcs {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		buf.Write(b)
		if i < len(srcs)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	return os.WriteFile(filepath.Join(outDir, "baseimages.json"), buf.Bytes(), 0o644)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// readImageData reads every image reference of the release's e2e suite.
func readImageData(moduleDir string) (*release.ImageData, error) {
	m, err := parseManifest(filepath.Join(moduleDir, manifestPath))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", manifestPath, err)
	}
	d := &release.ImageData{RegistryKeys: m.keys, ReplaceOrder: m.replaceOrder, Images: m.images}
	if _, v, ok := strings.Cut(filepath.Base(moduleDir), "@"); ok {
		d.Module = v
	}
	if _, err := os.Stat(filepath.Join(moduleDir, csiManifestPath)); err == nil {
		csi, err := csiImages(moduleDir, m)
		if err != nil {
			return nil, fmt.Errorf("reading CSI manifests: %w", err)
		}
		d.Images = append(d.Images, csi...)
	}
	lits, err := literalImages(moduleDir, d.Images)
	if err != nil {
		return nil, fmt.Errorf("scanning %s for literal image names: %w", e2eDir, err)
	}
	d.Images = append(d.Images, lits...)
	pause, err := nodePause(moduleDir, m)
	if err != nil {
		return nil, err
	}
	d.Images = append(d.Images, pause)
	return d, nil
}

// manifest is what parseManifest learns from manifest.go.
type manifest struct {
	keys         []release.RegistryKey
	byField      map[string]release.RegistryKey
	replaceOrder []string
	images       []release.UpstreamImage
	// vars are package-level variables and constants by name.
	vars map[string]ast.Expr
}

func parseManifest(path string) (*manifest, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	m := &manifest{byField: map[string]release.RegistryKey{}, vars: map[string]ast.Expr{}}
	if err := m.readRegistryList(f); err != nil {
		return nil, err
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || (gd.Tok != token.VAR && gd.Tok != token.CONST) {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					m.vars[n.Name] = vs.Values[i]
				}
			}
		}
	}
	if err := m.readConfigs(f); err != nil {
		return nil, err
	}
	m.readReplaceOrder(f)
	return m, nil
}

// readRegistryList reads the RegistryList struct (keys) and the composite
// literal holding its defaults.
func (m *manifest) readRegistryList(f *ast.File) error {
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "RegistryList" {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fld := range st.Fields.List {
			if len(fld.Names) != 1 || fld.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fld.Tag.Value)
			k := release.RegistryKey{Field: fld.Names[0].Name, Key: reflect.StructTag(tag).Get("yaml")}
			m.keys = append(m.keys, k)
		}
		return false
	})
	if len(m.keys) == 0 {
		return fmt.Errorf("no RegistryList struct with yaml tags")
	}
	defaults := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok || len(defaults) > 0 {
			return true
		}
		if id, ok := cl.Type.(*ast.Ident); !ok || id.Name != "RegistryList" {
			return true
		}
		for _, e := range cl.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			k, ok1 := kv.Key.(*ast.Ident)
			v, ok2 := stringLit(kv.Value)
			if ok1 && ok2 {
				defaults[k.Name] = v
			}
		}
		return false
	})
	if len(defaults) == 0 {
		return fmt.Errorf("no RegistryList literal with the default registries")
	}
	for i, k := range m.keys {
		d, ok := defaults[k.Field]
		if !ok {
			return fmt.Errorf("RegistryList field %s has no default", k.Field)
		}
		m.keys[i].Default = d
		m.byField[k.Field] = m.keys[i]
	}
	return nil
}

// registryOf evaluates the registry part of a Config literal: a RegistryList
// field (list.X, registry.X), a package variable standing for one, or a
// string literal (no key: the repo list cannot remap it).
func (m *manifest) registryOf(e ast.Expr, depth int) (key, value string, err error) {
	if depth > 5 {
		return "", "", fmt.Errorf("registry expression nests too deep")
	}
	switch x := e.(type) {
	case *ast.BasicLit:
		s, ok := stringLit(x)
		if !ok {
			return "", "", fmt.Errorf("registry literal %s is not a string", x.Value)
		}
		return "", s, nil
	case *ast.SelectorExpr:
		if k, ok := m.byField[x.Sel.Name]; ok {
			return k.Key, k.Default, nil
		}
		return "", "", fmt.Errorf("%s is not a RegistryList field", x.Sel.Name)
	case *ast.Ident:
		if v, ok := m.vars[x.Name]; ok {
			return m.registryOf(v, depth+1)
		}
		return "", "", fmt.Errorf("unknown registry variable %s", x.Name)
	case *ast.CallExpr:
		// registry = initReg(): not a registry value itself.
		return "", "", fmt.Errorf("registry from a function call")
	}
	return "", "", fmt.Errorf("unsupported registry expression %T", e)
}

// stringOf evaluates a name or version: a string literal or a package
// constant holding one.
func (m *manifest) stringOf(e ast.Expr) (string, error) {
	if s, ok := stringLit(e); ok {
		return s, nil
	}
	if id, ok := e.(*ast.Ident); ok {
		if v, ok := m.vars[id.Name]; ok {
			if s, ok := stringLit(v); ok {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("unsupported string expression %T", e)
}

// readConfigs reads every `configs[ID] = Config{registry, name, version}`
// of initImageConfigs and fails on any assignment it does not understand,
// so that a changed manifest.go stops the generator instead of silently
// losing images.
func (m *manifest) readConfigs(f *ast.File) error {
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "initImageConfigs" && fd.Recv == nil {
			fn = fd
		}
	}
	if fn == nil {
		return fmt.Errorf("no initImageConfigs function")
	}
	var errs []string
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		ix, ok := as.Lhs[0].(*ast.IndexExpr)
		if !ok {
			return true
		}
		if id, ok := ix.X.(*ast.Ident); !ok || id.Name != "configs" {
			return true
		}
		im, err := m.config(ix.Index, as.Rhs[0])
		if err != nil {
			errs = append(errs, err.Error())
			return false
		}
		m.images = append(m.images, im)
		return false
	})
	if len(errs) > 0 {
		return fmt.Errorf("initImageConfigs: %s", strings.Join(errs, "; "))
	}
	if len(m.images) == 0 {
		return fmt.Errorf("initImageConfigs assigns no image configs")
	}
	return nil
}

func (m *manifest) config(index, value ast.Expr) (release.UpstreamImage, error) {
	id, ok := index.(*ast.Ident)
	if !ok {
		return release.UpstreamImage{}, fmt.Errorf("configs index %T is not an ImageID constant", index)
	}
	cl, ok := value.(*ast.CompositeLit)
	if !ok || len(cl.Elts) != 3 {
		return release.UpstreamImage{}, fmt.Errorf("configs[%s] is not a Config{registry, name, version} literal", id.Name)
	}
	if t, ok := cl.Type.(*ast.Ident); !ok || t.Name != "Config" {
		return release.UpstreamImage{}, fmt.Errorf("configs[%s] is not a Config{registry, name, version} literal", id.Name)
	}
	parts := make([]ast.Expr, 3)
	for i, e := range cl.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			k, _ := kv.Key.(*ast.Ident)
			switch {
			case k != nil && k.Name == "registry":
				parts[0] = kv.Value
			case k != nil && k.Name == "name":
				parts[1] = kv.Value
			case k != nil && k.Name == "version":
				parts[2] = kv.Value
			default:
				return release.UpstreamImage{}, fmt.Errorf("configs[%s]: unknown Config field", id.Name)
			}
			continue
		}
		parts[i] = e
	}
	key, reg, err := m.registryOf(parts[0], 0)
	if err != nil {
		return release.UpstreamImage{}, fmt.Errorf("configs[%s]: %w", id.Name, err)
	}
	name, err := m.stringOf(parts[1])
	if err != nil {
		return release.UpstreamImage{}, fmt.Errorf("configs[%s] name: %w", id.Name, err)
	}
	version, err := m.stringOf(parts[2])
	if err != nil {
		return release.UpstreamImage{}, fmt.Errorf("configs[%s] version: %w", id.Name, err)
	}
	return release.UpstreamImage{
		Ref: reg + "/" + name + ":" + version, Kind: release.ImageKindE2E, ID: id.Name,
		RegistryKey: key, Registry: reg, Name: name, Version: version, Source: manifestPath,
	}, nil
}

// readReplaceOrder reads the case order of the switch in
// replaceRegistryInImageURLWithList (ReplaceRegistryInImageURL in older
// releases). Releases without it get the struct order.
func (m *manifest) readReplaceOrder(f *ast.File) {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil || (fd.Name.Name != "replaceRegistryInImageURLWithList" && fd.Name.Name != "ReplaceRegistryInImageURL") {
			continue
		}
		var order []string
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			for _, e := range cc.List {
				if key, _, err := m.registryOf(e, 0); err == nil && key != "" {
					order = append(order, key)
				}
			}
			return true
		})
		if len(order) > 0 {
			m.replaceOrder = order
			return
		}
	}
	for _, k := range m.keys {
		m.replaceOrder = append(m.replaceOrder, k.Key)
	}
}

// keyFor returns the repo-list key ReplaceRegistryInImageURL uses for an
// image whose registry is reg.
func (m *manifest) keyFor(reg string) string {
	for _, key := range m.replaceOrder {
		for _, k := range m.keys {
			if k.Key == key && k.Default == reg {
				return key
			}
		}
	}
	return ""
}

// csiImageRE is appendCSIImageConfigs' imageRE.
var csiImageRE = regexp.MustCompile(`^(.*)/([^/:]*):(.*)$`)

// csiImages does what manifest.go's appendCSIImageConfigs does at run time:
// every spec.containers[].image and spec.template.spec.containers[].image
// of the YAML files under storage-csi, unless equal to a known config.
func csiImages(moduleDir string, m *manifest) ([]release.UpstreamImage, error) {
	root := filepath.Join(moduleDir, csiManifestsDir)
	seen := map[string]bool{}
	for _, im := range m.images {
		seen[im.Ref] = true
	}
	var out []release.UpstreamImage
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if path != root && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
			// go:embed leaves these out, so upstream never sees them.
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(base, ".yaml") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleDir, path)
		for i, item := range bytes.Split(data, []byte("\n---")) {
			var obj any
			if err := yaml.Unmarshal(item, &obj); err != nil {
				return fmt.Errorf("decoding item #%d of %s: %w", i, rel, err)
			}
			visit := func(v string) {
				p := csiImageRE.FindStringSubmatch(v)
				if p == nil || seen[v] {
					return
				}
				seen[v] = true
				out = append(out, release.UpstreamImage{
					Ref: v, Kind: release.ImageKindCSI, RegistryKey: m.keyFor(p[1]),
					Registry: p[1], Name: p[2], Version: p[3], Source: filepath.ToSlash(rel),
				})
			}
			findStrings(obj, visit, "spec", "containers", "image")
			findStrings(obj, visit, "spec", "template", "spec", "containers", "image")
		}
		return nil
	})
	return out, err
}

func findStrings(obj any, visit func(string), path ...string) {
	if len(path) == 0 {
		if s, ok := obj.(string); ok {
			visit(s)
		}
		return
	}
	switch o := obj.(type) {
	case []any:
		for _, c := range o {
			findStrings(c, visit, path...)
		}
	case map[string]any:
		if c, ok := o[path[0]]; ok {
			findStrings(c, visit, path[1:]...)
		}
	}
}

// literalRE accepts what looks like an image reference.
var literalRE = regexp.MustCompile(`^[a-z0-9][a-zA-Z0-9._/:@-]*$`)

// literalImages finds image names written literally in e2e test code: a
// string assigned to a container's Image field, or to a variable named
// like an image that holds a tagged reference. The Windows
// tests are left out (their images exist for Windows nodes only).
func literalImages(moduleDir string, known []release.UpstreamImage) ([]release.UpstreamImage, error) {
	seen := map[string]bool{}
	for _, im := range known {
		seen[im.Ref] = true
	}
	var out []release.UpstreamImage
	root := filepath.Join(moduleDir, e2eDir)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "windows", "testing-manifests", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleDir, path)
		add := func(e ast.Expr, field bool) {
			s, ok := stringLit(e)
			if !ok || !literalRE.MatchString(s) || strings.Contains(s, "://") || seen[s] {
				return
			}
			// A variable must hold a tagged reference: "httpd" or a
			// repository prefix used to find a config are not images.
			if !field && !strings.Contains(s[strings.LastIndex(s, "/")+1:], ":") {
				return
			}
			seen[s] = true
			out = append(out, release.UpstreamImage{Ref: s, Kind: release.ImageKindLiteral,
				Source: fmt.Sprintf("%s:%d", filepath.ToSlash(rel), fset.Position(e.Pos()).Line)})
		}
		imageVar := func(name string) bool { return strings.Contains(strings.ToLower(name), "image") }
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.KeyValueExpr:
				if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Image" {
					add(x.Value, true)
				}
			case *ast.AssignStmt:
				if len(x.Lhs) != len(x.Rhs) {
					return true
				}
				for i, l := range x.Lhs {
					switch lv := l.(type) {
					case *ast.SelectorExpr:
						if lv.Sel.Name == "Image" {
							add(x.Rhs[i], true)
						}
					case *ast.Ident:
						if imageVar(lv.Name) {
							add(x.Rhs[i], false)
						}
					}
				}
			case *ast.ValueSpec:
				for i, nm := range x.Names {
					if i < len(x.Values) && imageVar(nm.Name) {
						add(x.Values[i], false)
					}
				}
			}
			return true
		})
		return nil
	})
	return out, err
}

// nodePause is the pause image kubeadm configures for the release's nodes
// (constants.PauseVersion in the gcRegistry), or manifest.go's Pause where
// kubeadm has no such constant.
func nodePause(moduleDir string, m *manifest) (release.UpstreamImage, error) {
	var e2ePause *release.UpstreamImage
	for i := range m.images {
		if m.images[i].ID == "Pause" {
			e2ePause = &m.images[i]
		}
	}
	if e2ePause == nil {
		return release.UpstreamImage{}, fmt.Errorf("%s has no Pause image", manifestPath)
	}
	pause := *e2ePause
	pause.Kind, pause.ID, pause.Source = release.ImageKindNodePause, "", manifestPath
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(moduleDir, kubeadmConstants), nil, parser.SkipObjectResolution)
	if err != nil {
		return release.UpstreamImage{}, fmt.Errorf("reading %s: %w", kubeadmConstants, err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, nm := range vs.Names {
			if nm.Name == "PauseVersion" && i < len(vs.Values) {
				if s, ok := stringLit(vs.Values[i]); ok {
					pause.Version, pause.Source = s, kubeadmConstants
				}
			}
		}
		return true
	})
	pause.Ref = pause.Registry + "/" + pause.Name + ":" + pause.Version
	return pause, nil
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// readImageSources reads VERSION and BASEIMAGE of every test/images/<dir>.
func readImageSources(moduleDir string) ([]release.ImageSource, error) {
	root := filepath.Join(moduleDir, testImagesDir)
	byDir := map[string]*release.ImageSource{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (d.Name() != "VERSION" && d.Name() != "BASEIMAGE") {
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(dir)
		s := byDir[dir]
		if s == nil {
			s = &release.ImageSource{Dir: dir}
			byDir[dir] = s
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if d.Name() == "VERSION" {
			s.Version = strings.TrimSpace(string(b))
			return nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			p, img, ok := strings.Cut(line, "=")
			if !ok {
				return fmt.Errorf("%s: line %q is not platform=image", path, line)
			}
			s.Bases = append(s.Bases, release.BaseImage{Platform: strings.TrimSpace(p), Image: strings.TrimSpace(img)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]release.ImageSource, 0, len(byDir))
	for _, s := range byDir {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, nil
}
