package prepull

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/confrun/confrun/internal/prepull/nodepull"
)

func TestContainerStatusAndEvents(t *testing.T) {
	const registryMsg = `failed to pull and unpack image "x": failed to resolve reference "x": x: not found`
	waiting := func(reason, msg string) *corev1.ContainerStatus {
		return &corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
	}
	// First failure, then the back-off that repeats it.
	r := &ImageResult{Status: StatusPending}
	applyContainerStatus(r, waiting("ErrImagePull", "rpc error: code = NotFound desc = "+registryMsg))
	if r.Status != StatusFailed || r.Reason != "ErrImagePull" || r.Message != registryMsg {
		t.Fatalf("after ErrImagePull: %+v", r)
	}
	applyContainerStatus(r, waiting("ImagePullBackOff", `Back-off pulling image "x": ErrImagePull: rpc error: code = NotFound desc = `+registryMsg))
	if r.Status != StatusFailed || r.Reason != "ErrImagePull" || r.Message != registryMsg {
		t.Fatalf("during back-off: %+v, want the first failure's reason and the registry's message", r)
	}
	// Still being pulled: nothing known.
	r = &ImageResult{Status: StatusPending}
	applyContainerStatus(r, waiting("ContainerCreating", ""))
	if r.Status != StatusPending {
		t.Fatalf("creating: %+v", r)
	}
	// Running: the image is there.
	applyContainerStatus(r, &corev1.ContainerStatus{ImageID: "reg/x@sha256:1", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
	if r.Status != StatusPulled || r.ImageRef != "reg/x@sha256:1" {
		t.Fatalf("running: %+v", r)
	}
	// A crash after the pull still proves the pull.
	r = &ImageResult{Status: StatusPending}
	applyContainerStatus(r, &corev1.ContainerStatus{ImageID: "reg/x@sha256:1", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2}}})
	if r.Status != StatusPulled {
		t.Fatalf("crash loop: %+v", r)
	}

	at := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ev := func(reason, msg string) *corev1.Event {
		return &corev1.Event{Reason: reason, Message: msg, LastTimestamp: at}
	}
	r = &ImageResult{Status: StatusPending}
	if !applyEvent(r, ev("Pulled", `Successfully pulled image "reg/x:1" in 2.345s (3.1s including waiting). Image size: 123456 bytes.`)) ||
		r.Status != StatusPulled || r.PullSeconds != 2.345 || r.SizeBytes != 123456 || !r.PulledAt.Equal(at.Time) {
		t.Fatalf("pulled event: %+v", r)
	}
	r = &ImageResult{Status: StatusPending}
	if !applyEvent(r, ev("Pulled", `(combined from similar events): Successfully pulled image "reg/x:1" in 1s (1s including waiting). Image size: 5 bytes.`)) ||
		r.Status != StatusPulled || r.SizeBytes != 5 {
		t.Fatalf("aggregated pulled event: %+v", r)
	}
	r = &ImageResult{Status: StatusPending}
	if !applyEvent(r, ev("Pulled", `Container image "reg/x:1" already present on machine`)) || r.Status != StatusPresent {
		t.Fatalf("present event: %+v", r)
	}
	r = &ImageResult{Status: StatusPending}
	if !applyEvent(r, ev("Failed", `Failed to pull image "reg/x:1": rpc error: code = NotFound desc = `+registryMsg)) ||
		r.Status != StatusFailed || r.Message != registryMsg {
		t.Fatalf("failed event: %+v", r)
	}
	if applyEvent(&ImageResult{}, ev("Scheduled", "Successfully assigned")) {
		t.Fatal("a scheduling event counted as a pull")
	}
	// A failure after a success (a later retry of another pod) does not
	// undo what is on the node.
	r = &ImageResult{Status: StatusPulled}
	applyEvent(r, ev("Failed", `Failed to pull image "reg/x:1": boom`))
	if r.Status != StatusPulled {
		t.Fatalf("a late failure undid a pull: %+v", r)
	}
}

func TestNodePullResults(t *testing.T) {
	at := time.Unix(100, 0).UTC()
	r := &ImageResult{Status: StatusPending}
	applyNodePull(r, nodepull.Result{Status: nodepull.StatusPulled, Verified: true, Seconds: 1.5, SizeBytes: 10, Digest: "sha256:a"}, at)
	if r.Status != StatusPulled || r.Verified != VerifiedCRI || r.PullSeconds != 1.5 || r.ImageRef != "sha256:a" || !r.PulledAt.Equal(at) {
		t.Fatalf("pulled: %+v", r)
	}
	r = &ImageResult{Status: StatusPending}
	applyNodePull(r, nodepull.Result{Status: nodepull.StatusFailed, Reason: nodepull.ReasonTag, Message: "no"}, at)
	if r.Status != StatusFailed || r.Reason != nodepull.ReasonTag || r.Verified != "" {
		t.Fatalf("failed: %+v", r)
	}
	// A CRI check that does not find a pulled image overrides the pull.
	r = &ImageResult{Status: StatusPulled}
	applyCheck(r, nodepull.Result{Status: nodepull.StatusMissing})
	if r.Status != StatusFailed || r.Reason != "NotOnNode" {
		t.Fatalf("check missing: %+v", r)
	}
	r = &ImageResult{Status: StatusPresent, Verified: ""}
	applyCheck(r, nodepull.Result{Status: nodepull.StatusPresent, Verified: true, SizeBytes: 7})
	if r.Verified != VerifiedCRI || r.SizeBytes != 7 {
		t.Fatalf("check present: %+v", r)
	}
}

