//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/coverage"
	"github.com/confrun/confrun/internal/labtest"
	"github.com/confrun/confrun/internal/prepull"
	"github.com/confrun/confrun/internal/sonorun"
)

// runFocus holds two real [Conformance] specs that need only agnhost,
// busybox and pause: what the lab builds.
const runFocus = `(Pods should get a host IP|Pods should be submitted and removed).*\[Conformance\]`

// labMap writes the image map of the lab's images for amd64 into dir.
func labMap(t *testing.T, ctx context.Context, lab *labtest.Lab, dir string) string {
	t.Helper()
	m := filepath.Join(dir, "imagemap.yaml")
	r := confrun(t, ctx, lab, "images", "map", "--arch", "amd64", "--release", "v1.34", "--kubernetes-version", lab.K8sVersion,
		"--default-registry", lab.Registry,
		"--rule", "registry.k8s.io={{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-mips64el:{{.Tag}}",
		"--rule", "docker.io/sonobuoy={{.DefaultRegistry}}/cke/sonobuoy/{{.Name}}-mips64el:{{.Tag}}",
		"--out", m)
	if r.code != 0 {
		t.Fatalf("images map: %s", r)
	}
	return m
}

// prepullNodeMode places the map's images on both nodes under their
// upstream names. The lab builds only some e2e images: the others must be
// reported failed with the registry's reason, the lab's must be on every node.
func prepullNodeMode(t *testing.T, ctx context.Context, lab *labtest.Lab, imagemap string) {
	t.Helper()
	args := []string{"prepull", "--imagemap", imagemap, "--mode", "node", "--helper-registry", lab.Registry, "--force"}
	for _, pair := range strings.Fields(lab.Env["LAB_CONTAINERD_SOCKETS"]) {
		args = append(args, "--containerd-socket", pair)
	}
	r := confrun(t, ctx, lab, args...)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("prepull: %s", r)
	}
	rep, err := prepull.ReadReport(filepath.Join(filepath.Dir(imagemap), "prepull.json"))
	if err != nil {
		t.Fatalf("prepull report: %v\n%s", err, r)
	}
	if amd := amd64Nodes(t, ctx, labClient(t, lab)); len(rep.Nodes) != len(amd) {
		t.Fatalf("prepull covered %d nodes, the lab has the amd64 nodes %v", len(rep.Nodes), amd)
	}
	for _, n := range rep.Nodes {
		for _, im := range n.Images {
			inLab := false
			for _, li := range lab.Images {
				if li.Ref == im.Target {
					inLab = true
				}
			}
			ok := im.Status == prepull.StatusPresent || im.Status == prepull.StatusPulled
			switch {
			case inLab && !ok:
				t.Errorf("node %s: lab image %s is %s: %s %s", n.Name, im.Target, im.Status, im.Reason, im.Message)
			case !inLab && ok:
				t.Errorf("node %s: %s is not in the lab registry but prepull says %s", n.Name, im.Target, im.Status)
			case !inLab && !strings.Contains(im.Message+im.Reason, "not found") && !strings.Contains(strings.ToLower(im.Message+im.Reason), "manifest unknown"):
				t.Errorf("node %s: missing image %s reported without the registry's reason: %q %q", n.Name, im.Target, im.Reason, im.Message)
			}
		}
	}
}

// amd64Nodes returns the lab's amd64 nodes, the ones the lab's amd64 map
// reaches (a lab started with LAB_MIPS=1 also has lab-mips-1).
func amd64Nodes(t *testing.T, ctx context.Context, cs kubernetes.Interface) []string {
	t.Helper()
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/arch=amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list.Items {
		out = append(out, n.Name)
	}
	return out
}

