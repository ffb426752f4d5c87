package prepull

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/prepull"
)

const imageMap = `apiVersion: confrun.dev/v1alpha1
kind: ImageMap
arch: mips64el
release: v1.34
images:
- upstream: registry.k8s.io/e2e-test-images/agnhost:2.56
  target: 127.0.0.1:5000/cke/agnhost-mips64el:2.56
  kind: e2e
  pull: true
- upstream: invalid.registry.k8s.io/invalid/alpine:3.1
  target: invalid.registry.k8s.io/invalid/alpine:3.1
  kind: e2e
  pull: false
`

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(cliutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

func TestBadInputIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	mapPath := filepath.Join(dir, "imagemap.yaml")
	if err := os.WriteFile(mapPath, []byte(imageMap), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--imagemap is required"},
		{[]string{"--imagemap", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{[]string{"--imagemap", mapPath}, "no helper image"},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--mode", "daemon"}, `--mode "daemon"`},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--arch", "vax"}, "--arch"},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--nodes", "a in (b"}, "label selector"},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--verify", "maybe"}, `--verify "maybe"`},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--containerd-socket", "/run/c.sock"}, "--mode node"},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--mode", "node", "--containerd-socket", "n1=run/c.sock"}, "absolute"},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--report", filepath.Join(dir, "other.json")}, "--force"},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "-o", "xml"}, "output format"},
		{[]string{"-A"}, "--all-namespaces goes with --cleanup"},
		{[]string{"--imagemap", mapPath, "--helper-image", "h:1", "--unschedulable-timeout", "-1s"}, "--unschedulable-timeout must not be negative"},
	} {
		out, err := execute(t, tc.args...)
		if cliutil.ExitCode(err) != cliutil.ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v, want a usage error about %q\n%s", tc.args, cliutil.ExitCode(err), err, tc.want, out)
		}
	}
}

func TestOptionsFromTheMap(t *testing.T) {
	dir := t.TempDir()
	mapPath := filepath.Join(dir, "imagemap.yaml")
	if err := os.WriteFile(mapPath, []byte(imageMap), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &flags{imageMap: mapPath, mode: "node", sockets: []string{"n2=/run/n2.sock"}, timeout: 1, verifyTimeout: 1}
	f.helper.Image = "h:1"
	f.kube.Namespace = prepull.DefaultNamespace
	o, report, err := f.options(cliutil.IOStreams{ErrOut: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	// Only the entries to pull; the map's arch in Go's spelling selects nodes.
	if len(o.Images) != 1 || o.Images[0].Upstream != "registry.k8s.io/e2e-test-images/agnhost:2.56" || o.Selection.Arch != "mips64le" {
		t.Errorf("options = %+v", o)
	}
	if report != filepath.Join(dir, prepull.ReportFile) {
		t.Errorf("report path %s, want beside the map", report)
	}
	if o.Sockets.PerNode["n2"] != "/run/n2.sock" || o.Mode != prepull.ModeNode || o.Resolve == nil || o.HelperImage != "h:1" {
		t.Errorf("node mode options = %+v", o)
	}
	// --unschedulable-timeout 0 waits for --timeout; else it is the grace.
	for flag, want := range map[time.Duration]time.Duration{0: -1, 90 * time.Second: 90 * time.Second} {
		f.unschedulable = flag
		if o, _, err := f.options(cliutil.IOStreams{ErrOut: &bytes.Buffer{}}); err != nil || o.UnschedulableTimeout != want {
			t.Errorf("--unschedulable-timeout %s: %v, %v; want %v", flag, o.UnschedulableTimeout, err, want)
		}
	}
}
