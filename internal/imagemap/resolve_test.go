package imagemap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/release"
)

func inv134(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.ForRelease(release.MustParse("v1.34"), inventory.Options{SonobuoyVersion: "v0.57.3", KubernetesVersion: "v1.34.4"})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func resolve(t *testing.T, f File) (*Map, []string) {
	t.Helper()
	m, w, err := Resolve(inv134(t), f)
	if err != nil {
		t.Fatal(err)
	}
	return m, w
}

func entry(t *testing.T, m *Map, upstream string) Entry {
	t.Helper()
	e, ok := m.Lookup(upstream)
	if !ok {
		t.Fatalf("%s not in the map", upstream)
	}
	return e
}

const (
	agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.56"
	pause   = "registry.k8s.io/pause:3.10.1"
	etcd    = "registry.k8s.io/etcd:3.6.4-0"
	nfs     = "registry.k8s.io/e2e-test-images/volume/nfs:1.4"
	sono    = "docker.io/sonobuoy/sonobuoy:v0.57.3"
	invalid = "invalid.registry.k8s.io/invalid/alpine:3.1"
)

func TestPrecedenceOverrideRuleDefault(t *testing.T) {
	m, warnings := resolve(t, File{
		Arch: "mips64el", DefaultRegistry: "reg.example:5000/mirror",
		Rules: []Rule{
			{Match: "registry.k8s.io/e2e-test-images/", Target: "{{.DefaultRegistry}}/e2e/{{.Rest}}-{{.DebArch}}:{{.Tag}}"},
			{Match: "registry.k8s.io", Target: "{{.DefaultRegistry}}/k8s/{{.Name}}:{{.Tag}}-{{.Arch}}"},
		},
		Overrides: map[string]string{pause: "other.example/pause:mine"},
	})
	want := map[string][2]string{
		pause:   {"other.example/pause:mine", ViaOverride},
		agnhost: {"reg.example:5000/mirror/e2e/agnhost-mips64el:2.56", "rule 1"},
		nfs:     {"reg.example:5000/mirror/e2e/volume/nfs-mips64el:1.4", "rule 1"},
		etcd:    {"reg.example:5000/mirror/k8s/etcd:3.6.4-0-mips64le", "rule 2"},
		sono:    {"reg.example:5000/mirror/sonobuoy/sonobuoy:v0.57.3", ViaDefaultRegistry},
		invalid: {invalid, ViaNotPulled},
	}
	for up, w := range want {
		if e := entry(t, m, up); e.Target != w[0] || e.Via != w[1] {
			t.Errorf("%s -> %s (%s), want %s (%s)", up, e.Target, e.Via, w[0], w[1])
		}
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	// Every image of the inventory is in the table once, in its order.
	inv := inv134(t)
	if len(m.Entries()) != len(inv.Images) {
		t.Fatalf("%d entries for %d images", len(m.Entries()), len(inv.Images))
	}
	for i, e := range m.Entries() {
		if e.Upstream != inv.Images[i].Ref || e.Pull != inv.Images[i].Pull || e.Kind != inv.Images[i].Kind {
			t.Errorf("entry %d %+v, image %+v", i, e, inv.Images[i])
		}
	}
}

func TestRuleMatchesWholePathElements(t *testing.T) {
	m, _ := resolve(t, File{Arch: "amd64", Rules: []Rule{
		{Match: "registry.k8s.io/e2e-test-images/agn", Target: "wrong.example/{{.Name}}:{{.Tag}}"},
		{Match: "registry.k8s.io/e2e-test-images/agnhost", Target: "right.example/{{.Name}}:{{.Tag}}"},
	}})
	if e := entry(t, m, agnhost); e.Target != "right.example/agnhost:2.56" {
		t.Errorf("agnhost -> %s", e.Target)
	}
	// Without rules or a default registry an image stays upstream.
	if e := entry(t, m, pause); e.Target != pause || e.Via != ViaUpstream {
		t.Errorf("pause -> %s via %s", e.Target, e.Via)
	}
}

func TestArchAliasesGiveTheSameMap(t *testing.T) {
	rule := []Rule{{Match: "*", Target: "r.example/{{.Name}}-{{.DebArch}}-{{.Arch}}-{{.Uname}}:{{.Tag}}"}}
	cases := map[string]string{
		"mips64el": "mips64el-mips64le-mips64", "mips64le": "mips64el-mips64le-mips64", "linux/mips64le": "mips64el-mips64le-mips64",
		"loongarch64": "loong64-loong64-loongarch64", "loong64": "loong64-loong64-loongarch64",
		"x86_64": "amd64-amd64-x86_64", "aarch64": "arm64-arm64-aarch64", "ppc64el": "ppc64el-ppc64le-ppc64le",
		"riscv64": "riscv64-riscv64-riscv64",
	}
	for a, suffix := range cases {
		m, _ := resolve(t, File{Arch: a, Rules: rule})
		if e := entry(t, m, agnhost); e.Target != "r.example/agnhost-"+suffix+":2.56" {
			t.Errorf("arch %s: %s", a, e.Target)
		}
	}
	if _, _, err := Resolve(inv134(t), File{Arch: "mips64elx"}); err == nil || !strings.Contains(err.Error(), "mips64el") {
		t.Errorf("typo in arch: %v (want the list of known names)", err)
	}
}

func TestOverridesMatchAnySpellingAndWarn(t *testing.T) {
	m, warnings := resolve(t, File{Arch: "amd64", Overrides: map[string]string{
		"sonobuoy/sonobuoy:v0.57.3":           "r.example/sonobuoy:1",
		"registry.k8s.io/not-in-the-list:1.0": "r.example/x:1",
		invalid:                               "r.example/invalid:1",
	}})
	if e := entry(t, m, sono); e.Target != "r.example/sonobuoy:1" || e.Via != ViaOverride {
		t.Errorf("sonobuoy -> %+v", e)
	}
	// An override of a not-pulled image moves it but it stays not pulled.
	if e := entry(t, m, invalid); e.Target != "r.example/invalid:1" || e.Pull {
		t.Errorf("invalid -> %+v", e)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "not-in-the-list") {
		t.Errorf("warnings %v", warnings)
	}
}

func TestSharedTargetWarning(t *testing.T) {
	_, warnings := resolve(t, File{Arch: "amd64", Rules: []Rule{{Match: "registry.k8s.io/e2e-test-images", Target: "r.example/{{.Name}}:{{.Arch}}"}}})
	if len(warnings) != 3 || !strings.Contains(strings.Join(warnings, "\n"), "r.example/httpd:amd64 is the target of 2 images") {
		t.Errorf("no warning for images sharing a target: %v", warnings)
	}
}

func TestBadRules(t *testing.T) {
	for _, r := range []Rule{
		{Match: "", Target: "x/{{.Name}}:{{.Tag}}"},
		{Match: "registry.k8s.io", Target: ""},
		{Match: "https://registry.k8s.io", Target: "x/{{.Name}}:{{.Tag}}"},
		{Match: "registry.k8s.io", Target: "x/{{.Name"},
		{Match: "registry.k8s.io", Target: "x/{{.Nmae}}:{{.Tag}}"},
		{Match: "registry.k8s.io", Target: "x/{{.Name}}"}, // no tag
		{Match: "registry.k8s.io", Target: "X Y:{{.Tag}}"},
	} {
		if _, _, err := Resolve(inv134(t), File{Arch: "amd64", Rules: []Rule{r}}); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
	if _, err := ParseRuleFlag("no-equals-sign"); err == nil {
		t.Error("rule flag without = accepted")
	}
	if _, _, err := ParseOverrideFlag("registry.k8s.io/pause:3=notaref"); err == nil {
		t.Error("override without a tag accepted")
	}
}

func TestFileRoundTripAndLoadMap(t *testing.T) {
	m, _ := resolve(t, File{Arch: "mips64el", DefaultRegistry: "127.0.0.1:5000",
		Rules:     []Rule{{Match: "registry.k8s.io", Target: "{{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}"}},
		Overrides: map[string]string{pause: "127.0.0.1:5000/p:1"}})
	path := filepath.Join(t.TempDir(), "imagemap.yaml")
	if err := m.WriteFile(path, false); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile(path, false); err == nil {
		t.Error("overwrote without force")
	}
	got, err := LoadMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Arch().GOARCH != "mips64le" || got.Release() != release.MustParse("v1.34") {
		t.Errorf("arch %s release %s", got.Arch(), got.Release())
	}
	a, b := m.Entries(), got.Entries()
	if len(a) != len(b) {
		t.Fatalf("%d entries written, %d read", len(a), len(b))
	}
	for i := range a {
		if strings.Join(a[i].Roles, ",") != strings.Join(b[i].Roles, ",") || a[i].Upstream != b[i].Upstream || a[i].Target != b[i].Target ||
			a[i].Pull != b[i].Pull || a[i].Via != b[i].Via || a[i].Kind != b[i].Kind || a[i].RegistryKey != b[i].RegistryKey {
			t.Errorf("entry %d: wrote %+v read %+v", i, a[i], b[i])
		}
	}
	if c, ok := got.Image(inventory.RoleConformance); !ok || c.Target != "127.0.0.1:5000/cke/kubernetes/conformance-mips64el:v1.34.4" {
		t.Errorf("conformance entry %+v %v", c, ok)
	}
	raw, _ := os.ReadFile(path)
	for _, want := range []string{"apiVersion: confrun.dev/v1alpha1", "kind: ImageMap", "# Tried top to bottom", "roles: [Agnhost]"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("written map lacks %q", want)
		}
	}
}

func TestLoadMapErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"empty":         "",
		"wrong kind":    "apiVersion: confrun.dev/v1alpha1\nkind: Other\n",
		"unknown field": "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: amd64\nrelease: v1.34\ndefaultRegistyr: x\n",
		"no table":      "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: amd64\nrelease: v1.34\n",
		"no arch":       "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\nrelease: v1.34\nimages:\n- {upstream: a:1, target: b:1, pull: true}\n",
		"bad arch":      "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: vax\nrelease: v1.34\nimages:\n- {upstream: a:1, target: b:1, pull: true}\n",
		"bad target":    "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: amd64\nrelease: v1.34\nimages:\n- {upstream: a:1, target: b, pull: true}\n",
		"twice":         "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: amd64\nrelease: v1.34\nimages:\n- {upstream: a:1, target: b:1}\n- {upstream: a:1, target: c:1}\n",
		"scheme":        "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: amd64\nrelease: v1.34\ndefaultRegistry: http://x\n",
	}
	for name, content := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadMap(p); err == nil {
			t.Errorf("%s: LoadMap accepted %q", name, content)
		} else if !strings.Contains(err.Error(), p) && name != "empty" {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	if _, err := LoadMap(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestMakeKeepsHandEdits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imagemap.yaml")
	m, _, notes, err := Make(MakeOptions{Arch: "mips64el", Release: "v1.34", DefaultRegistry: "127.0.0.1:5000", KubernetesVersion: "v1.34.4"})
	if err != nil || len(notes) != 0 {
		t.Fatalf("%v %v", err, notes)
	}
	if err := m.WriteFile(path, false); err != nil {
		t.Fatal(err)
	}
	// A person edits one target in the table.
	raw, _ := os.ReadFile(path)
	edited := strings.Replace(string(raw), "target: 127.0.0.1:5000/e2e-test-images/agnhost:2.56", "target: 127.0.0.1:5000/mine/agnhost:2.56-fixed", 1)
	if edited == string(raw) {
		t.Fatal("agnhost row not found in the written map")
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	// Re-mapping with a new default registry keeps the edit, moves the rest.
	m2, _, notes, err := Make(MakeOptions{Config: path, DefaultRegistry: "10.0.0.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(t, m2, agnhost); e.Target != "127.0.0.1:5000/mine/agnhost:2.56-fixed" || e.Via != ViaOverride {
		t.Errorf("hand edit lost: %+v", e)
	}
	if e := entry(t, m2, etcd); e.Target != "10.0.0.1:5000/etcd:3.6.4-0" {
		t.Errorf("etcd -> %s", e.Target)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "agnhost") {
		t.Errorf("notes %v", notes)
	}
	if m2.Arch().Debian != "mips64el" {
		t.Errorf("arch from the config lost: %s", m2.Arch())
	}
}

func TestMakeInputErrors(t *testing.T) {
	for name, o := range map[string]MakeOptions{
		"no arch":       {Release: "v1.34"},
		"bad release":   {Arch: "amd64", Release: "one.thirty"},
		"old release":   {Arch: "amd64", Release: "v1.2"},
		"bad rule":      {Arch: "amd64", Rules: []string{"registry.k8s.io"}},
		"bad override":  {Arch: "amd64", Overrides: []string{"x"}},
		"missing conf":  {Config: "/nonexistent/imagemap.yaml"},
		"bad registry":  {Arch: "amd64", DefaultRegistry: "https://reg"},
		"bad k8s tag":   {Arch: "amd64", KubernetesVersion: "v1.34.4 beta"},
		"bad sonobuoy ": {Arch: "amd64", SonobuoyVersion: "!"},
	} {
		if _, _, _, err := Make(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, _, notes, err := Make(MakeOptions{Arch: "amd64"})
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], release.Latest().String()) {
		t.Errorf("default release: %v %v", err, notes)
	}
}
