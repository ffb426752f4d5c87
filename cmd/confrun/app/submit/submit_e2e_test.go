//go:build e2e

package submit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/labtest"
	"github.com/confrun/confrun/internal/release"
	isubmit "github.com/confrun/confrun/internal/submit"
	"github.com/confrun/confrun/internal/submit/submittest"
)

// TestSubmitDryRunOnLabResults builds a submission folder from each run
// the lab recorded (lab/.state/samples/<name>/, `make lab-e2e-sample`) and
// checks that `confrun submit --dry-run` prints a correct plan without a
// token. The lab runs a small [Conformance] focus, so verify fails and
// --force is needed; the rules that must hold for any real run (versions of
// the lab's v1.34 build, log and JUnit of one run) are checked too.
func TestSubmitDryRunOnLabResults(t *testing.T) {
	lab := labtest.Require(t)
	rel, err := release.Parse(lab.K8sVersion)
	if err != nil {
		t.Fatalf("lab Kubernetes version %q: %v", lab.K8sVersion, err)
	}
	samples, _ := filepath.Glob(filepath.Join(lab.StateDir, "samples", "*", "e2e.log"))
	if len(samples) == 0 {
		t.Skip("no lab run recorded in lab/.state/samples/: run `make lab-e2e-sample`")
	}
	t.Setenv("GITHUB_TOKEN", "")
	for _, logPath := range samples {
		src := filepath.Dir(logPath)
		name := filepath.Base(src)
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(src, "junit_01.xml")); err != nil {
				t.Skipf("%s has no junit_01.xml", src)
			}
			product := "lab-" + name
			dir := filepath.Join(t.TempDir(), rel.String(), product)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"e2e.log", "junit_01.xml"} {
				if err := os.WriteFile(filepath.Join(dir, f), mustRead(t, filepath.Join(src, f)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(filepath.Join(dir, "README.md"), []byte(submittest.Readme(product)), 0o644)
			os.WriteFile(filepath.Join(dir, "PRODUCT.yaml"), []byte(submittest.ProductYAML(product)), 0o644)

			r := runCmd(t, "--dry-run", "--force", "--latest", rel.String(), "--signoff-name", "Lab", "--signoff-email", "lab@example.com", dir)
			if r.err != nil {
				t.Fatalf("dry run: %v\n%s", r.err, r.stderr)
			}
			want := []string{"Dry run: nothing was changed", "Conformance results for " + rel.String() + "/" + product,
				"confrun/" + rel.String() + "-" + product, "Signed-off-by: Lab <lab@example.com>"}
			for _, f := range isubmit.Files {
				want = append(want, rel.String()+"/"+product+"/"+f)
			}
			for _, w := range want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("plan lacks %q:\n%s", w, r.stdout)
				}
			}
			rep, err := isubmit.Verify(t.Context(), isubmit.VerifyOptions{Dir: dir, Latest: rel.String()})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{isubmit.RuleE2EVersion, isubmit.RuleAPIServerVersion, isubmit.RuleLogJUnitSameRun} {
				if rr, _ := rep.Rule(id); rr.Status != isubmit.StatusPass {
					t.Errorf("%s on a lab run: %s %s", id, rr.Status, rr.Detail)
				}
			}
		})
	}
}
