package arch

import (
	"strings"
	"testing"
)

func TestParseAliases(t *testing.T) {
	cases := map[string]string{
		"mips64el": "mips64le", "mips64le": "mips64le", "mips64": "mips64le", "linux/mips64le": "mips64le",
		"loongarch64": "loong64", "loong64": "loong64",
		"x86_64": "amd64", "AMD64": "amd64",
		"aarch64": "arm64", "arm64": "arm64",
		"ppc64el": "ppc64le", "riscv64": "riscv64", "s390x": "s390x",
		"armhf": "arm", "linux/arm/v7": "arm",
	}
	for in, want := range cases {
		a, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if a.GOARCH != want {
			t.Errorf("Parse(%q) = %s, want %s", in, a.GOARCH, want)
		}
	}
}

func TestParseUnknownListsNames(t *testing.T) {
	_, err := Parse("mips64elx")
	if err == nil {
		t.Fatal("want error")
	}
	for _, n := range []string{"mips64le", "mips64el", "loong64", "riscv64"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %s", err, n)
		}
	}
}

func TestPlatformAndDebian(t *testing.T) {
	a := MustParse("mips64el")
	if a.Platform() != "linux/mips64le" || a.Debian != "mips64el" || a.Uname != "mips64" {
		t.Fatalf("%+v %s", a, a.Platform())
	}
	if MustParse("armv7l").Platform() != "linux/arm/v7" {
		t.Fatal("arm variant")
	}
}
