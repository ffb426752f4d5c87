package prepull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/prepull/nodepull"
)

const (
	reg       = "127.0.0.1:5000/cke/"
	agnhost   = reg + "agnhost-mips64el:2.56"
	pause     = reg + "pause-mips64el:3.10.1"
	busybox   = reg + "busybox-mips64el:1.37.0-1"
	missing   = reg + "nope-mips64el:1.0"
	helperRef = reg + "confrun/helper:sha-1"
	notFound  = `failed to pull and unpack image "` + missing + `": failed to resolve reference "` + missing + `": ` + missing + `: not found`
)

var lab = []Image{
	{Upstream: "registry.k8s.io/e2e-test-images/agnhost:2.56", Target: agnhost},
	{Upstream: "registry.k8s.io/pause:3.10.1", Target: pause},
	{Upstream: "registry.k8s.io/e2e-test-images/busybox:1.37.0-1", Target: busybox},
}

type nodeOpt func(*corev1.Node)

func withImages(names ...string) nodeOpt {
	return func(n *corev1.Node) {
		for _, name := range names {
			n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{name}, SizeBytes: 1000})
		}
	}
}

func notReady(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }

func newNode(name, arch string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelArchStable: arch, "pool": "conf"}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo:   corev1.NodeSystemInfo{Architecture: arch, ContainerRuntimeVersion: "containerd://1.6.20"},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// cluster is a fake apiserver with a simulated kubelet on each node.
type cluster struct {
	t      *testing.T
	client *fake.Clientset
	mu     sync.Mutex
	// watching is closed per resource once a watch on it is registered
	// (the fake delivers only what happens after that).
	watching map[string]chan struct{}
	// fail lists targets the registry does not have.
	fail map[string]bool
	// logs holds node-mode pod logs by pod name.
	logs map[string]string
	// created records every object the run created, by kind.
	created []string
	// lateLogs makes node pods' termination messages carry no failure
	// messages (as when many images fail and the short form drops them)
	// and their logs readable only after the pod terminated.
	lateLogs bool
	logReady map[string]chan struct{}
	// daemonPod replaces, per node, what the DaemonSet controller,
	// scheduler and kubelet do with a DaemonSet (default: pullDaemonPod).
	daemonPod map[string]func(ctx context.Context, ds *appsv1.DaemonSet, node string) bool
}

func newCluster(t *testing.T, objs ...runtime.Object) *cluster {
	c := &cluster{t: t, client: fake.NewSimpleClientset(objs...), fail: map[string]bool{missing: true},
		logs: map[string]string{}, watching: map[string]chan struct{}{}}
	for _, r := range []string{"nodes", "pods", "events", "daemonsets", "namespaces"} {
		c.watching[r] = make(chan struct{})
	}
	tracker := c.client.Tracker()
	c.client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := tracker.Watch(a.GetResource(), a.GetNamespace())
		c.mu.Lock()
		if ch, ok := c.watching[a.GetResource().Resource]; ok {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
		c.mu.Unlock()
		return true, w, err
	})
	// The fake has no delete-collection: delete what the selector matches.
	c.client.PrependReactor("delete-collection", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		dc := a.(k8stesting.DeleteCollectionAction)
		sel, err := labels.Parse(dc.GetListRestrictions().Labels.String())
		if err != nil {
			return true, nil, err
		}
		gvr := a.GetResource()
		objs, err := tracker.List(gvr, gvr.GroupVersion().WithKind(kindOf(gvr.Resource)), a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		items, _ := metaItems(objs)
		for _, m := range items {
			if sel.Matches(labels.Set(m.GetLabels())) {
				_ = tracker.Delete(gvr, m.GetNamespace(), m.GetName())
			}
		}
		return true, nil, nil
	})
	c.client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		c.mu.Lock()
		c.created = append(c.created, a.GetResource().Resource)
		c.mu.Unlock()
		return false, nil, nil
	})
	return c
}

func kindOf(resource string) string {
	switch resource {
	case "pods":
		return "Pod"
	case "daemonsets":
		return "DaemonSet"
	}
	return ""
}

