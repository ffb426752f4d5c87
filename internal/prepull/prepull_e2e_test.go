//go:build e2e

package prepull

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/helperimage"
	"github.com/confrun/confrun/internal/labtest"
	"github.com/confrun/confrun/internal/prepull/nodepull"
)

// confrunBin is confrun built from this tree for the tests (static, so the
// helper image can be assembled from it without another build).
var confrunBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "confrun-prepull-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	src, err := helperimage.FindSource(".")
	if err == nil {
		confrunBin = filepath.Join(dir, "confrun")
		cmd := exec.Command("go", "build", "-trimpath", "-o", confrunBin, "./cmd/confrun")
		cmd.Dir, cmd.Stderr = src, os.Stderr
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		err = cmd.Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "building confrun: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type e2e struct {
	t       *testing.T
	lab     *labtest.Lab
	client  kubernetes.Interface
	sockets map[string]string
	dir     string
	arch    string
	// nodes are the lab's nodes of arch, the ones a map for arch reaches
	// (a lab started with LAB_MIPS=1 also has lab-mips-1).
	nodes []string
}

func setup(t *testing.T) *e2e {
	lab := labtest.Require(t)
	client, _, err := (&cliutil.KubeFlags{Kubeconfig: lab.Kubeconfig}).Clientset()
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, lab: lab, client: client, sockets: map[string]string{}, dir: t.TempDir()}
	for _, pair := range strings.Fields(lab.Env["LAB_CONTAINERD_SOCKETS"]) {
		n, s, _ := strings.Cut(pair, "=")
		e.sockets[n] = s
	}
	if len(e.sockets) != len(lab.Nodes) || len(lab.Nodes) == 0 {
		t.Fatalf("lab env: nodes %v, sockets %v", lab.Nodes, e.sockets)
	}
	node, err := client.CoreV1().Nodes().Get(context.Background(), lab.Nodes[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.arch = NodeArch(node)
	for _, n := range lab.Nodes {
		nd, err := client.CoreV1().Nodes().Get(context.Background(), n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if NodeArch(nd) == e.arch {
			e.nodes = append(e.nodes, n)
		}
	}
	return e
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// copyImage copies a lab image under a fresh name, so that no node has it.
func (e *e2e) copyImage(labName, repo string) (string, string) {
	e.t.Helper()
	im, ok := e.lab.Image(labName)
	if !ok {
		e.t.Fatalf("the lab has no %s image", labName)
	}
	src, err := name.ParseReference(im.Ref)
	if err != nil {
		e.t.Fatal(err)
	}
	dst := fmt.Sprintf("%s/confrun-e2e/%s:1", e.lab.Registry, repo)
	dref, err := name.ParseReference(dst)
	if err != nil {
		e.t.Fatal(err)
	}
	idx, err := remote.Index(src)
	if err != nil {
		e.t.Fatalf("reading %s: %v", im.Ref, err)
	}
	if err := remote.WriteIndex(dref, idx); err != nil {
		e.t.Fatalf("copying %s to %s: %v", im.Ref, dst, err)
	}
	return dst, im.Upstream
}

// writeMap writes an image map for the lab nodes' arch.
func (e *e2e) writeMap(file string, images []Image) string {
	e.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: confrun.dev/v1alpha1\nkind: ImageMap\narch: %s\nrelease: v1.34\nimages:\n", e.arch)
	for _, im := range images {
		fmt.Fprintf(&b, "- upstream: %s\n  target: %s\n  kind: e2e\n  pull: true\n", im.Upstream, im.Target)
	}
	path := filepath.Join(e.dir, file)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// confrun runs the binary and returns stdout and the exit code.
func (e *e2e) confrun(ctx context.Context, args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.CommandContext(ctx, confrunBin, append(args, "--kubeconfig", e.lab.Kubeconfig)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	e.t.Logf("confrun %s\n%s", strings.Join(args, " "), errb.String())
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), code
}

// ctrImages lists a node's images the way a person checks: ctr on the
// node's containerd socket. It returns name -> "type digest".
func (e *e2e) ctrImages(node string) map[string]string {
	e.t.Helper()
	out, err := exec.Command("ctr", "--address", e.sockets[node], "-n", "k8s.io", "images", "ls").CombinedOutput()
	if err != nil {
		e.t.Fatalf("ctr images ls on %s: %v\n%s", node, err, out)
	}
	images := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] != "REF" {
			images[f[0]] = f[1] + " " + f[2]
		}
	}
	return images
}

func (e *e2e) ctrRemove(names ...string) {
	for node, sock := range e.sockets {
		args := append([]string{"--address", sock, "-n", "k8s.io", "images", "rm"}, names...)
		if out, err := exec.Command("ctr", args...).CombinedOutput(); err != nil {
			e.t.Logf("ctr images rm on %s: %v\n%s", node, err, out)
		}
	}
}

func (e *e2e) namespaceGone(ctx context.Context, ns string) {
	e.t.Helper()
	if _, err := e.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		e.t.Errorf("namespace %s still there: %v", ns, err)
	}
}

// TestPodModeLab: pod mode pulls every image of the map to both nodes, as
// each node's containerd shows afterwards; a missing image is reported with
// the registry's reason while the others complete; a second run finds the
// images present.
func TestPodModeLab(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	sfx := suffix()
	agn, agnUp := e.copyImage("agnhost", "agnhost-"+sfx)
	bb, bbUp := e.copyImage("busybox", "busybox-"+sfx)
	missingRef := fmt.Sprintf("%s/confrun-e2e/missing-%s:1", e.lab.Registry, sfx)
	defer e.ctrRemove(agn, bb)
	mapPath := e.writeMap("imagemap.yaml", []Image{{Upstream: agnUp, Target: agn}, {Upstream: bbUp, Target: bb},
		{Upstream: "registry.k8s.io/e2e-test-images/missing:1", Target: missingRef}})
	const ns = "confrun-prepull-e2e"
	args := []string{"prepull", "--imagemap", mapPath, "--helper-registry", e.lab.Registry, "-n", ns, "-o", "json", "--verify-timeout", "3m"}

	out, code := e.confrun(ctx, args...)
	if code != cliutil.ExitFailure {
		t.Fatalf("exit %d, want 1 (the missing image)\n%s", code, out)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report on stdout: %v\n%s", err, out)
	}
	if _, err := ReadReport(filepath.Join(e.dir, ReportFile)); err != nil {
		t.Errorf("report beside the map: %v", err)
	}
	for _, node := range e.nodes {
		// A node whose runtime holds more images than the kubelet lists
		// (a lab used for a while) verifies by the pods instead.
		want := VerifiedNodeStatus
		if nd, err := e.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		} else if len(nd.Status.Images) >= NodeStatusMaxImages {
			want = VerifiedPod
		}
		for _, target := range []string{agn, bb} {
			c := cellOf(t, &rep, node, target)
			if c.Status != StatusPulled || c.Verified != want && c.Verified != VerifiedNodeStatus || c.SizeBytes == 0 {
				t.Errorf("%s on %s: %+v, want pulled, verified by %s", target, node, c, want)
			}
		}
		c := cellOf(t, &rep, node, missingRef)
		if c.Status != StatusFailed || c.Reason != "ErrImagePull" || !strings.Contains(c.Message, "not found") {
			t.Errorf("missing image on %s: %+v, want ErrImagePull with the registry's not found", node, c)
		}
		// What the node's runtime really holds.
		have := e.ctrImages(node)
		for _, target := range []string{agn, bb} {
			if _, ok := have[target]; !ok {
				t.Errorf("%s: containerd has no %s after the run", node, target)
			}
		}
	}
	e.namespaceGone(ctx, ns)

	// Again: everything that is there is skipped.
	out, code = e.confrun(ctx, append(args, "--force")...)
	if code != cliutil.ExitFailure {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	rep = Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, node := range e.nodes {
		for _, target := range []string{agn, bb} {
			if c := cellOf(t, &rep, node, target); c.Status != StatusPresent || c.Verified == "" {
				t.Errorf("second run, %s on %s: %+v, want present", target, node, c)
			}
		}
	}
	e.namespaceGone(ctx, ns)
}

// TestNodeModeLab: node mode makes registry.k8s.io/e2e-test-images/agnhost:2.56
// present on both nodes from the lab's agnhost-mips64el image, and the
// runtime's CRI finds it under that name. A fresh image is pulled by the
// digest of the nodes' platform manifest and named under its upstream name.
func TestNodeModeLab(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	agn, ok := e.lab.Image("agnhost")
	if !ok {
		t.Fatal("the lab has no agnhost image")
	}
	const upstream = "registry.k8s.io/e2e-test-images/agnhost:2.56"
	if agn.Upstream != upstream {
		t.Fatalf("lab agnhost upstream = %s", agn.Upstream)
	}
	sfx := suffix()
	bb, _ := e.copyImage("busybox", "busybox-"+sfx)
	bbUp := "registry.k8s.io/confrun-e2e/busybox-" + sfx + ":1"
	defer e.ctrRemove(bb, bbUp)
	// Start from nodes without the upstream name.
	e.ctrRemove(upstream)
	for _, node := range e.lab.Nodes {
		if _, ok := e.ctrImages(node)[upstream]; ok {
			t.Fatalf("%s still has %s", node, upstream)
		}
	}
	bbDigest, err := ResolvePlatformDigest(ctx, bb, "linux/"+e.arch)
	if err != nil {
		t.Fatal(err)
	}
	mapPath := e.writeMap("imagemap.yaml", []Image{{Upstream: upstream, Target: agn.Ref}, {Upstream: bbUp, Target: bb}})
	out, code := e.confrun(ctx, "prepull", "--imagemap", mapPath, "--mode", "node", "--helper-registry", e.lab.Registry,
		"-n", "confrun-prepull-e2e-node", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, node := range e.nodes {
		have := e.ctrImages(node)
		// The upstream name is the target's image (an index the runtime
		// resolves to its platform, or that platform's manifest).
		if have[upstream] == "" || have[upstream] != have[agn.Ref] {
			t.Errorf("%s: %s is %q, %s is %q: want the same image", node, upstream, have[upstream], agn.Ref, have[agn.Ref])
		}
		// The fresh image: pulled by the platform's manifest digest.
		for _, n := range []string{bb, bbUp} {
			if got := have[n]; !strings.HasSuffix(got, " "+bbDigest) || !strings.Contains(got, "manifest.v1") {
				t.Errorf("%s: %s is %q, want the linux/%s manifest %s", node, n, got, e.arch, bbDigest)
			}
		}
		c, err := nodepull.Dial(e.sockets[node], nodepull.DefaultNamespace)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]string{}
		for _, n := range []string{upstream, agn.Ref, bbUp} {
			st, err := c.CRI.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: n}})
			if err != nil || st.Image == nil {
				t.Errorf("%s: CRI ImageStatus(%s) = %v, %v: the kubelet would pull it", node, n, st, err)
				continue
			}
			ids[n] = st.Image.Id
		}
		c.Close()
		if ids[upstream] != ids[agn.Ref] {
			t.Errorf("%s: CRI image IDs differ: %v", node, ids)
		}
	}
	e.namespaceGone(ctx, "confrun-prepull-e2e-node")
}

