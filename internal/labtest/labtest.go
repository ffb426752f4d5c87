// Package labtest gives end-to-end tests (build tag e2e) the running lab
// cluster that `make lab-up` started: its kubeconfig, registry, binaries and
// images. Tests call Require; `make e2e` brings the lab up first.
package labtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Image is one image the lab built and pushed (lab/.state/images.json).
type Image struct {
	Name      string   `json:"name"`
	Upstream  string   `json:"upstream"`
	Ref       string   `json:"ref"`
	Platforms []string `json:"platforms"`
	Digest    string   `json:"digest"`
}

// Lab describes the running lab.
type Lab struct {
	StateDir   string
	Kubeconfig string
	Registry   string
	BinDir     string
	K8sVersion string
	Nodes      []string
	Env        map[string]string
	Images     []Image
}

// Image returns the lab image named name (e.g. "agnhost").
func (l *Lab) Image(name string) (Image, bool) {
	for _, im := range l.Images {
		if im.Name == name {
			return im, true
		}
	}
	return Image{}, false
}

// Bin returns the path of a lab-built binary such as "kubectl".
func (l *Lab) Bin(name string) string { return filepath.Join(l.BinDir, name) }

// StateDir returns the lab's state directory: $CONFRUN_LAB_STATE, or
// lab/.state at the repository root.
func StateDir() string {
	if d := os.Getenv("CONFRUN_LAB_STATE"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "lab", ".state")
}

// Load reads the lab's state files from dir.
func Load(dir string) (*Lab, error) {
	env, err := readEnv(filepath.Join(dir, "env"))
	if err != nil {
		return nil, fmt.Errorf("reading lab state (is the lab up? run `make lab-up`): %w", err)
	}
	l := &Lab{StateDir: dir, Env: env, Kubeconfig: env["LAB_KUBECONFIG"], Registry: env["LAB_REGISTRY"],
		BinDir: env["LAB_BIN_DIR"], K8sVersion: env["LAB_K8S_VERSION"], Nodes: strings.Fields(env["LAB_NODES"])}
	if l.Kubeconfig == "" {
		l.Kubeconfig = filepath.Join(dir, "kubeconfig")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "images.json")); err == nil {
		if err := json.Unmarshal(b, &l.Images); err != nil {
			return nil, fmt.Errorf("parsing %s/images.json: %w", dir, err)
		}
	}
	return l, nil
}

// Require returns the running lab or fails the test with what to do.
func Require(t testing.TB) *Lab {
	t.Helper()
	l, err := Load(StateDir())
	if err != nil {
		t.Fatalf("this end-to-end test needs the lab cluster: %v (run `make e2e`, which brings it up)", err)
	}
	if _, err := os.Stat(l.Kubeconfig); err != nil {
		t.Fatalf("lab kubeconfig: %v (run `make lab-up`)", err)
	}
	return l
}

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		env[k] = strings.Trim(v, `"'`)
	}
	return env, sc.Err()
}
