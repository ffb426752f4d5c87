package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/helperimage"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/regtest"
	"github.com/confrun/confrun/internal/nodecheck"
	"github.com/confrun/confrun/internal/release"
)

func node(name, archLabel, runtimeVersion string, ready bool) *corev1.Node {
	st := corev1.ConditionTrue
	if !ready {
		st = corev1.ConditionFalse
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/arch": archLabel}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "KubeletReady"}},
			NodeInfo:   corev1.NodeSystemInfo{Architecture: archLabel, ContainerRuntimeVersion: runtimeVersion, KubeletVersion: "v1.34.4"},
		},
	}
}

func TestPodSpecIsReadOnlyAndUnprivileged(t *testing.T) {
	o := &Options{Namespace: "confrun", Helper: helperimage.Pinned{Image: "reg:5000/confrun/helper@sha256:abc"}, Release: release.MustParse("v1.34"),
		CNI: "calico", APIServer: "https://10.0.0.1:6443", Timeout: 2 * time.Minute}
	p := o.PodSpec("lab-node-2", arch.MustParse("amd64"))
	s := p.Spec
	if s.NodeName != "lab-node-2" || !s.HostNetwork || s.DNSPolicy != corev1.DNSDefault || s.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("pod placement: node %q hostNetwork %v dns %q restart %q", s.NodeName, s.HostNetwork, s.DNSPolicy, s.RestartPolicy)
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		t.Error("the pod gets a service account token it does not need")
	}
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 120 {
		t.Errorf("deadline %v", s.ActiveDeadlineSeconds)
	}
	paths := map[string]bool{}
	for _, v := range s.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
			continue
		}
		paths[v.HostPath.Path] = true
	}
	for _, want := range []string{"/proc", "/sys", "/boot", "/lib"} {
		if !paths[want] {
			t.Errorf("no hostPath volume for %s", want)
		}
	}
	if len(paths) != 4 {
		t.Errorf("hostPath volumes %v, want exactly the four", paths)
	}
	if len(s.Containers) != 1 {
		t.Fatalf("%d containers for a helper image that is not an index", len(s.Containers))
	}
	c := s.Containers[0]
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly || !strings.HasPrefix(m.MountPath, "/host/") {
			t.Errorf("mount %s at %s read-only=%v", m.Name, m.MountPath, m.ReadOnly)
		}
	}
	sc := c.SecurityContext
	if sc == nil || (sc.Privileged != nil && *sc.Privileged) || sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 ||
		sc.Capabilities.Drop[0] != "ALL" || sc.RunAsUser == nil || *sc.RunAsUser == 0 || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("security context %+v is not locked down", sc)
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"doctor --local --root /host -o json", "--node-name lab-node-2", "--pod-uid $(POD_UID)",
		"--kubernetes-version v1.34", "--cni calico", "--apiserver https://10.0.0.1:6443", "--resolv-conf /etc/resolv.conf"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if len(c.Env) != 1 || c.Env[0].Name != "POD_UID" || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.uid" {
		t.Errorf("env %+v", c.Env)
	}
	if c.Image != o.Helper.Image || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s policy %s", c.Image, c.ImagePullPolicy)
	}
	if len(s.Tolerations) != 1 || s.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Errorf("tolerations %+v: the pod must run on tainted nodes too", s.Tolerations)
	}
}

func TestDetectCNI(t *testing.T) {
	ds := func(ns, name, image string) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}}}}
	}
	o := &Options{Client: fake.NewSimpleClientset(ds("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy:v1.34.4"), ds("kube-flannel", "kube-flannel-ds", "ghcr.io/flannel-io/flannel:v0.26"))}
	c := o.detectCNI(context.Background())
	if o.CNI != "flannel" || !strings.Contains(c.Evidence, "kube-flannel/kube-flannel-ds") {
		t.Errorf("detected %q: %s", o.CNI, c.Evidence)
	}
	o = &Options{Client: fake.NewSimpleClientset(ds("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy:v1.34.4"))}
	c = o.detectCNI(context.Background())
	if o.CNI != "" || !strings.Contains(c.Evidence, "no Calico, Flannel or Cilium") || !strings.Contains(c.Fix, "--cni") {
		t.Errorf("no CNI: %q %+v", o.CNI, c)
	}
	o = &Options{Client: fake.NewSimpleClientset(ds("kube-system", "cilium", "quay.io/cilium/cilium:v1.16")), CNI: "none"}
	o.detectCNI(context.Background())
	if o.CNI != "" {
		t.Errorf("--cni none became %q", o.CNI)
	}
}

