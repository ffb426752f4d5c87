// Package arch translates CPU architecture names between the ecosystems a
// porting team meets: Debian (mips64el), uname (mips64, x86_64), and
// Go/OCI/Kubernetes (mips64le). confrun always talks linux/<goarch> to
// registries and Kubernetes.
package arch

import (
	"fmt"
	"sort"
	"strings"
)

// Arch is one CPU architecture as Go, OCI and Kubernetes name it.
type Arch struct {
	// GOARCH is the Go/OCI/Kubernetes name (kubernetes.io/arch).
	GOARCH string
	// Variant is the OCI platform variant, if any (arm: v7).
	Variant string
	// Debian is Debian's dpkg architecture name.
	Debian string
	// Uname is what `uname -m` prints on such a machine.
	Uname string
}

// Platform is the OCI platform string, linux/<goarch>[/<variant>].
func (a Arch) Platform() string {
	if a.Variant != "" {
		return "linux/" + a.GOARCH + "/" + a.Variant
	}
	return "linux/" + a.GOARCH
}

func (a Arch) String() string { return a.GOARCH }

var known = []Arch{
	{GOARCH: "amd64", Debian: "amd64", Uname: "x86_64"},
	{GOARCH: "arm64", Debian: "arm64", Uname: "aarch64"},
	{GOARCH: "arm", Variant: "v7", Debian: "armhf", Uname: "armv7l"},
	{GOARCH: "386", Debian: "i386", Uname: "i686"},
	{GOARCH: "mips64le", Debian: "mips64el", Uname: "mips64"},
	{GOARCH: "mipsle", Debian: "mipsel", Uname: "mips"},
	{GOARCH: "loong64", Debian: "loong64", Uname: "loongarch64"},
	{GOARCH: "riscv64", Debian: "riscv64", Uname: "riscv64"},
	{GOARCH: "ppc64le", Debian: "ppc64el", Uname: "ppc64le"},
	{GOARCH: "s390x", Debian: "s390x", Uname: "s390x"},
}

// extra aliases seen in the wild.
var aliases = map[string]string{
	"x86-64":      "amd64",
	"x64":         "amd64",
	"armv8":       "arm64",
	"armv8l":      "arm64",
	"armhf":       "arm",
	"armv7":       "arm",
	"armv7l":      "arm",
	"i386":        "386",
	"i686":        "386",
	"x86":         "386",
	"loongarch64": "loong64",
	"loongarch":   "loong64",
	"la64":        "loong64",
	"mips64el":    "mips64le",
	"ppc64el":     "ppc64le",
	"powerpc64le": "ppc64le",
	"riscv":       "riscv64",
	"rv64":        "riscv64",
}

// Parse accepts any known name of an architecture, with or without a
// "linux/" prefix, in any case, and returns it. An unknown name is an error
// that lists the known ones.
func Parse(name string) (Arch, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.TrimPrefix(n, "linux/")
	if i := strings.IndexByte(n, '/'); i >= 0 { // variant given: arm/v7
		n = n[:i]
	}
	if a, ok := aliases[n]; ok {
		n = a
	}
	for _, a := range known {
		if n == a.GOARCH || n == a.Debian || n == a.Uname {
			return a, nil
		}
	}
	return Arch{}, fmt.Errorf("unknown architecture %q: use one of %s (Debian, uname and Go names are all accepted)", name, strings.Join(Names(), ", "))
}

// MustParse is Parse for names known at compile time.
func MustParse(name string) Arch {
	a, err := Parse(name)
	if err != nil {
		panic(err)
	}
	return a
}

// Names lists the accepted names, Go names first.
func Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range known {
		for _, n := range []string{a.GOARCH, a.Debian, a.Uname} {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// All returns every known architecture.
func All() []Arch { return append([]Arch(nil), known...) }
