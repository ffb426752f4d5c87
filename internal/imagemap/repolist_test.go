package imagemap

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// applyRepoList does what upstream's manifest.go does with a repo list: the
// key's registry replaces the key's default in front of name:version.
func applyRepoList(t *testing.T, raw []byte, e Entry, defaults map[string]string) string {
	t.Helper()
	var list map[string]string
	if err := yaml.Unmarshal(raw, &list); err != nil {
		t.Fatalf("repo list does not parse: %v\n%s", err, raw)
	}
	reg, ok := list[e.RegistryKey]
	if !ok {
		reg = defaults[e.RegistryKey]
	}
	return reg + "/" + strings.TrimPrefix(e.Upstream, defaults[e.RegistryKey]+"/")
}

func TestRepoListFromDefaultRegistry(t *testing.T) {
	inv := inv134(t)
	m, _ := resolve(t, File{Arch: "mips64el", DefaultRegistry: "127.0.0.1:5000/mirror"})
	l, err := m.RepoList(inv.RegistryKeys)
	if err != nil {
		t.Fatal(err)
	}
	raw := l.Marshal()
	defaults := map[string]string{}
	for _, k := range inv.RegistryKeys {
		defaults[k.Key] = k.Default
	}
	checked := 0
	for _, e := range m.Entries() {
		if !e.Pull || e.RegistryKey == "" {
			continue
		}
		if got := applyRepoList(t, raw, e, defaults); got != e.Target {
			t.Errorf("with the repo list the suite pulls %s for %s, the map says %s", got, e.Upstream, e.Target)
		}
		checked++
	}
	if checked < 30 {
		t.Errorf("only %d images checked", checked)
	}
	for _, k := range []string{"invalidRegistry", "gcAuthenticatedRegistry", "privateRegistry"} {
		if strings.Contains(string(raw), k+":") {
			t.Errorf("repo list moves %s, whose images are not pulled:\n%s", k, raw)
		}
	}
	if !strings.Contains(string(raw), `promoterE2eRegistry: "127.0.0.1:5000/mirror/e2e-test-images"`) {
		t.Errorf("repo list:\n%s", raw)
	}
}

func TestRepoListUnchangedMap(t *testing.T) {
	inv := inv134(t)
	m, _ := resolve(t, File{Arch: "amd64"})
	l, err := m.RepoList(inv.RegistryKeys)
	if err != nil {
		t.Fatal(err)
	}
	var list map[string]string
	if err := yaml.Unmarshal(l.Marshal(), &list); err != nil || len(list) != 0 {
		t.Errorf("unchanged map gives %v %v", list, err)
	}
}

func TestRepoListNotExpressible(t *testing.T) {
	inv := inv134(t)
	// The lab's naming renames images: no repo list can say that.
	m, _ := resolve(t, File{Arch: "mips64el", Rules: []Rule{{Match: "registry.k8s.io", Target: "127.0.0.1:5000/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}"}}})
	_, err := m.RepoList(inv.RegistryKeys)
	if err == nil || !strings.Contains(err.Error(), "agnhost:2.56 -> 127.0.0.1:5000/cke/kubernetes/agnhost-mips64el:2.56: renames") {
		t.Errorf("renaming map: %v", err)
	}
	// One key, two registries.
	m, _ = resolve(t, File{Arch: "amd64", DefaultRegistry: "a.example", Overrides: map[string]string{agnhost: "b.example/e2e-test-images/agnhost:2.56"}})
	_, err = m.RepoList(inv.RegistryKeys)
	if err == nil || !strings.Contains(err.Error(), "one key has one registry") {
		t.Errorf("split key: %v", err)
	}
}