func TestAPIServerEndpoint(t *testing.T) {
	name, port := "https", int32(6443)
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "kubernetes", Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.213.0.1"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
	}
	if got := apiserverEndpoint(context.Background(), fake.NewSimpleClientset(es)); got != "https://10.213.0.1:6443" {
		t.Errorf("endpoint %q", got)
	}
	if got := apiserverEndpoint(context.Background(), fake.NewSimpleClientset()); got != "" {
		t.Errorf("endpoint without slices %q", got)
	}
}

func TestSelectNodesAndArches(t *testing.T) {
	c := fake.NewSimpleClientset(node("b", "mips64el", "", true), node("a", "amd64", "", true), node("c", "amd64", "", true))
	nodes, err := SelectNodes(context.Background(), c, nil)
	if err != nil || len(nodes) != 3 || nodes[0].Name != "a" {
		t.Fatalf("nodes %v, %v", nodes, err)
	}
	arches, err := NodeArches(nodes)
	if err != nil || len(arches) != 2 || arches[0].GOARCH != "amd64" || arches[1].GOARCH != "mips64le" {
		t.Errorf("arches %v, %v", arches, err)
	}
	if _, err := SelectNodes(context.Background(), c, []string{"a", "zz"}); err == nil || !strings.Contains(err.Error(), "zz") {
		t.Errorf("unknown node: %v", err)
	}
	if _, err := NodeArches([]corev1.Node{*node("x", "vax", "", true)}); err == nil {
		t.Error("unknown arch accepted")
	}
}

func TestParseReport(t *testing.T) {
	res := nodecheck.Result{Nodes: []nodecheck.Report{{Node: "n1", Arch: "amd64", Checks: []nodecheck.Check{{Area: "kernel", Name: "x", Status: nodecheck.StatusFail}}}}}
	b, _ := json.Marshal(res)
	r, err := parseReport(append([]byte("W1122 warning line\n"), b...), nil)
	if err != nil || r.Node != "n1" || len(r.Checks) != 1 {
		t.Fatalf("report %+v, %v", r, err)
	}
	pod := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: container, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}}}}}
	_, err = parseReport([]byte("exec /confrun: exec format error"), pod)
	if err == nil || !strings.Contains(err.Error(), "exec format error") || !strings.Contains(err.Error(), "exited 2") {
		t.Errorf("garbage log: %v", err)
	}
}

