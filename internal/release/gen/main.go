// Command gen extracts per-release upstream data from the k8s.io/kubernetes
// Go module (through the Go module proxy, like any `go mod download`) into
// internal/release/data/vX.Y/. It is run by `go generate ./internal/release`.
//
// Each release directory receives:
//
//	module.txt        the module version the data was read from
//	conformance.yaml  test/conformance/testdata/conformance.yaml, unchanged
//
// Other extractors add their own files; see the extractors slice.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// extractor writes one kind of data for a release from the module tree.
type extractor struct {
	name string
	run  func(moduleDir, outDir string) error
}

var extractors = []extractor{
	{"conformance.yaml", copyFile("test/conformance/testdata/conformance.yaml", "conformance.yaml")},
	{"images.json", extractImages},
	{"baseimages.json", extractImageSources},
}

func main() {
	versionsFile := flag.String("versions", "versions.txt", "file listing one k8s.io/kubernetes module version per line")
	out := flag.String("out", "data", "output directory")
	only := flag.String("only", "", "regenerate only this module version")
	flag.Parse()
	log.SetFlags(0)
	versions, err := readVersions(*versionsFile)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range versions {
		if *only != "" && v != *only {
			continue
		}
		if err := generate(v, *out); err != nil {
			log.Fatalf("generating data for k8s.io/kubernetes@%s: %v", v, err)
		}
	}
}

var versionRE = regexp.MustCompile(`^v1\.(\d+)\.(\d+)$`)

func readVersions(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !versionRE.MatchString(line) {
			return nil, fmt.Errorf("%s: %q is not a k8s.io/kubernetes release version like v1.34.4", path, line)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

func generate(version, out string) error {
	dir, err := moduleDir(version)
	if err != nil {
		return err
	}
	m := versionRE.FindStringSubmatch(version)
	relDir := filepath.Join(out, "v1."+m[1])
	if err := os.MkdirAll(relDir, 0o755); err != nil {
		return err
	}
	for _, x := range extractors {
		if err := x.run(dir, relDir); err != nil {
			return fmt.Errorf("%s: %w", x.name, err)
		}
	}
	log.Printf("%s: wrote %s", version, relDir)
	return os.WriteFile(filepath.Join(relDir, "module.txt"), []byte("k8s.io/kubernetes "+version+"\n"), 0o644)
}

// moduleDir downloads the module (or finds it in the module cache) and
// returns its directory.
func moduleDir(version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(b, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download: %s", info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download: %v: %s", err, stderr.String())
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download printed no directory")
	}
	return info.Dir, nil
}

func copyFile(src, dst string) func(string, string) error {
	return func(moduleDir, outDir string) error {
		b, err := os.ReadFile(filepath.Join(moduleDir, src))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(outDir, dst), b, 0o644)
	}
}