func metaItems(list runtime.Object) ([]metav1.Object, error) {
	switch l := list.(type) {
	case *corev1.PodList:
		out := make([]metav1.Object, len(l.Items))
		for i := range l.Items {
			out[i] = &l.Items[i]
		}
		return out, nil
	case *appsv1.DaemonSetList:
		out := make([]metav1.Object, len(l.Items))
		for i := range l.Items {
			out[i] = &l.Items[i]
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected list %T", list)
}

func (c *cluster) waitWatch(resources ...string) {
	for _, r := range resources {
		<-c.watching[r]
	}
}

// onAdded calls fn for every object added to what w watches, until ctx ends.
func (c *cluster) onAdded(ctx context.Context, w watch.Interface, err error, fn func(runtime.Object)) {
	if err != nil {
		c.t.Error(err)
		return
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if ev.Type == watch.Added {
					fn(ev.Object)
				}
			}
		}
	}()
}

// kubeletForDaemonSets plays kubelet for pod mode: when the DaemonSet
// appears, it starts its pod on each node, pulls (or fails to pull) every
// image, emits the kubelet's events and updates the node's status.images.
func (c *cluster) kubeletForDaemonSets(ctx context.Context, ns string) {
	w, err := c.client.AppsV1().DaemonSets(ns).Watch(ctx, metav1.ListOptions{})
	c.onAdded(ctx, w, err, func(o runtime.Object) {
		if ds, ok := o.(*appsv1.DaemonSet); ok {
			c.runDaemonSet(ctx, ds)
		}
	})
}

func (c *cluster) runDaemonSet(ctx context.Context, ds *appsv1.DaemonSet) {
	c.waitWatch("pods", "events")
	for _, term := range ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchFields) != 1 || len(term.MatchFields[0].Values) != 1 {
			c.t.Errorf("node term %+v: the apiserver takes exactly one metadata.name per term", term)
			return
		}
		nodeName := term.MatchFields[0].Values[0]
		c.mu.Lock()
		run := c.daemonPod[nodeName]
		c.mu.Unlock()
		if run == nil {
			run = c.pullDaemonPod
		}
		if !run(ctx, ds, nodeName) {
			return
		}
	}
}

// daemonPod is the pod the DaemonSet controller creates for a node: the
// template, pinned to the node by a single node affinity term.
func daemonPod(ds *appsv1.DaemonSet, nodeName string) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: ds.Name + "-" + nodeName, Namespace: ds.Namespace,
		Labels: ds.Spec.Template.Labels}, Spec: *ds.Spec.Template.Spec.DeepCopy()}
	pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = []corev1.NodeSelectorTerm{
		{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName}}}}}
	return pod
}

// pullDaemonPod plays scheduler and kubelet for a node's pod: every image
// is pulled, or fails to be. It reports whether the test can go on.
func (c *cluster) pullDaemonPod(ctx context.Context, ds *appsv1.DaemonSet, nodeName string) bool {
	node, err := c.client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		c.t.Error(err)
		return false
	}
	have := indexNodeImages(node)
	pod := daemonPod(ds, nodeName)
	pod.Spec.NodeName = nodeName
	ready := true
	for i, ctr := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: ctr.Name, Image: ctr.Image}
		field := fmt.Sprintf("spec.containers{%s}", ctr.Name)
		switch {
		case c.fail[ctr.Image]:
			ready = false
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: notFound}
			c.event(ctx, pod, field, i, "Failed", fmt.Sprintf("Failed to pull image %q: %s", ctr.Image, notFound))
		default:
			cs.State.Running = &corev1.ContainerStateRunning{}
			cs.Ready = true
			repo, _, _ := strings.Cut(ctr.Image, ":5000/")
			cs.ImageID = repo + ":5000/" + strings.Split(strings.SplitN(ctr.Image, ":5000/", 2)[1], ":")[0] + "@sha256:" + strings.Repeat(fmt.Sprint(i), 64)[:64]
			if _, ok := have.find([]string{normalize(ctr.Image)}, ""); ok {
				c.event(ctx, pod, field, i, "Pulled", fmt.Sprintf("Container image %q already present on machine", ctr.Image))
			} else {
				c.event(ctx, pod, field, i, "Pulled", fmt.Sprintf("Successfully pulled image %q in 1.5s (2s including waiting). Image size: %d bytes.", ctr.Image, 1000+i))
				node.Status.Images = append(node.Status.Images, corev1.ContainerImage{Names: []string{cs.ImageID, ctr.Image}, SizeBytes: int64(1000 + i)})
			}
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, cs)
	}
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: cond, LastTransitionTime: metav1.Now()}}
	if _, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		c.t.Error(err)
		return false
	}
	// The kubelet reports its image list later, with the node status: the
	// largest NodeStatusMaxImages images.
	sort.SliceStable(node.Status.Images, func(i, j int) bool { return node.Status.Images[i].SizeBytes > node.Status.Images[j].SizeBytes })
	if len(node.Status.Images) > NodeStatusMaxImages {
		node.Status.Images = node.Status.Images[:NodeStatusMaxImages]
	}
	c.waitWatch("nodes")
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		c.t.Error(err)
		return false
	}
	return true
}