func TestClusterChecks(t *testing.T) {
	n := node("n1", "amd64", "containerd://1.6.20", true)
	r := &nodecheck.Report{Arch: "amd64", Machine: "x86_64", CgroupMode: nodecheck.CgroupHybrid,
		CgroupDrivers: &nodecheck.CgroupDrivers{Kubelet: "cgroupfs", Runtime: "cgroupfs", Container: "/sys/fs/cgroup/pids/kubepods/x/y"},
		Checks:        []nodecheck.Check{{Area: nodecheck.AreaCgroups, Name: "cgroup version", Status: nodecheck.StatusFail, Evidence: "v1"}}}
	proxy := func(_ context.Context, node, path string) ([]byte, error) {
		switch path {
		case "configz":
			return []byte(`{"kubeletconfig":{"cgroupDriver":"systemd","failCgroupV1":false,"imageGCHighThresholdPercent":85,"evictionHard":{"imagefs.available":"15%"}}}`), nil
		case "stats/summary":
			return []byte(`{"node":{"runtime":{"imageFs":{"availableBytes":5368709120,"capacityBytes":107374182400}}}}`), nil
		}
		return nil, errors.New("unexpected path " + path)
	}
	cs := clusterChecks(context.Background(), proxy, n, r, release.MustParse("v1.35"), 0)
	byName := map[string]nodecheck.Check{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	want := map[string]nodecheck.Status{
		"node Ready":        nodecheck.StatusOK,
		"container runtime": nodecheck.StatusWarn, // containerd 1.x
		"kubelet version":   nodecheck.StatusWarn, // v1.34 kubelet, v1.35 control plane
		"architecture":      nodecheck.StatusOK,
		"cgroup driver":     nodecheck.StatusFail, // configz systemd, runtime cgroupfs
		"image storage":     nodecheck.StatusFail, // 95% used
	}
	for name, st := range want {
		c, ok := byName[name]
		if !ok {
			t.Errorf("no %s check", name)
			continue
		}
		if c.Status != st {
			t.Errorf("%s: %s (%s), want %s", name, c.Status, c.Evidence, st)
		}
	}
	if !strings.Contains(byName["cgroup driver"].Fix, "SystemdCgroup = true") {
		t.Errorf("cgroup driver fix %q", byName["cgroup driver"].Fix)
	}
	// failCgroupV1: false on this kubelet turns the node's cgroup v1 failure
	// into a warning.
	if v := r.Checks[0]; v.Status != nodecheck.StatusWarn || !strings.Contains(v.Evidence, "failCgroupV1: false") {
		t.Errorf("cgroup version after configz: %+v", v)
	}

	// Without nodes/proxy access doctor still reports, with warnings.
	deny := func(context.Context, string, string) ([]byte, error) { return nil, errors.New("forbidden") }
	for _, c := range clusterChecks(context.Background(), deny, n, &nodecheck.Report{}, release.MustParse("v1.34"), 0) {
		if (c.Name == "cgroup driver" || c.Name == "image storage") && c.Status != nodecheck.StatusWarn {
			t.Errorf("%s without configz: %s", c.Name, c.Status)
		}
	}
	// ... and the node status gives the ephemeral storage the images must
	// fit in.
	n.Status.Capacity = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("20Gi")}
	n.Status.Allocatable = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("18Gi")}
	for need, want := range map[uint64]nodecheck.Status{10 << 30: nodecheck.StatusWarn, 19 << 30: nodecheck.StatusFail} {
		for _, c := range clusterChecks(context.Background(), deny, n, &nodecheck.Report{}, release.MustParse("v1.34"), need) {
			if c.Name == "image storage" && (c.Status != want || !strings.Contains(c.Evidence, "allocatable 18.0 GiB")) {
				t.Errorf("need %d without stats: %+v", need, c)
			}
		}
	}
}

func TestArchAndReadyChecks(t *testing.T) {
	n := node("n1", "amd64", "containerd://2.1.0", false)
	if c := readyCheck(n); c.Status != nodecheck.StatusFail || c.Fix == "" {
		t.Errorf("not ready: %+v", c)
	}
	n.Status.NodeInfo.Architecture = "mips64le"
	if c := archCheck(n, &nodecheck.Report{}); c.Status != nodecheck.StatusFail {
		t.Errorf("label/kubelet mismatch: %+v", c)
	}
	n = node("n1", "mips64le", "containerd://2.1.0", true)
	if c := archCheck(n, &nodecheck.Report{Arch: "amd64"}); c.Status != nodecheck.StatusFail || !strings.Contains(c.Evidence, "another platform") {
		t.Errorf("helper arch mismatch: %+v", c)
	}
	if c := archCheck(n, &nodecheck.Report{Arch: "mips64le", Machine: "mips64"}); c.Status != nodecheck.StatusOK {
		t.Errorf("consistent arch: %+v", c)
	}
	if c := runtimeCheck(n); c.Status != nodecheck.StatusOK {
		t.Errorf("containerd 2: %+v", c)
	}
	n.Status.NodeInfo.KubeletVersion = "v1.36.0"
	if c := kubeletCheck(n, release.MustParse("v1.34")); c.Status != nodecheck.StatusFail {
		t.Errorf("kubelet newer than apiserver: %+v", c)
	}
}