func TestNodeImagesMatching(t *testing.T) {
	n := newNode("n", "amd64")
	n.Status.Images = []corev1.ContainerImage{
		{Names: []string{"127.0.0.1:5000/cke/agnhost-mips64el@sha256:abc", "127.0.0.1:5000/cke/agnhost-mips64el:2.56", "registry.k8s.io/e2e-test-images/agnhost:2.56"}, SizeBytes: 5},
		{Names: []string{"docker.io/library/busybox:1.36"}, SizeBytes: 3},
	}
	ni := indexNodeImages(n)
	if s, ok := ni.find([]string{normalize("busybox:1.36")}, ""); !ok || s != 3 {
		t.Error("short docker hub name not matched to its normalized form")
	}
	if _, ok := ni.find([]string{"127.0.0.1:5000/other:1"}, "127.0.0.1:5000/cke/agnhost-mips64el@sha256:abc"); !ok {
		t.Error("not found by its digest reference")
	}
	if _, ok := ni.findAll([]string{"127.0.0.1:5000/cke/agnhost-mips64el:2.56", "registry.k8s.io/e2e-test-images/agnhost:2.56"}); !ok {
		t.Error("node mode names not found")
	}
	if _, ok := ni.findAll([]string{"127.0.0.1:5000/cke/agnhost-mips64el:2.56", "registry.k8s.io/e2e-test-images/agnhost:2.99"}); ok {
		t.Error("found although the upstream name is missing")
	}
	if ni.truncated {
		t.Error("2 images reported as a truncated list")
	}
	for i := 0; i < NodeStatusMaxImages; i++ {
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{"x/y:" + string(rune('a'+i%26)) + strings.Repeat("z", i)}})
	}
	if !indexNodeImages(n).truncated {
		t.Error("a list of the kubelet's maximum length not seen as truncated")
	}
}

func TestMakePlan(t *testing.T) {
	tainted := newNode("t1", "amd64")
	tainted.Spec.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
	lifecycle := newNode("t2", "amd64", notReady)
	lifecycle.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}}
	other := newNode("o1", "amd64")
	other.Labels["pool"] = "other"
	windows := newNode("w1", "amd64")
	windows.Labels[corev1.LabelOSStable] = "windows"
	nodes := []corev1.Node{*newNode("b", "amd64"), *newNode("a", "amd64"), *tainted, *lifecycle, *newNode("m", "mips64le"), *other, *windows}
	images := append(append([]Image{}, lab...), Image{Upstream: "registry.k8s.io/pause:3.10", Target: pause}, Image{Target: " "})

	p, err := MakePlan(nodes, images, Selection{Arch: "amd64", Selector: labels.SelectorFromSet(labels.Set{"pool": "conf"})})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range p.Nodes {
		names = append(names, n.Name+":"+n.Skipped)
	}
	got := strings.Join(names, ",")
	if !strings.HasPrefix(got, "a:,b:,t1:tainted node-role.kubernetes.io/control-plane:NoSchedule") || !strings.Contains(got, ",t2:,w1:kubernetes.io/os=windows") {
		t.Errorf("plan nodes = %s", got)
	}
	if len(p.Targets()) != 2 { // t2 is not Ready
		t.Errorf("targets = %+v", p.Targets())
	}
	if len(p.Images) != 3 || len(p.Images[1].Upstreams) != 2 {
		t.Errorf("images = %+v, want pause once with both upstream names", p.Images)
	}
	p, err = MakePlan(nodes, lab, Selection{Arch: "amd64", IncludeTainted: true})
	if err != nil || len(p.Targets()) != 4 {
		t.Errorf("with tainted: %v %+v", err, p)
	}
	_, err = MakePlan(nodes, lab, Selection{Arch: "riscv64"})
	if !errors.Is(err, ErrNoNodes) || !strings.Contains(err.Error(), "no node with kubernetes.io/arch=riscv64") || !strings.Contains(err.Error(), "m (mips64le)") {
		t.Errorf("no node error = %v, want the arch and the cluster's nodes", err)
	}
	if _, err := MakePlan(nodes, nil, Selection{}); err == nil {
		t.Error("an empty map planned")
	}
}

