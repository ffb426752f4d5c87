package imagemap

import "testing"

func TestParseRef(t *testing.T) {
	cases := []struct{ in, path, name, tag, digest string }{
		{"registry.k8s.io/e2e-test-images/agnhost:2.56", "registry.k8s.io/e2e-test-images/agnhost", "agnhost", "2.56", ""},
		{"registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause", "pause", "3.10.1", ""},
		{"nginx:1.27", "docker.io/library/nginx", "nginx", "1.27", ""},
		{"sonobuoy/sonobuoy:v0.57.3", "docker.io/sonobuoy/sonobuoy", "sonobuoy", "v0.57.3", ""},
		{"index.docker.io/library/busybox:1", "docker.io/library/busybox", "busybox", "1", ""},
		{"127.0.0.1:5000/cke/kubernetes/agnhost-mips64el:2.56", "127.0.0.1:5000/cke/kubernetes/agnhost-mips64el", "agnhost-mips64el", "2.56", ""},
		{"localhost/x/y:z", "localhost/x/y", "y", "z", ""},
		{"registry.k8s.io/e2e-test-images/node-perf/npb-ep:1.2", "registry.k8s.io/e2e-test-images/node-perf/npb-ep", "npb-ep", "1.2", ""},
		{"reg.example:443/a@sha256:" + sha, "reg.example:443/a", "a", "", "sha256:" + sha},
	}
	for _, c := range cases {
		r, err := ParseRef(c.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", c.in, err)
			continue
		}
		if r.Path() != c.path || r.Name() != c.name || r.Tag != c.tag || r.Digest != c.digest {
			t.Errorf("ParseRef(%q) = %+v (path %s name %s)", c.in, r, r.Path(), r.Name())
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Errorf("%q does not round-trip: %q -> %+v %v", c.in, r.String(), again, err)
		}
	}
	for _, bad := range []string{"", "registry.k8s.io/pause", "UPPER/case:1", "a b:1", "https://x/y:1"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"nginx:1", "registry.k8s.io/pause:3.10", "a/b/c@sha256:" + sha, "localhost:5000/x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.Registry == "" || r.Repository == "" || (r.Tag == "" && r.Digest == "") {
			t.Fatalf("ParseRef(%q) = %+v", s, r)
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRef(%q) = %+v does not round-trip through %q: %+v %v", s, r, r.String(), again, err)
		}
	})
}