func TestEvictionPercent(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want float64
	}{{"15%", 15}, {"10Gi", 10}, {"", 0}, {"junk", 0}} {
		if got := evictionPercent(tc.v, 100<<30); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestRunAgainstFakeCluster drives Run end to end against a fake API: the
// pods are created on the right nodes, a pod that prints no report gives
// that node an error (with the cluster checks still done), and every pod
// is deleted afterwards.
// fakeCluster is a fake API with nodes whose doctor pods "run" as soon
// as they are created: status sets the pod's status (default: Succeeded);
// their log is the fake client's fixed "fake logs". The names of the nodes
// pods were created for go to created.
func fakeCluster(status func(*corev1.Pod), nodes ...runtime.Object) (*fake.Clientset, chan string) {
	c := fake.NewSimpleClientset(nodes...)
	created := make(chan string, len(nodes))
	c.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy()
		p.Name = p.GenerateName + p.Spec.NodeName
		p.Status.Phase = corev1.PodSucceeded
		if status != nil {
			status(p)
		}
		if err := c.Tracker().Create(corev1.SchemeGroupVersion.WithResource("pods"), p, p.Namespace); err != nil {
			return true, nil, err
		}
		created <- p.Spec.NodeName
		return true, p, nil
	})
	c.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := c.Tracker().Watch(corev1.SchemeGroupVersion.WithResource("pods"), a.GetNamespace())
		return true, w, err
	})
	return c, created
}

func TestRunAgainstFakeCluster(t *testing.T) {
	c, created := fakeCluster(nil, node("lab-node-1", "amd64", "containerd://1.6.20", true), node("lab-node-2", "amd64", "containerd://1.6.20", true))
	var log bytes.Buffer
	var done []string
	res, err := Run(context.Background(), Options{
		Client: c, Namespace: "confrun", Helper: helperimage.Pinned{Image: "127.0.0.1:5000/confrun/helper:sha-1"}, Release: release.MustParse("v1.34"),
		CNI: "none", Timeout: time.Minute, Log: &log,
		OnNode: func(n string, _ *nodecheck.Report) { done = append(done, n) },
		proxy:  func(context.Context, string, string) ([]byte, error) { return nil, errors.New("no kubelet here") },
	})
	if err != nil {
		t.Fatal(err)
	}
	close(created)
	var nodes []string
	for n := range created {
		nodes = append(nodes, n)
	}
	if len(nodes) != 2 || len(res.Nodes) != 2 || len(done) != 2 {
		t.Fatalf("pods on %v, reports %d, callbacks %v", nodes, len(res.Nodes), done)
	}
	for i, want := range []string{"lab-node-1", "lab-node-2"} {
		r := res.Nodes[i]
		if r.Node != want || !strings.Contains(r.Error, "printed no report") || !strings.Contains(r.Error, "fake logs") {
			t.Errorf("node %d: %s error %q", i, r.Node, r.Error)
		}
		if _, ok := r.Find(nodecheck.AreaRuntime, "node Ready"); !ok {
			t.Errorf("%s: cluster checks missing", r.Node)
		}
	}
	if !res.Failed() {
		t.Error("a run whose pods printed nothing is not failed")
	}
	pods, _ := c.CoreV1().Pods("confrun").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 0 {
		t.Errorf("%d doctor pods left behind", len(pods.Items))
	}
	ns, err := c.CoreV1().Namespaces().Get(context.Background(), "confrun", metav1.GetOptions{})
	if err != nil || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace %+v, %v", ns, err)
	}
}