func TestReportRoundTripAndMissing(t *testing.T) {
	r := &Report{APIVersion: ReportAPIVersion, Kind: ReportKind, Mode: ModePod, Images: DedupImages(lab),
		Nodes: []NodeReport{
			{PlanNode: PlanNode{Name: "a", Ready: true}, Images: []ImageResult{
				{Target: agnhost, Status: StatusPulled, Verified: VerifiedNodeStatus},
				{Target: pause, Status: StatusPresent, Verified: VerifiedNodeStatus},
				{Target: busybox, Status: StatusPulled},
			}},
			{PlanNode: PlanNode{Name: "b", Ready: true}, Images: []ImageResult{
				{Target: agnhost, Status: StatusFailed, Reason: "ErrImagePull", Message: "not found"},
				{Target: pause, Status: StatusPresent, Verified: VerifiedCRI},
				{Target: busybox, Status: StatusPulled, Verified: VerifiedPod},
			}},
			{PlanNode: PlanNode{Name: "c", Skipped: "cordoned"}},
		}}
	r.summarize()
	if r.Complete || r.Summary.Failed != 1 || r.Summary.Unverified != 1 || r.Summary.SkippedNodes != 1 || r.ExitCode() != 1 {
		t.Fatalf("summary %+v complete %v exit %d", r.Summary, r.Complete, r.ExitCode())
	}
	path := filepath.Join(t.TempDir(), ReportFile)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	miss := back.Missing(append(append([]Image{}, lab...), Image{Target: "reg/extra:1"}))
	want := []string{
		agnhost + " on b: failed (ErrImagePull)",
		busybox + " on a: pulled but unverified",
		"reg/extra:1 on a: not in the prepull report",
		"reg/extra:1 on b: not in the prepull report",
	}
	if strings.Join(miss, "\n") != strings.Join(want, "\n") {
		t.Errorf("Missing =\n%s\nwant\n%s", strings.Join(miss, "\n"), strings.Join(want, "\n"))
	}
	// Only unverified left: exit 3.
	back.Nodes[1].Images[0] = ImageResult{Target: agnhost, Status: StatusPulled, Verified: VerifiedCRI}
	back.summarize()
	if back.ExitCode() != 3 {
		t.Errorf("exit %d with only an unverified image, want 3", back.ExitCode())
	}
	var table bytes.Buffer
	if err := back.PrintTable(&table); err != nil || !strings.Contains(table.String(), "unverified") {
		t.Errorf("table:\n%s (%v)", table.String(), err)
	}
	if err := os.WriteFile(path, []byte(`{"kind":"ImageMap"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReport(path); err == nil {
		t.Error("read another kind of file as a prepull report")
	}
}

func TestRequestKind(t *testing.T) {
	for raw, want := range map[string]string{
		"GET /api/v1/nodes?limit=500":                         "LIST nodes",
		"GET /api/v1/nodes?watch=true&resourceVersion=1":      "WATCH nodes",
		"GET /api/v1/namespaces/ns/pods/p/log?follow=true":    "GET pods/log",
		"POST /apis/apps/v1/namespaces/ns/daemonsets":         "POST daemonsets",
		"DELETE /api/v1/namespaces/confrun-prepull":           "DELETE namespaces",
		"GET /api/v1/namespaces/confrun-prepull":              "GET namespaces",
		"GET /api/v1/nodes/n1/proxy/configz":                  "GET nodes/proxy",
		"GET /apis/apps/v1/daemonsets?labelSelector=a%3Db":    "LIST daemonsets",
		"GET /api/v1/namespaces/ns/events?watch=1&fieldSel=x": "WATCH events",
	} {
		method, rest, _ := strings.Cut(raw, " ")
		u, _ := url.Parse(rest)
		if got := requestKind(&http.Request{Method: method, URL: u}); got != want {
			t.Errorf("%s -> %q, want %q", raw, got, want)
		}
	}
}

func TestSockets(t *testing.T) {
	s, err := ParseSocketFlag([]string{"lab-node-2=unix:///run/n2.sock"})
	if err != nil || s.Default != DefaultSocket || s.PerNode["lab-node-2"] != "/run/n2.sock" || !s.Discover {
		t.Fatalf("per-node flag: %+v %v", s, err)
	}
	if _, err := ParseSocketFlag([]string{"relative.sock"}); err == nil {
		t.Error("a relative socket path was accepted")
	}
	s, _ = ParseSocketFlag([]string{"/run/k3s/containerd/containerd.sock"})
	if s.Default != "/run/k3s/containerd/containerd.sock" || s.Discover {
		t.Errorf("explicit default: %+v", s)
	}
	client := fake.NewSimpleClientset()
	annotated := newNode("k", "amd64")
	annotated.Annotations = map[string]string{kubeadmSocketAnnotation: "unix:///var/run/containerd/containerd.sock"}
	s, _ = ParseSocketFlag([]string{"lab-node-2=/run/n2.sock"})
	for _, tc := range []struct {
		node       *corev1.Node
		path, from string
	}{
		{newNode("lab-node-2", "amd64"), "/run/n2.sock", "--containerd-socket"},
		{annotated, "/var/run/containerd/containerd.sock", "node annotation " + kubeadmSocketAnnotation},
		{newNode("plain", "amd64"), DefaultSocket, "default"},
	} {
		path, from := s.Socket(context.Background(), client, tc.node)
		if path != tc.path || from != tc.from {
			t.Errorf("%s: %s (%s), want %s (%s)", tc.node.Name, path, from, tc.path, tc.from)
		}
	}
}
