package release

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"v1.34": "v1.34", "1.34": "v1.34", "v1.34.4": "v1.34", "v1.34.4-rc.1": "v1.34", "v1.34.4+k3s1": "v1.34", " v1.9 ": "v1.9",
	} {
		r, err := Parse(in)
		if err != nil || r.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "v1", "latest", "1.x"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestSupportedCoversRequiredReleases(t *testing.T) {
	have := map[string]bool{}
	for _, r := range Supported() {
		have[r.String()] = true
	}
	for minor := 25; minor <= 36; minor++ {
		r := Release{1, minor}
		if !have[r.String()] {
			t.Errorf("no embedded data for %s", r)
		}
	}
	if Latest().Less(MustParse("v1.36")) {
		t.Errorf("latest is %s", Latest())
	}
}

func TestConformanceTestsV134(t *testing.T) {
	tests, err := ConformanceTests(MustParse("v1.34"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 424 {
		t.Fatalf("v1.34 has %d conformance tests, upstream has 424", len(tests))
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		if !strings.HasSuffix(tc.CodeName, "[Conformance]") {
			t.Errorf("codename without [Conformance]: %q", tc.CodeName)
		}
		if seen[tc.CodeName] {
			t.Errorf("duplicate codename %q", tc.CodeName)
		}
		seen[tc.CodeName] = true
		since, err := tc.Since()
		if err != nil {
			t.Errorf("%q: release %q: %v", tc.CodeName, tc.Release, err)
		} else if MustParse("v1.34").Less(since) {
			t.Errorf("%q is newer than v1.34: %s", tc.CodeName, tc.Release)
		}
	}
	v, err := ModuleVersion(MustParse("v1.34"))
	if err != nil || v != "v1.34.4" {
		t.Fatalf("module version %q, %v", v, err)
	}
}

func TestCheckUnknownRelease(t *testing.T) {
	err := Check(MustParse("v1.99"))
	if err == nil || !strings.Contains(err.Error(), "v1.34") {
		t.Fatalf("got %v", err)
	}
	if _, err := ConformanceTests(MustParse("v1.2")); err == nil {
		t.Fatal("want error for v1.2")
	}
}
