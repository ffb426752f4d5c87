package imagemap

import (
	"reflect"
	"testing"
)

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: mips64el\nrelease: v1.34\n" +
		"defaultRegistry: 127.0.0.1:5000\nrules:\n- match: registry.k8s.io\n  target: '{{.DefaultRegistry}}/{{.Name}}-{{.DebArch}}:{{.Tag}}'\n" +
		"overrides:\n  registry.k8s.io/pause:3.10.1: r.example/p:1\n" +
		"images:\n- upstream: registry.k8s.io/pause:3.10.1\n  target: r.example/p:1\n  kind: e2e\n  roles: [Pause, pause]\n  pull: true\n  via: override\n"))
	f.Add([]byte("apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := parseFile(b)
		if err != nil {
			return
		}
		m, err := newMap(*file)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("a map that parses does not marshal: %v", err)
		}
		again, err := parseFile(out)
		if err != nil {
			t.Fatalf("written map does not parse: %v\n%s", err, out)
		}
		a, b2 := m.Entries(), again.Images
		if len(a) == 0 && len(b2) == 0 {
			return
		}
		for i := range a {
			if len(a[i].Roles) == 0 {
				a[i].Roles = nil
			}
		}
		for i := range b2 {
			if len(b2[i].Roles) == 0 {
				b2[i].Roles = nil
			}
		}
		if !reflect.DeepEqual(a, b2) {
			t.Fatalf("entries changed through a write:\n%+v\n%+v", a, b2)
		}
	})
}
