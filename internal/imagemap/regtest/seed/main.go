// Command seed pushes N small multi-arch images (linux/amd64 +
// linux/mips64le) to a registry and writes an image map whose targets are
// those images, plus the list of targets, for hack/bench/images.sh.
//
//	go run ./internal/imagemap/regtest/seed -registry 127.0.0.1:5000 -n 60 -out DIR
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/imagemap/regtest"
	"github.com/confrun/confrun/internal/release"
)

func main() {
	reg := flag.String("registry", "", "registry host:port (plain HTTP)")
	n := flag.Int("n", 60, "how many images")
	out := flag.String("out", ".", "directory for imagemap.yaml and refs.txt")
	flag.Parse()
	log.SetFlags(0)
	if *reg == "" {
		log.Fatal("seed: -registry is required")
	}
	inv := &inventory.Inventory{Release: release.Latest(), ReleaseName: release.Latest().String()}
	for i := 0; i < *n; i++ {
		inv.Images = append(inv.Images, inventory.Image{Ref: fmt.Sprintf("bench.example/e2e/image-%02d:1.%d", i, i), Kind: inventory.KindE2E, Pull: true})
	}
	m, _, err := imagemap.Resolve(inv, imagemap.File{Arch: "mips64el", DefaultRegistry: *reg,
		Rules: []imagemap.Rule{{Match: "*", Target: "{{.DefaultRegistry}}/bench/{{.Name}}-{{.DebArch}}:{{.Tag}}"}}})
	if err != nil {
		log.Fatalf("seed: %v", err)
	}
	var refs []string
	for i, e := range m.Pulled() {
		if _, _, err := regtest.PushIndex(e.Target, []string{"linux/amd64", "linux/mips64le"}, int64(i)); err != nil {
			log.Fatalf("seed: %v", err)
		}
		refs = append(refs, e.Target)
	}
	if err := m.WriteFile(filepath.Join(*out, "imagemap.yaml"), true); err != nil {
		log.Fatalf("seed: %v", err)
	}
	if err := os.WriteFile(filepath.Join(*out, "refs.txt"), []byte(strings.Join(refs, "\n")+"\n"), 0o644); err != nil {
		log.Fatalf("seed: %v", err)
	}
	log.Printf("seed: pushed %d images to %s", len(refs), *reg)
}
