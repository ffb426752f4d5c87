package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/nodecheck"
)

func execute(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(cliutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&errOut)
	cmd.SetErr(&errOut)
	// As under the root command.
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), cliutil.ExitCode(err)
}

// ps4Config writes a kernel config with every option doctor knows enabled
// except CGROUP_SCHED and CPUSETS.
func ps4Config(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Linux/mips 6.6.0 Kernel Configuration\nCONFIG_MODULES=y\n")
	seen := map[string]bool{"CGROUP_SCHED": true, "CPUSETS": true}
	for _, s := range []nodecheck.OptionSet{nodecheck.KubernetesOptionSet(), nodecheck.KubeProxyOptionSet()} {
		for _, o := range s.Options {
			if !seen[o.Name] {
				seen[o.Name] = true
				fmt.Fprintf(&b, "CONFIG_%s=y\n", o.Name)
			}
		}
	}
	b.WriteString("CONFIG_OVERLAY_FS=y\n# CONFIG_CPUSETS is not set\n")
	p := filepath.Join(t.TempDir(), "ps4.config")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKernelConfigNamesMissingOptionsWithFixes(t *testing.T) {
	file := ps4Config(t)
	out, _, code := execute(t, "--kernel-config", file)
	if code != cliutil.ExitFailure {
		t.Errorf("exit %d, want 1 for failed checks", code)
	}
	for _, want := range []string{"CONFIG_CGROUP_SCHED", "CONFIG_CPUSETS", "scripts/config --enable CGROUP_SCHED", "scripts/config --enable CPUSETS", "fail"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, code = execute(t, "--kernel-config", file, "-o", "json")
	var res nodecheck.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != cliutil.ExitFailure || len(res.Nodes) != 1 {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
	failed := map[string]string{}
	for _, c := range res.Nodes[0].Checks {
		if c.Status == nodecheck.StatusFail {
			failed[c.Name] = c.Fix
		}
	}
	if len(failed) != 2 || failed["CONFIG_CGROUP_SCHED"] == "" || failed["CONFIG_CPUSETS"] == "" {
		t.Errorf("failed checks %v, want exactly CGROUP_SCHED and CPUSETS with fixes", failed)
	}
}

func TestUsageErrors(t *testing.T) {
	file := ps4Config(t)
	for _, args := range [][]string{
		{"--local", "--kernel-config", file},
		{"--kernel-config", file, "--cni", "weave"},
		{"--kernel-config", file, "-o", "xml"},
		{"--kernel-config", file, "--kubernetes-version", "one.two"},
		{"--local", "--image-bytes", "lots"},
		{"--kernel-config", filepath.Join(t.TempDir(), "missing")},
		{"--local", "--root", filepath.Join(t.TempDir(), "missing")},
	} {
		_, _, code := execute(t, args...)
		if code != cliutil.ExitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