func (c *cluster) event(ctx context.Context, pod *corev1.Pod, field string, i int, reason, msg string) {
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%d.%s", pod.Name, i, strings.ToLower(reason)), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace, FieldPath: field},
		Reason:         reason, Message: msg, LastTimestamp: metav1.Now(), Source: corev1.EventSource{Host: pod.Spec.NodeName}}
	if _, err := c.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		c.t.Error(err)
	}
}

// kubeletForNodePods plays kubelet and node-mode helper: each node pod
// runs, writes its result lines to its log and terminates with the short
// results as its termination message.
func (c *cluster) kubeletForNodePods(ctx context.Context, ns string) {
	w, err := c.client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	c.onAdded(ctx, w, err, func(o runtime.Object) {
		if pod, ok := o.(*corev1.Pod); ok && pod.Labels[LabelNode] != "" {
			c.runNodePod(ctx, pod)
		}
	})
}

func (c *cluster) runNodePod(ctx context.Context, pod *corev1.Pod) {
	args := pod.Spec.Containers[0].Command
	var images []nodepull.Image
	check := false
	for i, a := range args {
		if a == "--images-json" {
			if err := json.Unmarshal([]byte(args[i+1]), &images); err != nil {
				c.t.Error(err)
			}
		}
		check = check || a == "--check"
	}
	var results []nodepull.Result
	var log bytes.Buffer
	for i, im := range images {
		r := nodepull.Result{Index: i, Target: im.Target, Status: nodepull.StatusPulled, Verified: true, SizeBytes: 2000, Seconds: 0.5, Digest: im.Digest}
		switch {
		case c.fail[im.Target]:
			r = nodepull.Result{Index: i, Target: im.Target, Status: nodepull.StatusFailed, Reason: nodepull.ReasonPull, Message: notFound}
		case check:
			r.Status = nodepull.StatusPresent
		}
		results = append(results, r)
		_ = nodepull.WriteLine(&log, nodepull.Line{Result: &r})
	}
	c.mu.Lock()
	c.logs[pod.Name] = log.String()
	ready := c.logGate(pod.Name)
	c.mu.Unlock()
	short := results
	if c.lateLogs {
		short = nil
		for _, r := range results {
			r.Message = ""
			short = append(short, r)
		}
	}
	pod = pod.DeepCopy()
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "node-pull", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Message: nodepull.FormatTermination(short, nodepull.TerminationLimit)}}}}
	if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		c.t.Error(err)
	}
	close(ready)
}

// logGate returns the channel closed once pod's log may be read (c.mu held).
func (c *cluster) logGate(pod string) chan struct{} {
	if c.logReady == nil {
		c.logReady = map[string]chan struct{}{}
	}
	ch, ok := c.logReady[pod]
	if !ok {
		ch = make(chan struct{})
		c.logReady[pod] = ch
	}
	return ch
}