func TestPrintTableGroupsByArea(t *testing.T) {
	res := &nodecheck.Result{Nodes: []nodecheck.Report{{
		Node: "n1", Arch: "mips64le", KernelRelease: "6.1", CgroupMode: "v2",
		Checks: []nodecheck.Check{
			{Area: nodecheck.AreaNode, Name: "swap", Status: nodecheck.StatusOK, Evidence: "none"},
			{Area: nodecheck.AreaKernel, Name: "CONFIG_CPUSETS", Status: nodecheck.StatusFail, Evidence: "absent", Fix: "enable it"},
			{Area: nodecheck.AreaKernel, Name: "CONFIG_MEMCG", Status: nodecheck.StatusOK, Evidence: "=y"},
			{Area: nodecheck.AreaCgroups, Name: "cpu controller", Status: nodecheck.StatusWarn, Evidence: "not enabled", Confidence: nodecheck.ConfidenceProbe},
		},
	}, {Node: "n2", Error: "pod did not start"}}}
	var b bytes.Buffer
	if err := PrintTable(&b, res, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"NODE n1 (linux/mips64le, kernel 6.1, cgroup v2): 2 ok, 1 warn, 1 fail", "AREA", "EVIDENCE", "FIX",
		"CONFIG_CPUSETS", "enable it", "warn (probe)", "1 more checks", "NODE n2", "ERROR pod did not start"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CONFIG_MEMCG") {
		t.Errorf("ok rows listed without --all:\n%s", out)
	}
	if k, c, n := strings.Index(out, "CONFIG_CPUSETS"), strings.Index(out, "cpu controller"), strings.Index(out, "node "); !(k < c && c < n) {
		t.Errorf("areas out of order (kernel %d, cgroups %d, node %d):\n%s", k, c, n, out)
	}
	b.Reset()
	if err := PrintTable(&b, res, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "CONFIG_MEMCG") {
		t.Error("--all does not list ok rows")
	}
}

// TestRunKeepsTheReportOfALateProbe: a probe still pulling at --timeout
// does not cost the node its report (here the fake log, which is no
// report: the error says so, not that the pod did not finish).
func TestRunKeepsTheReportOfALateProbe(t *testing.T) {
	c, _ := fakeCluster(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated(container, 0, ""), running(probeContainer)}
	}, node("lab-mips-1", "mips64le", "containerd://1.6.20", true))
	res, err := Run(context.Background(), Options{
		Client: c, Namespace: "confrun", Helper: pinnedHelper(), Release: release.MustParse("v1.34"), CNI: "none", Timeout: time.Second,
		proxy: func(context.Context, string, string) ([]byte, error) { return nil, errors.New("no kubelet here") },
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Nodes[0]
	if !strings.Contains(r.Error, "printed no report") || strings.Contains(r.Error, "did not finish") {
		t.Errorf("error %q", r.Error)
	}

	// A doctor container still running at --timeout: the node's error
	// says so, with the pod's state.
	c, _ = fakeCluster(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{running(container), running(probeContainer)}
	}, node("lab-mips-1", "mips64le", "containerd://1.6.20", true))
	res, err = Run(context.Background(), Options{
		Client: c, Namespace: "confrun", Helper: pinnedHelper(), Release: release.MustParse("v1.34"), CNI: "none", Timeout: time.Second,
		proxy: func(context.Context, string, string) ([]byte, error) { return nil, errors.New("no kubelet here") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Nodes[0].Error; !strings.Contains(e, "did not finish within 1s (phase Running)") {
		t.Errorf("still running: %q", e)
	}
}

// TestRunCountsMapNodesBeyondTheSelection: checking only an amd64 node
// against a mips64el map, the cluster's mips64le node still counts.
func TestRunCountsMapNodesBeyondTheSelection(t *testing.T) {
	host := regtest.Start(t)
	regtest.MustPushImage(t, host+"/cke/a:1", "linux/mips64le")
	m, path := writeMap(t, host+"/cke/a:1")
	reg, err := registry.New(registry.Options{Insecure: []string{host}, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := fakeCluster(nil, node("amd-1", "amd64", "containerd://2.1", true), node("mips-1", "mips64le", "containerd://2.1", true))
	res, err := Run(context.Background(), Options{
		Client: c, Namespace: "confrun", Helper: helperimage.Pinned{Image: "reg:5000/helper:1"}, Release: release.MustParse("v1.34"), CNI: "none",
		Timeout: time.Minute, Nodes: []string{"amd-1"}, ImageMap: m, ImageMapPath: path, Registry: reg,
		proxy: func(context.Context, string, string) ([]byte, error) { return nil, errors.New("no kubelet here") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := res.Nodes[0].Find(nodecheck.AreaRuntime, "mapped images"); !ok || c.Status != nodecheck.StatusWarn {
		t.Errorf("amd-1 with a mips64le node elsewhere: %+v", c)
	}
}