// hangingRegistry accepts connections and never answers, so a pull from it
// stays in progress until Close.
type hangingRegistry struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (h *hangingRegistry) serve() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
	}
}

func (h *hangingRegistry) Close() {
	_ = h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		_ = c.Close()
	}
}

// TestKillMidPullThenCleanup: confrun killed (SIGKILL) while a pull is in
// progress leaves its namespace and DaemonSet; `prepull --cleanup` removes
// them and nothing of prepull is left.
func TestKillMidPullThenCleanup(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// A registry on the node bridge that both nodes reach and that never answers.
	u, err := url.Parse(e.lab.Env["LAB_APISERVER"])
	if err != nil || u.Hostname() == "" {
		t.Fatalf("LAB_APISERVER %q: %v", e.lab.Env["LAB_APISERVER"], err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(u.Hostname(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	hang := &hangingRegistry{ln: ln}
	go hang.serve()
	defer hang.Close()
	slow := fmt.Sprintf("%s/confrun-e2e/hang-%s:1", ln.Addr().String(), suffix())
	bb, bbUp := e.copyImage("busybox", "busybox-"+suffix())
	defer e.ctrRemove(bb)
	mapPath := e.writeMap("imagemap.yaml", []Image{{Upstream: bbUp, Target: bb}, {Upstream: "registry.k8s.io/slow:1", Target: slow}})
	const ns = "confrun-prepull-e2e-kill"

	cmd := exec.CommandContext(ctx, confrunBin, "prepull", "--imagemap", mapPath, "--helper-registry", e.lab.Registry,
		"-n", ns, "--kubeconfig", e.lab.Kubeconfig)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the kubelet is pulling the slow image on a node.
	f := informers.NewSharedInformerFactoryWithOptions(e.client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = ownSelector() }))
	inf := f.Core().V1().Pods().Informer()
	pulling := func() bool {
		for _, o := range inf.GetStore().List() {
			pod := o.(*corev1.Pod)
			inits := pod.Status.InitContainerStatuses
			for _, cs := range pod.Status.ContainerStatuses {
				if cs.Image == slow && cs.State.Waiting != nil && len(inits) > 0 && inits[0].State.Terminated != nil {
					return true
				}
			}
		}
		return false
	}
	if err := waitUntil(ctx, f, inf, pulling, "a pod pulling the slow image"); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("killed confrun mid-pull:\n%s", stderr.String())
	if _, err := e.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("the killed run left no namespace (nothing to clean up?): %v", err)
	}
	// The kubelet's pull fails once the registry goes, so the pods can stop.
	hang.Close()

	out, code := e.confrun(ctx, "prepull", "--cleanup", "-n", ns)
	if code != 0 || !strings.Contains(out, "deleted namespace "+ns) {
		t.Fatalf("cleanup: exit %d\n%s", code, out)
	}
	e.namespaceGone(ctx, ns)
	pods, err := e.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: ownSelector()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Namespace == ns {
			t.Errorf("pod %s/%s left", p.Namespace, p.Name)
		}
	}
	out, code = e.confrun(ctx, "prepull", "--cleanup", "-n", ns)
	if code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Errorf("second cleanup: exit %d\n%s", code, out)
	}
}