func (c *cluster) podLogs(ctx context.Context, _, pod string) (io.ReadCloser, error) {
	c.mu.Lock()
	ready := c.logGate(pod)
	late := c.lateLogs
	c.mu.Unlock()
	if late {
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return io.NopCloser(strings.NewReader(c.logs[pod])), nil
}

func (c *cluster) options(mode Mode) Options {
	return Options{Client: c.client, Images: lab, Mode: mode, HelperImage: helperRef, RunID: "t1",
		Selection: Selection{Arch: "amd64"}, Timeout: time.Minute, VerifyTimeout: time.Minute, Logs: c.podLogs}
}

func cellOf(t *testing.T, r *Report, node, target string) ImageResult {
	t.Helper()
	for _, n := range r.Nodes {
		if n.Name != node {
			continue
		}
		for _, c := range n.Images {
			if c.Target == target {
				return c
			}
		}
	}
	t.Fatalf("no cell for %s on %s in %+v", target, node, r.Nodes)
	return ImageResult{}
}

func TestPodModePullsVerifiesAndCleansUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t,
		newNode("n1", "amd64", withImages("docker.io/library/other:1", pause)),
		newNode("n2", "amd64"),
		newNode("n3", "amd64", notReady),
		newNode("m1", "mips64le"),
		func() *corev1.Node { n := newNode("n4", "amd64"); n.Spec.Unschedulable = true; return n }(),
	)
	c.kubeletForDaemonSets(ctx, DefaultNamespace)
	opts := c.options(ModePod)
	opts.Images = append(append([]Image{}, lab...), Image{Upstream: "registry.k8s.io/nope:1.0", Target: missing})
	var progress bytes.Buffer
	opts.Progress = &progress
	var handed []*Report
	opts.OnReport = func(r *Report) error {
		// Handed over before the cleanup, complete.
		if _, err := c.client.CoreV1().Namespaces().Get(ctx, DefaultNamespace, metav1.GetOptions{}); err != nil {
			t.Errorf("report handed over after the cleanup: %v", err)
		}
		handed = append(handed, r)
		return nil
	}
	rep, err := Run(ctx, opts)
	if len(handed) != 1 || handed[0] != rep || handed[0].Summary.Pulled != 5 {
		t.Errorf("OnReport got %d reports", len(handed))
	}
	if err != nil {
		t.Fatal(err)
	}
	// Present before: verified from the node's status, no pull.
	if got := cellOf(t, rep, "n1", pause); got.Status != StatusPresent || got.Verified != VerifiedNodeStatus {
		t.Errorf("pause on n1 = %+v, want present (node-status)", got)
	}
	for _, node := range []string{"n1", "n2"} {
		got := cellOf(t, rep, node, agnhost)
		if got.Status != StatusPulled || got.Verified != VerifiedNodeStatus || got.SizeBytes == 0 || !strings.Contains(got.ImageRef, "@sha256:") {
			t.Errorf("agnhost on %s = %+v, want pulled with size and digest, verified by node status", node, got)
		}
		// The pull time comes from the kubelet's event, which may arrive
		// after the pod's status (and the kubelet rate-limits events per
		// pod): when there, it is the event's.
		if (got.PulledAt == nil) != (got.PullSeconds == 0) || (got.PulledAt != nil && got.PullSeconds != 1.5) {
			t.Errorf("agnhost on %s: pull time %v / %vs, want both from the event or neither", node, got.PulledAt, got.PullSeconds)
		}
		if got := cellOf(t, rep, node, missing); got.Status != StatusFailed || got.Reason != "ErrImagePull" || got.Message != notFound {
			t.Errorf("missing image on %s = %+v, want failed with the registry's message", node, got)
		}
	}
	if got := cellOf(t, rep, "n2", pause); got.Status != StatusPulled {
		t.Errorf("pause on n2 = %+v, want pulled", got)
	}
	if got := cellOf(t, rep, "n3", agnhost); got.Status != StatusNodeNotReady {
		t.Errorf("agnhost on the not-ready node = %+v", got)
	}
	for _, n := range rep.Nodes {
		if n.Name == "m1" {
			t.Errorf("the mips64le node was selected for --arch amd64")
		}
		if n.Name == "n4" && (n.Skipped == "" || len(n.Images) != 0) {
			t.Errorf("cordoned node: %+v", n)
		}
	}
	s := rep.Summary
	if s.Nodes != 3 || s.SkippedNodes != 1 || s.Present != 1 || s.Pulled != 5 || s.Failed != 2 || s.NodeNotReady != 4 || s.Unverified != 0 {
		t.Errorf("summary = %+v", s)
	}
	if rep.Complete || rep.ExitCode() != cliutil.ExitFailure {
		t.Errorf("complete=%v exit=%d, want incomplete with exit 1", rep.Complete, rep.ExitCode())
	}
	if !strings.Contains(progress.String(), notFound) {
		t.Errorf("progress did not show the failure as it happened:\n%s", progress.String())
	}
	// Everything it created is gone.
	if _, err := c.client.CoreV1().Namespaces().Get(ctx, DefaultNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace still there after the run: %v", err)
	}
	// The DaemonSet only carried images some node lacked: pause was on n1
	// but not on n2, so it is in; it went only to the ready, selected nodes.
	if c.created[0] != "namespaces" {
		t.Errorf("created %v, want the namespace first", c.created)
	}
}

