package plan

import (
	"strings"

	"github.com/confrun/confrun/internal/arch"
)

// family is what confrun knows of a base image family's architectures:
// which of the architectures porting teams ask about it publishes images
// for (as of 2025). Anything not listed is unknown: check with
// --check-bases.
type family struct {
	has, lacks []string // GOARCH names
	note       string
}

var families = map[string]family{
	"alpine": {has: []string{"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"}, lacks: []string{"mips64le"},
		note: "Alpine has no mips64el port"},
	"busybox": {has: []string{"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "mips64le", "riscv64"}},
	"centos":  {has: []string{"amd64", "arm64", "ppc64le"}, lacks: []string{"mips64le", "loong64", "riscv64", "s390x"}},
	"clefos":  {has: []string{"s390x"}, lacks: []string{"mips64le", "loong64", "riscv64", "amd64"}},
	"debian-base": {has: []string{"amd64", "arm", "arm64", "ppc64le", "s390x"}, lacks: []string{"mips64le", "loong64", "riscv64"},
		note: "registry.k8s.io/build-image/debian-base is published for five architectures only"},
	"go-runner": {has: []string{"amd64", "arm", "arm64", "ppc64le", "s390x"}, lacks: []string{"mips64le", "loong64", "riscv64"}},
}

// alternatives is printed when no base exists for the architecture.
const alternatives = "Debian publishes mips64el, loong64 and riscv64 ports; busybox (static) is the smallest base for tools that need only a shell"

// familyOf names the family of a base reference: arm64v8/alpine:3.21 ->
// alpine, registry.k8s.io/build-image/debian-base-arm64:v1 -> debian-base.
func familyOf(ref string) string {
	name := ref
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexAny(name, ":@"); i >= 0 {
		name = name[:i]
	}
	for _, a := range arch.All() {
		name = strings.TrimSuffix(name, "-"+a.GOARCH)
	}
	return name
}

// knows returns what the family table says about base for a: "yes", "no"
// or "" (unknown), with the family's note.
func knows(base string, a arch.Arch) (string, string) {
	f, ok := families[familyOf(base)]
	if !ok {
		return "", ""
	}
	for _, g := range f.has {
		if g == a.GOARCH {
			return "yes", f.note
		}
	}
	for _, g := range f.lacks {
		if g == a.GOARCH {
			return "no", f.note
		}
	}
	return "", f.note
}

// dockerHubRef spells out a BASEIMAGE reference for a registry query:
// alpine:3.21 -> docker.io/library/alpine:3.21. Per-arch Docker Hub
// namespaces (arm64v8/alpine) are the same image as library/alpine.
func dockerHubRef(base string) string {
	first, _, ok := strings.Cut(base, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return base
	}
	if !ok {
		return "docker.io/library/" + base
	}
	return "docker.io/" + base
}
