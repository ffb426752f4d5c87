package prepull

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/confrun/confrun/internal/prepull/nodepull"
)

// evaluate runs the Pod Security admission checks of level on a pod spec.
func evaluate(t *testing.T, level psaapi.Level, spec *corev1.PodSpec) []string {
	t.Helper()
	ev, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, r := range ev.EvaluatePod(psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}, &metav1.ObjectMeta{}, spec) {
		if !r.Allowed {
			failed = append(failed, r.ForbiddenReason+": "+r.ForbiddenDetail)
		}
	}
	return failed
}

func TestDaemonSetMeetsRestricted(t *testing.T) {
	ds := DaemonSet(PodModeSpec{Namespace: "ns", RunID: "r1", HelperImage: helperRef, Images: DedupImages(lab),
		Nodes: []string{"a", "b"}})
	spec := &ds.Spec.Template.Spec
	if bad := evaluate(t, psaapi.LevelRestricted, spec); len(bad) > 0 {
		t.Fatalf("the pod-mode pod violates the restricted profile: %v", bad)
	}
	if len(spec.Containers) != len(lab) {
		t.Fatalf("%d containers for %d images", len(spec.Containers), len(lab))
	}
	for i, c := range spec.Containers {
		if c.Image != lab[i].Target || c.ImagePullPolicy != corev1.PullIfNotPresent || c.Command[0] != helperMount+"/confrun" {
			t.Errorf("container %d = image %s policy %s command %v", i, c.Image, c.ImagePullPolicy, c.Command)
		}
		if !*c.SecurityContext.ReadOnlyRootFilesystem || !c.VolumeMounts[0].ReadOnly {
			t.Errorf("container %d may write its root or the helper", i)
		}
	}
	init := spec.InitContainers[0]
	if init.Image != helperRef || strings.Join(init.Command, " ") != "/confrun helper install "+helperMount {
		t.Errorf("init container = %s %v", init.Image, init.Command)
	}
	terms := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 2 || terms[1].MatchFields[0].Values[0] != "b" {
		t.Errorf("node terms = %+v, want one per node", terms)
	}
	if len(spec.Tolerations) != 0 {
		t.Errorf("tolerations without --include-tainted: %v", spec.Tolerations)
	}
}

func TestNodePodIsPrivilegedAndNeedsIt(t *testing.T) {
	pod := NodePod(NodeModeSpec{Namespace: "ns", RunID: "r1", HelperImage: helperRef, Node: strings.Repeat("very-long-node-name.", 5),
		Socket: "/run/x/containerd.sock", ContainerdNamespace: "k8s.io", Platform: "linux/mips64le",
		Images: []nodepull.Image{{Target: agnhost, Upstreams: []string{lab[0].Upstream}}}})
	if bad := evaluate(t, psaapi.LevelBaseline, &pod.Spec); len(bad) == 0 {
		t.Fatal("the node-mode pod passes the baseline profile: it should need privileged, or it is not doing its job")
	}
	if bad := evaluate(t, psaapi.LevelPrivileged, &pod.Spec); len(bad) > 0 {
		t.Fatalf("privileged profile rejects the node pod: %v", bad)
	}
	if len(pod.Name) > 253 || len(pod.Labels[LabelNode]) > 63 {
		t.Errorf("name %d chars, node label %d chars", len(pod.Name), len(pod.Labels[LabelNode]))
	}
	cmd := strings.Join(pod.Spec.Containers[0].Command, " ")
	for _, want := range []string{"--address /run/x/containerd.sock", "--platform linux/mips64le", "--namespace k8s.io", `"upstreams":["registry.k8s.io/e2e-test-images/agnhost:2.56"]`} {
		if !strings.Contains(cmd, want) {
			t.Errorf("command %q lacks %q", cmd, want)
		}
	}
	if hp := pod.Spec.Volumes[0].HostPath; hp == nil || hp.Path != "/run/x/containerd.sock" || *hp.Type != corev1.HostPathSocket {
		t.Errorf("socket volume = %+v", pod.Spec.Volumes[0])
	}
}

func TestNamespaceLevels(t *testing.T) {
	if l := namespaceObject("x", false).Labels["pod-security.kubernetes.io/enforce"]; l != "restricted" {
		t.Errorf("pod mode namespace enforces %q", l)
	}
	if l := namespaceObject("x", true).Labels["pod-security.kubernetes.io/enforce"]; l != "privileged" {
		t.Errorf("node mode namespace enforces %q", l)
	}
}

func TestInstallHelperCopiesAtomically(t *testing.T) {
	src := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(src, []byte("#!binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst, err := copyExecutable(src, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	st, _ := os.Stat(dst)
	if err != nil || string(b) != "#!binary" || st.Mode().Perm() != 0o755 || dst != filepath.Join(dir, "confrun") {
		t.Fatalf("copied %s: %q mode %v err %v", dst, b, st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left %d files in %s, want only confrun", len(entries), dir)
	}
	if _, err := copyExecutable(src, filepath.Join(dir, "missing")); err == nil {
		t.Fatal("copy into a missing directory succeeded")
	}
}