func TestManyImagesSplitIntoDaemonSets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, newNode("n1", "amd64"), newNode("n2", "amd64"))
	c.kubeletForDaemonSets(ctx, DefaultNamespace)
	opts := c.options(ModePod)
	opts.Images = nil
	for i := 0; i < 2*ImagesPerPod+1; i++ {
		opts.Images = append(opts.Images, Image{Upstream: fmt.Sprintf("registry.k8s.io/x/i%d:1", i), Target: fmt.Sprintf("%sx/i%d:1", reg, i)})
	}
	var sets []*appsv1.DaemonSet
	c.client.PrependReactor("create", "daemonsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sets = append(sets, a.(k8stesting.CreateAction).GetObject().(*appsv1.DaemonSet))
		return false, nil, nil
	})
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 || len(sets[0].Spec.Template.Spec.Containers) != ImagesPerPod || len(sets[2].Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d DaemonSets, want 3 of at most %d images", len(sets), ImagesPerPod)
	}
	if !rep.Complete || rep.Summary.Pulled != 2*len(opts.Images) {
		t.Fatalf("summary %+v: %v", rep.Summary, rep.Problems(0))
	}
	for _, n := range []string{"n1", "n2"} {
		last := opts.Images[len(opts.Images)-1].Target
		if c := cellOf(t, rep, n, last); c.Status != StatusPulled || c.SizeBytes != 1000 {
			t.Errorf("%s on %s = %+v: the last group's image, want its own pull", last, n, c)
		}
	}
	if rep.Stats.LastPodReady == nil {
		t.Error("every pod of every group Ready, but no LastPodReady")
	}
}

func TestNothingToPullCreatesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, newNode("n1", "amd64", withImages(agnhost, pause, busybox)))
	rep, err := Run(ctx, c.options(ModePod))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.ExitCode() != 0 || rep.Summary.Present != 3 {
		t.Fatalf("report = %+v", rep.Summary)
	}
	if len(c.created) != 0 {
		t.Fatalf("created %v with nothing to pull", c.created)
	}
}

