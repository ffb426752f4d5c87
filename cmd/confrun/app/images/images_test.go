package images

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/regtest"
)

// run executes `confrun images ARGS` and returns stdout, stderr and the
// exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(cliutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString("Error: " + err.Error())
	}
	return out.String(), errOut.String(), cliutil.ExitCode(err)
}

func TestListMapVerifyPlanMirror(t *testing.T) {
	dir := t.TempDir()
	host := regtest.Start(t)
	mapPath := filepath.Join(dir, "imagemap.yaml")

	out, _, code := run(t, "list", "--release", "v1.34")
	if code != 0 || !strings.Contains(out, "registry.k8s.io/e2e-test-images/agnhost:2.56") || !strings.Contains(out, "not meant to be pulled") {
		t.Fatalf("list: %d\n%s", code, out)
	}

	rule := "registry.k8s.io={{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}"
	_, errOut, code := run(t, "map", "--arch", "mips64el", "--release", "v1.34", "--default-registry", host, "--rule", rule,
		"--out", mapPath, "--repo-list", filepath.Join(dir, "repo-list.yaml"), "-o", "json")
	if code != 1 || !strings.Contains(errOut, "renames") {
		t.Fatalf("map with a renaming rule and --repo-list: exit %d\n%s", code, errOut)
	}
	m, err := imagemap.LoadMap(mapPath)
	if err != nil {
		t.Fatalf("the map is written even when the repo list cannot be: %v", err)
	}
	if _, _, code := run(t, "map", "--arch", "mips64el", "--out", mapPath); code == 0 {
		t.Error("map overwrote an existing file without --force")
	}

	// Push all targets but one; one only for amd64.
	var missing, wrongArch string
	for i, e := range m.Pulled() {
		switch i {
		case 3:
			missing = e.Target
		case 5:
			wrongArch = e.Target
			regtest.MustPushImage(t, e.Target, "linux/amd64")
		default:
			regtest.MustPushIndex(t, e.Target, "linux/amd64", "linux/mips64le")
		}
	}
	out, _, code = run(t, "verify", "--map", mapPath, "--insecure-registry", host, "-o", "json")
	if code != 1 {
		t.Fatalf("verify with a missing and a wrong-arch image exited %d", code)
	}
	var rep struct {
		Images []struct{ Target, Status string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{}
	for _, it := range rep.Images {
		if it.Status != "ok" {
			bad[it.Target] = it.Status
		}
	}
	if len(bad) != 2 || bad[missing] != "missing" || bad[wrongArch] != "wrong-arch" {
		t.Errorf("verify found %v; want %s missing and %s wrong-arch", bad, missing, wrongArch)
	}

	out, _, code = run(t, "plan", "--map", mapPath, "--insecure-registry", host)
	if code != 0 || !strings.Contains(out, "2 images to build") {
		t.Errorf("plan: %d\n%s", code, out)
	}

	// Mirror fails for the two bad images and writes no repo list.
	if _, _, code := run(t, "mirror", "--map", mapPath, "--to", host+"/mirror", "--insecure-registry", host,
		"--repo-list", filepath.Join(dir, "mirror-list.yaml")); code != 1 {
		t.Errorf("mirror with missing sources exited %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "mirror-list.yaml")); err == nil {
		t.Error("repo list written although images failed")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"map", "--arch", "mips64elx", "--dry-run"},
		{"map", "--release", "v1.34", "--dry-run"},
		{"map", "--arch", "amd64", "--rule", "no-template", "--dry-run"},
		{"list", "--release", "v1.2"},
		{"list", "-o", "xml"},
		{"verify", "--map", "/nonexistent.yaml"},
		{"plan"},
		{"mirror", "--map", "/nonexistent.yaml"},
	} {
		_, errOut, code := run(t, args...)
		if code != cliutil.ExitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errOut)
		}
	}
	_, errOut, _ := run(t, "map", "--arch", "mips64elx", "--dry-run")
	if !strings.Contains(errOut, "mips64el") || !strings.Contains(errOut, "loongarch64") {
		t.Errorf("arch typo error does not list the names: %s", errOut)
	}
}