// setTaint adds (or, with remove, removes) a taint on a node.
func (e *e2e) setTaint(ctx context.Context, node string, taint corev1.Taint, remove bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := e.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != taint.Key {
				taints = append(taints, t)
			}
		}
		if !remove {
			taints = append(taints, taint)
		}
		n.Spec.Taints = taints
		_, err = e.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// TestTaintedDuringRunLab: a node tainted NoSchedule after prepull chose
// its nodes gets no pod from the DaemonSet controller. prepull names the
// taint and how to get past it, as it happens and in the report, gives the
// node up after --unschedulable-timeout instead of waiting for --timeout,
// and the other node completes. The taint goes in t.Cleanup.
func TestTaintedDuringRunLab(t *testing.T) {
	e := setup(t)
	if len(e.nodes) < 2 {
		t.Skipf("needs two %s nodes, the lab has %v", e.arch, e.nodes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sfx := suffix()
	bb, bbUp := e.copyImage("busybox", "busybox-"+sfx)
	defer e.ctrRemove(bb)
	tainted, other := e.nodes[1], e.nodes[0]
	taint := corev1.Taint{Key: "confrun.dev/e2e-" + sfx, Value: "x", Effect: corev1.TaintEffectNoSchedule}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := e.setTaint(cctx, tainted, taint, true); err != nil {
			t.Errorf("removing the taint %s from %s: %v (remove it by hand: kubectl taint nodes %s %s-)", taint.Key, tainted, err, tainted, taint.Key)
		}
	})
	const ns = "confrun-prepull-e2e-taint"
	var progress bytes.Buffer
	opts := Options{Client: e.client, Images: []Image{{Upstream: bbUp, Target: bb}}, Namespace: ns,
		Selection: Selection{Arch: e.arch}, Timeout: 8 * time.Minute, UnschedulableTimeout: 20 * time.Second,
		VerifyTimeout: 3 * time.Minute, Progress: &progress}
	// Called once the nodes are chosen, before the DaemonSet exists.
	opts.ResolveHelper = func(ctx context.Context, names []string) (string, error) {
		if err := e.setTaint(ctx, tainted, taint, false); err != nil {
			return "", fmt.Errorf("tainting %s: %w", tainted, err)
		}
		arches, err := ParseArches(names)
		if err != nil {
			return "", err
		}
		return helperimage.BuildAndPush(ctx, e.lab.Registry, helperimage.Options{Arches: arches,
			Binaries: map[string]string{runtime.GOARCH: confrunBin}, Log: io.Discard})
	}
	t0 := time.Now()
	rep, err := Run(ctx, opts)
	t.Logf("prepull in %s:\n%s", time.Since(t0).Round(time.Second), progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if c := cellOf(t, rep, other, bb); c.Status != StatusPulled || c.Verified == "" {
		t.Errorf("%s on %s: %+v, want pulled and verified", bb, other, c)
	}
	c := cellOf(t, rep, tainted, bb)
	if c.Status != StatusFailed || c.Reason != ReasonUntoleratedTaint || !strings.Contains(c.Message, taint.Key+"=x:NoSchedule") {
		t.Errorf("%s on the tainted %s: %+v, want failed naming the taint", bb, tainted, c)
	}
	var blocked []Blocked
	for _, n := range rep.Nodes {
		if n.Name == tainted {
			blocked = n.Blocked
		}
	}
	fix := fmt.Sprintf("kubectl taint nodes %s %s=x:NoSchedule-", tainted, taint.Key)
	if len(blocked) != 1 || !blocked[0].GaveUp || !strings.Contains(blocked[0].Fix, fix) || !strings.Contains(blocked[0].Fix, "--include-tainted") {
		t.Errorf("%s blocked: %+v, want given up with the fix %q", tainted, blocked, fix)
	}
	if p := progress.String(); !strings.Contains(p, tainted+": "+ReasonUntoleratedTaint+": ") || !strings.Contains(p, fix) {
		t.Errorf("the progress did not name the taint and its fix as it happened")
	}
	if rep.Summary.Timeout != 0 || rep.ExitCode() != cliutil.ExitFailure {
		t.Errorf("summary %+v, exit %d: want the tainted node failed, nothing timed out", rep.Summary, rep.ExitCode())
	}
	e.namespaceGone(ctx, ns)
}