func TestNodeModeTagsUpstreamAndVerifiesWithCRI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, newNode("n1", "amd64"), newNode("n2", "amd64"))
	c.kubeletForNodePods(ctx, DefaultNamespace)
	opts := c.options(ModeNode)
	opts.Sockets = Sockets{Default: DefaultSocket, PerNode: map[string]string{"n2": "/run/confrun-lab/node-2/containerd.sock"}}
	var resolved []string
	var mu sync.Mutex
	opts.Resolve = func(_ context.Context, ref, platform string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		resolved = append(resolved, ref+" "+platform)
		if ref == busybox {
			return "", errors.New("registry unreachable")
		}
		return "sha256:" + strings.Repeat("a", 64), nil
	}
	var pods []*corev1.Pod
	c.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pods = append(pods, a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy())
		return false, nil, nil
	})
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.ExitCode() != 0 {
		t.Fatalf("not complete: %+v\n%v", rep.Summary, rep.Problems(0))
	}
	for _, n := range []string{"n1", "n2"} {
		if got := cellOf(t, rep, n, agnhost); got.Status != StatusPulled || got.Verified != VerifiedCRI || got.ImageRef != "sha256:"+strings.Repeat("a", 64) {
			t.Errorf("agnhost on %s = %+v", n, got)
		}
	}
	if len(pods) != 2 {
		t.Fatalf("created %d node pods, want 2", len(pods))
	}
	for _, p := range pods {
		spec := p.Spec.Containers[0]
		if !*spec.SecurityContext.Privileged || p.Spec.NodeName == "" {
			t.Errorf("node pod %s is not a privileged pod pinned to its node", p.Name)
		}
		wantSock := DefaultSocket
		if p.Spec.NodeName == "n2" {
			wantSock = "/run/confrun-lab/node-2/containerd.sock"
		}
		if p.Spec.Volumes[0].HostPath.Path != wantSock || !strings.Contains(strings.Join(spec.Command, " "), "--address "+wantSock) {
			t.Errorf("node pod on %s uses socket %s, want %s", p.Spec.NodeName, p.Spec.Volumes[0].HostPath.Path, wantSock)
		}
		var imgs []nodepull.Image
		for i, a := range spec.Command {
			if a == "--images-json" {
				_ = json.Unmarshal([]byte(spec.Command[i+1]), &imgs)
			}
		}
		if len(imgs) != 3 || imgs[0].Upstreams[0] != lab[0].Upstream || imgs[0].Digest == "" || imgs[2].Digest != "" {
			t.Errorf("node pod images = %+v, want upstream names and resolved digests (none for the unresolvable one)", imgs)
		}
	}
	if len(resolved) != 3 || !strings.HasSuffix(resolved[0], " linux/amd64") {
		t.Errorf("resolved %v, want each target once for linux/amd64", resolved)
	}
}

func TestPodModeWithCRIVerification(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, newNode("n1", "amd64", withImages(pause)))
	c.kubeletForDaemonSets(ctx, DefaultNamespace)
	c.kubeletForNodePods(ctx, DefaultNamespace)
	opts := c.options(ModePod)
	opts.Verify = VerifyCRI
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range lab {
		if got := cellOf(t, rep, "n1", im.Target); !got.OnNode() || got.Verified != VerifiedCRI {
			t.Errorf("%s = %+v, want verified by CRI", im.Target, got)
		}
	}
	if !rep.Complete {
		t.Errorf("not complete: %v", rep.Problems(0))
	}
	if rep.Stats.LastPodReady == nil || rep.Stats.PullsDone == nil || rep.Stats.PullsDone.Before(*rep.Stats.LastPodReady) {
		t.Errorf("stats = %+v, want the last pod's Ready time before the end of the pulls", rep.Stats)
	}
	if rep.Stats.ReadyToReportSeconds < rep.Stats.ReadyToTrackedSeconds {
		t.Errorf("stats = %+v: the report came before the pulls were tracked", rep.Stats)
	}
}

func TestTimeoutAndInterruptRemoveWhatWasCreated(t *testing.T) {
	for _, tc := range []struct {
		name      string
		interrupt bool
	}{{"timeout", false}, {"interrupt", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := newCluster(t, newNode("n1", "amd64"))
			// No kubelet: nothing ever happens on the node.
			opts := c.options(ModePod)
			handed := 0
			opts.OnReport = func(*Report) error { handed++; return nil }
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			if tc.interrupt {
				// Ctrl-C once the DaemonSet exists.
				c.client.PrependReactor("create", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					stop()
					return false, nil, nil
				})
			} else {
				opts.Timeout = time.Millisecond
			}
			rep, err := Run(runCtx, opts)
			if tc.interrupt {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
				if handed != 0 {
					t.Error("an interrupted run handed over its report")
				}
			} else {
				if handed != 1 {
					t.Errorf("report handed over %d times", handed)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := cellOf(t, rep, "n1", agnhost); got.Status != StatusTimeout {
					t.Errorf("cell = %+v, want timeout", got)
				}
				if rep.ExitCode() != cliutil.ExitFailure {
					t.Errorf("exit %d", rep.ExitCode())
				}
			}
			if _, err := c.client.CoreV1().Namespaces().Get(ctx, DefaultNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("namespace left behind: %v", err)
			}
		})
	}
}