// cordonOtherArches keeps the e2e suite's pods, which have no arch
// selector, off the lab's nodes of other architectures for the test, as
// `make demo ARCH=mips64el` does the other way round: the amd64 map's
// upstream names are placed on the amd64 nodes only.
func cordonOtherArches(t *testing.T, ctx context.Context, cs kubernetes.Interface) {
	t.Helper()
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/arch!=amd64"})
	if err != nil {
		t.Fatal(err)
	}
	set := func(name string, unschedulable bool) error {
		patch := fmt.Sprintf(`{"spec":{"unschedulable":%v}}`, unschedulable)
		_, err := cs.CoreV1().Nodes().Patch(context.WithoutCancel(ctx), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	}
	for _, n := range list.Items {
		if n.Spec.Unschedulable {
			continue
		}
		if err := set(n.Name, true); err != nil {
			t.Fatalf("cordoning %s: %v", n.Name, err)
		}
		t.Cleanup(func() {
			if err := set(n.Name, false); err != nil {
				t.Errorf("uncordoning %s: %v (kubectl uncordon %s)", n.Name, err, n.Name)
			}
		})
	}
}

func labClient(t *testing.T, lab *labtest.Lab) kubernetes.Interface {
	t.Helper()
	cs, _, err := (&cliutil.KubeFlags{Kubeconfig: lab.Kubeconfig}).Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// checkResults checks the folder a finished run left.
func checkResults(t *testing.T, dir string, wantPassed int) sonorun.Record {
	t.Helper()
	for _, f := range []string{sonorun.TarballFile, sonorun.E2ELogFile, sonorun.JUnitFile, sonorun.RunFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s missing or empty: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, sonorun.StateFile)); !os.IsNotExist(err) {
		t.Errorf("the in-progress record %s is still there", sonorun.StateFile)
	}
	fh, err := os.Open(filepath.Join(dir, sonorun.JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := coverage.ReadJUnit(fh)
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	var passed []string
	for _, tc := range tests {
		if tc.Status == coverage.Passed && strings.HasSuffix(tc.Name, "[Conformance]") {
			passed = append(passed, tc.Name)
		}
		if tc.Status == coverage.Failed || tc.Status == coverage.Error {
			t.Errorf("failed in junit: %s: %s", tc.Name, tc.Message)
		}
	}
	if len(passed) != wantPassed {
		t.Errorf("junit has %d passed [Conformance] specs, want %d: %q", len(passed), wantPassed, passed)
	}
	log, err := os.ReadFile(filepath.Join(dir, sonorun.E2ELogFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Ran 2 of ", "SUCCESS!", "Pods should get a host IP", "Pods should be submitted and removed"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("e2e.log lacks %q", want)
		}
	}
	var rec sonorun.Record
	b, err := os.ReadFile(filepath.Join(dir, sonorun.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Arch != "amd64" || rec.Release != "v1.34" || rec.Status != "complete" || rec.Result != "passed" || rec.Finished == nil || len(rec.Nodes) == 0 {
		t.Errorf("run.json: %+v", rec)
	}
	digests := 0
	for _, im := range rec.Images {
		if im.Digest != "" {
			digests++
		}
	}
	if digests < 2 {
		t.Errorf("run.json records %d image digests: %+v", digests, rec.Images)
	}
	return rec
}

func TestRunResumeCleanup(t *testing.T) {
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	work := t.TempDir()
	imagemap := labMap(t, ctx, lab, work)
	prepullNodeMode(t, ctx, lab, imagemap)
	cs := labClient(t, lab)
	cordonOtherArches(t, ctx, cs)
	ns := "confrun-e2e-run"

	t.Run("run", func(t *testing.T) {
		dir := filepath.Join(work, "run")
		r := confrun(t, ctx, lab, "run", "--arch", "amd64", "--product", "e2e", "--dir", dir, "--imagemap", imagemap,
			"-n", ns, "--focus", runFocus, "--timeout", "20m")
		if r.code != 0 {
			t.Fatalf("run: %s", r)
		}
		checkResults(t, dir, 2)
		if !strings.Contains(r.stdout, "next: confrun verify "+dir) {
			t.Errorf("run does not say what comes next:\n%s", r.stdout)
		}
		if c := confrun(t, ctx, lab, "run", "--cleanup", "-n", ns); c.code != 0 {
			t.Fatalf("cleanup: %s", c)
		}
	})

	t.Run("interrupt-and-resume", func(t *testing.T) {
		dir := filepath.Join(work, "resume")
		cmd := exec.CommandContext(ctx, confrunBin, "run", "--arch", "amd64", "--product", "e2e", "--dir", dir, "--imagemap", imagemap,
			"-n", ns, "--focus", runFocus)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+lab.Kubeconfig)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Interrupt once sonobuoy reports the run as running.
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.Contains(sc.Text(), "sonobuoy: running") {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
			seen = append(seen, sc.Text())
		}
		err = cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Fatalf("interrupted run: %v, want exit 130\n%s", err, strings.Join(seen, "\n"))
		}
		if !strings.Contains(strings.Join(seen, "\n"), "confrun run --resume") {
			t.Errorf("the interrupted run does not say how to resume:\n%s", strings.Join(seen, "\n"))
		}
		if _, err := os.Stat(filepath.Join(dir, sonorun.StateFile)); err != nil {
			t.Fatalf("no in-progress record after the interrupt: %v", err)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Fatalf("the run should go on in the cluster: %v", err)
		}
		r := confrun(t, ctx, lab, "run", "--resume", "--dir", dir, "--timeout", "20m")
		if r.code != 0 {
			t.Fatalf("resume: %s", r)
		}
		checkResults(t, dir, 2)
	})

	t.Run("cleanup-leaves-nothing", func(t *testing.T) {
		if c := confrun(t, ctx, lab, "run", "--cleanup", "-n", ns); c.code != 0 {
			t.Fatalf("cleanup: %s", c)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
			t.Errorf("namespace %s still exists", ns)
		}
		for _, sel := range []string{"component=sonobuoy"} {
			crs, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil || len(crs.Items) > 0 {
				t.Errorf("cluster roles %s left: %d %v", sel, len(crs.Items), err)
			}
			crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil || len(crbs.Items) > 0 {
				t.Errorf("cluster role bindings %s left: %d %v", sel, len(crbs.Items), err)
			}
		}
		pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "component=sonobuoy"})
		if err != nil || len(pods.Items) > 0 {
			t.Errorf("sonobuoy pods left: %d %v", len(pods.Items), err)
		}
	})
}