func TestCleanupFindsLeftoversEverywhere(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ds := DaemonSet(PodModeSpec{Namespace: "user-ns", RunID: "old", HelperImage: helperRef, Images: DedupImages(lab), Nodes: []string{"n1"}})
	leftover := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "user-ns", Labels: ownLabels("old")}}
	unrelated := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: "user-ns", Labels: map[string]string{"app": "x"}}}
	c := newCluster(t, namespaceObject(DefaultNamespace, false),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "user-ns"}}, ds, leftover, unrelated)
	// The user's namespace: only confrun's workloads go.
	res, err := Cleanup(ctx, c.client, "user-ns", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Namespaces) != 0 || len(res.DaemonSets) != 1 || res.Pods != 1 {
		t.Fatalf("cleanup of user-ns = %+v", res)
	}
	if _, err := c.client.CoreV1().Namespaces().Get(ctx, DefaultNamespace, metav1.GetOptions{}); err != nil {
		t.Errorf("cleanup of user-ns removed another namespace: %v", err)
	}
	// Everywhere: confrun's own namespace goes as a whole.
	res, err = Cleanup(ctx, c.client, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Namespaces) != 1 || len(res.DaemonSets) != 0 || res.Pods != 0 {
		t.Fatalf("cleanup of all = %+v", res)
	}
	if _, err := c.client.CoreV1().Pods("user-ns").Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("leftover pod still there: %v", err)
	}
	if _, err := c.client.CoreV1().Pods("user-ns").Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Errorf("cleanup removed a pod that is not confrun's: %v", err)
	}
	if _, err := c.client.CoreV1().Namespaces().Get(ctx, "user-ns", metav1.GetOptions{}); err != nil {
		t.Errorf("cleanup removed the user's namespace: %v", err)
	}
	again, err := Cleanup(ctx, c.client, "", true)
	if err != nil || !again.Empty() {
		t.Fatalf("second cleanup = %+v, %v; want nothing left", again, err)
	}
}

// The termination message's short results must not win over the log: when
// many images fail the short form has no room for messages, and a run that
// stopped at the termination status lost the registry's reason (seen on the
// lab: one node's 34 missing images without a message).
func TestNodeModeKeepsTheLogsReasonOverTheShortResults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, newNode("n1", "amd64"), newNode("n2", "amd64"))
	c.lateLogs = true
	c.kubeletForNodePods(ctx, DefaultNamespace)
	opts := c.options(ModeNode)
	opts.Verify = VerifyPods
	opts.Images = append(append([]Image{}, lab...), Image{Upstream: "registry.k8s.io/nope:1.0", Target: missing})
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"n1", "n2"} {
		got := cellOf(t, rep, n, missing)
		if got.Status != StatusFailed || got.Message != notFound {
			t.Errorf("missing image on %s = %+v, want failed with the registry's message %q", n, got, notFound)
		}
	}
}

// TestPodModeVerifiesPastTheNodeStatusLimit: on a node whose status lists
// the kubelet's maximum of images, all larger than the pulled ones, the
// pulled images can never be listed; the kubelet's pulls for the run's pods
// verify them instead of leaving them unverified (exit 3).
func TestPodModeVerifiesPastTheNodeStatusLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	big := func(n *corev1.Node) {
		for i := range NodeStatusMaxImages {
			n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{fmt.Sprintf("docker.io/library/big%d:1", i)}, SizeBytes: 1 << 30})
		}
	}
	c := newCluster(t, newNode("n1", "amd64", big), newNode("n2", "amd64"))
	c.kubeletForDaemonSets(ctx, DefaultNamespace)
	opts := c.options(ModePod)
	opts.VerifyTimeout = 2 * time.Second
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range lab {
		if got := cellOf(t, rep, "n1", im.Target); got.Status != StatusPulled || got.Verified != VerifiedPod {
			t.Errorf("%s on the full node = %+v, want pulled, verified by the pod", im.Target, got)
		}
		if got := cellOf(t, rep, "n2", im.Target); got.Verified != VerifiedNodeStatus {
			t.Errorf("%s on n2 = %+v, want verified by node status", im.Target, got)
		}
	}
	if rep.Summary.Unverified != 0 || rep.ExitCode() != cliutil.ExitOK {
		t.Errorf("summary %+v, exit %d", rep.Summary, rep.ExitCode())
	}
}
