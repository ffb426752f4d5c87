package prepull

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/confrun/confrun/internal/progress"
)

// The scheduler's message for a DaemonSet pod on a full node (v1.34): the
// other nodes fail the pod's node affinity.
const insufficientMemory = "0/4 nodes are available: 1 Insufficient memory, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
	"preemption: 0/4 nodes are available: 1 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."

// unschedulable plays a scheduler that cannot place the node's pod.
func (c *cluster) unschedulable(msg string) func(context.Context, *appsv1.DaemonSet, string) bool {
	return func(ctx context.Context, ds *appsv1.DaemonSet, node string) bool {
		pod := daemonPod(ds, node)
		pod.Status = pendingUnschedulable(msg)
		return c.create(ctx, pod)
	}
}

func pendingUnschedulable(msg string) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
		Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg}}}
}

// taints taints the node as the DaemonSet appears: its controller then
// creates no pod there.
func (c *cluster) taints(taint corev1.Taint) func(context.Context, *appsv1.DaemonSet, string) bool {
	return func(ctx context.Context, _ *appsv1.DaemonSet, node string) bool {
		c.waitWatch("nodes")
		n, err := c.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil {
			n.Spec.Taints = append(n.Spec.Taints, taint)
			_, err = c.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		}
		if err != nil {
			c.t.Error(err)
		}
		return err == nil
	}
}

// goesNotReady binds the node's pod, then the node stops reporting.
func (c *cluster) goesNotReady(ctx context.Context, ds *appsv1.DaemonSet, node string) bool {
	pod := daemonPod(ds, node)
	pod.Spec.NodeName = node
	pod.Status.Phase = corev1.PodPending
	for _, ctr := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: ctr.Name, Image: ctr.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	}
	if !c.create(ctx, pod) {
		return false
	}
	c.waitWatch("nodes")
	n, err := c.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err == nil {
		n.Status.Conditions[0] = unreachable()
		_, err = c.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	}
	if err != nil {
		c.t.Error(err)
	}
	return err == nil
}

func unreachable() corev1.NodeCondition {
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
		Message: "Kubelet stopped posting node status."}
}

func (c *cluster) create(ctx context.Context, pod *corev1.Pod) bool {
	if _, err := c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		c.t.Error(err)
		return false
	}
	return true
}

// TestPodModeNamesWhyPodsDoNotStart: a node whose pod the scheduler cannot
// place, one tainted as the run starts (no pod is ever created there) and
// one that goes unreachable under its pending pod are each named with the
// reason and a fix, in the progress and the report, and given up once the
// reason held for --unschedulable-timeout, long before --timeout; the
// other node completes. Without naming them the run would end at --timeout
// with "timeout" and nothing more.
func TestPodModeNamesWhyPodsDoNotStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, newNode("n1", "amd64"), newNode("n2", "amd64"), newNode("n3", "amd64"), newNode("n4", "amd64"))
	c.daemonPod = map[string]func(context.Context, *appsv1.DaemonSet, string) bool{
		"n2": c.unschedulable(insufficientMemory),
		"n3": c.taints(corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}),
		"n4": c.goesNotReady,
	}
	c.kubeletForDaemonSets(ctx, DefaultNamespace)
	opts := c.options(ModePod)
	opts.Timeout = 30 * time.Second
	opts.UnschedulableTimeout = time.Nanosecond
	var progress bytes.Buffer
	opts.Progress = &progress
	// The run's requests, up to the report (the cleanup lists pods too).
	count := map[string]int{}
	opts.OnReport = func(*Report) error {
		for _, a := range c.client.Actions() {
			count[a.GetVerb()+" "+a.GetResource().Resource]++
		}
		return nil
	}
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range lab {
		if got := cellOf(t, rep, "n1", im.Target); got.Status != StatusPulled {
			t.Errorf("%s on n1 = %+v, want pulled", im.Target, got)
		}
	}
	for _, tc := range []struct {
		node, status, reason string
		message, fix         []string
	}{
		{"n2", StatusFailed, ReasonUnschedulable, []string{"Insufficient memory", "requests cpu 3m, memory 24Mi", insufficientMemory},
			[]string{"make room on n2", "--nodes"}},
		{"n3", StatusFailed, ReasonUntoleratedTaint, []string{"dedicated=gpu:NoSchedule", "creates no pod"},
			[]string{"kubectl taint nodes n3 dedicated=gpu:NoSchedule-", "--include-tainted"}},
		{"n4", StatusNodeNotReady, ReasonNodeNotReady, []string{"unreachable", "Kubelet stopped posting node status."},
			[]string{"kubelet", "--nodes"}},
	} {
		for _, im := range lab {
			got := cellOf(t, rep, tc.node, im.Target)
			if got.Status != tc.status || got.Reason != tc.reason || !containsAll(got.Message, tc.message) {
				t.Errorf("%s on %s = %+v, want %s (%s) naming %q", im.Target, tc.node, got, tc.status, tc.reason, tc.message)
			}
		}
		b := nodeOf(t, rep, tc.node).Blocked
		if len(b) != 1 || b[0].Reason != tc.reason || !b[0].GaveUp || b[0].Images != len(lab) || !containsAll(b[0].Fix, tc.fix) {
			t.Errorf("%s blocked = %+v, want %s given up on %d images, fix naming %q", tc.node, b, tc.reason, len(lab), tc.fix)
		}
		// As it happened: the reason, the fix, giving up; one line, not
		// one per image.
		p := progress.String()
		if !strings.Contains(p, tc.node+": "+tc.reason+": ") || !strings.Contains(p, "  fix: "+b[0].Fix) ||
			strings.Count(p, tc.node+": gave up on 3 images after --unschedulable-timeout") != 1 || strings.Contains(p, tc.node+": "+lab[0].Target) {
			t.Errorf("progress does not name %s's %s once with its fix:\n%s", tc.node, tc.reason, p)
		}
	}
	if s := rep.Summary; s.Pulled != 3 || s.Failed != 6 || s.NodeNotReady != 3 || s.Timeout != 0 {
		t.Errorf("summary %+v, want nothing timed out", s)
	}
	var table bytes.Buffer
	if err := rep.PrintTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"n2: 3 images failed (Unschedulable): ", "  fix (UntoleratedTaint): remove the taint"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	// Watches, no polling: one list of pods and events each, the
	// DaemonSets never read back.
	if count["list pods"] != 1 || count["list events"] != 1 || count["get pods"] != 0 || count["list daemonsets"] != 0 {
		t.Errorf("requests %v, want one list of pods and of events and no reads of pods or DaemonSets", count)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func nodeOf(t *testing.T, r *Report, name string) NodeReport {
	t.Helper()
	for _, n := range r.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %s in the report", name)
	return NodeReport{}
}

// clock is a settable Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// trackedRun is a pod-mode run over nodes (one DaemonSet of the lab
// images) as the informers would hold it, before any pod exists.
func trackedRun(t *testing.T, clk *clock, grace time.Duration, nodes ...*corev1.Node) *run {
	t.Helper()
	return trackedRunOf(t, clk, grace, lab, nodes...)
}

// trackedRunOf is trackedRun with other images: a DaemonSet per
// ImagesPerPod of them, as createWorkload makes them.
func trackedRunOf(t *testing.T, clk *clock, grace time.Duration, images []Image, nodes ...*corev1.Node) *run {
	t.Helper()
	newIndexer := func() cache.Indexer { return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}) }
	r := newRun(Options{RunID: "t1", Namespace: "ns", Images: images, Verify: VerifyNodeStatus, Now: clk.Now, UnschedulableTimeout: grace, Timeout: time.Hour})
	r.report, r.nodes, r.pods, r.events = &Report{}, newIndexer(), newIndexer(), newIndexer()
	for _, n := range nodes {
		_ = r.nodes.Add(n)
	}
	if err := r.makePlan(); err != nil {
		t.Fatal(err)
	}
	for _, n := range r.plan.Targets() {
		r.dsTargets = append(r.dsTargets, n.Name)
	}
	r.dsGroups, r.dsNodes = map[string][]int{}, len(r.dsTargets)
	for i := range r.plan.Images {
		g := strconv.Itoa(i / ImagesPerPod)
		r.dsGroups[g] = append(r.dsGroups[g], i)
	}
	return r
}

// groupDaemonSet is the DaemonSet of a group of trackedRunOf's run.
func groupDaemonSet(r *run, group int) *appsv1.DaemonSet {
	var images []PlanImage
	for _, i := range r.dsGroups[strconv.Itoa(group)] {
		images = append(images, r.plan.Images[i])
	}
	return DaemonSet(PodModeSpec{Namespace: r.opts.Namespace, RunID: r.opts.RunID, Group: group, HelperImage: helperRef, Images: images, Nodes: r.dsTargets})
}

// labDaemonSet is the run's DaemonSet as trackedRun's run creates it.
func labDaemonSet(r *run) *appsv1.DaemonSet { return groupDaemonSet(r, 0) }

func cellsOf(r *run, node string) []ImageResult {
	var out []ImageResult
	for _, c := range r.cells[node] {
		out = append(out, *c)
	}
	return out
}

func allCells(cells []ImageResult, ok func(ImageResult) bool) bool {
	return len(cells) > 0 && !slices.ContainsFunc(cells, func(c ImageResult) bool { return !ok(c) })
}

// TestGiveUpOnlyAfterTheSameReasonHeld: the reason is on the cells as soon
// as it is seen, the images are given up only once the same reason held
// for the unschedulable timeout (a new reason starts the wait again), and
// a pod that gets its images after all is tracked again.
func TestGiveUpOnlyAfterTheSameReasonHeld(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{now: t0}
	r := trackedRun(t, clk, 2*time.Minute, newNode("n1", "amd64"))
	pod := daemonPod(labDaemonSet(r), "n1")
	pod.Status = pendingUnschedulable(insufficientMemory)
	_ = r.pods.Add(pod)
	pending := func(reason string) func(ImageResult) bool {
		return func(c ImageResult) bool { return c.Status == StatusPending && c.Reason == reason }
	}

	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, pending(ReasonUnschedulable)) || !strings.Contains(cells[0].Message, "Insufficient memory") {
		t.Fatalf("at once: %+v, want pending, named Unschedulable", cells)
	}
	if !r.nextGiveUp.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("next give-up at %v, want %v", r.nextGiveUp, t0.Add(2*time.Minute))
	}
	// A minute on, someone taints the node: a new reason, a new wait.
	clk.now = t0.Add(time.Minute)
	node := newNode("n1", "amd64")
	node.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}}
	_ = r.nodes.Update(node)
	pod = pod.DeepCopy()
	pod.Status = pendingUnschedulable("0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 node(s) didn't satisfy plugin(s) [NodeAffinity].")
	_ = r.pods.Update(pod)
	r.recompute()
	clk.now = t0.Add(2*time.Minute + time.Second)
	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, pending(ReasonUntoleratedTaint)) {
		t.Fatalf("a minute after the taint: %+v, want still pending, named UntoleratedTaint", cells)
	}
	clk.now = t0.Add(3 * time.Minute)
	r.recompute()
	cells := cellsOf(r, "n1")
	if !allCells(cells, func(c ImageResult) bool { return c.Status == StatusFailed && c.Reason == ReasonUntoleratedTaint }) ||
		!strings.Contains(cells[0].Message, "maintenance:NoExecute") {
		t.Fatalf("two minutes after the taint: %+v, want given up, naming the taint", cells)
	}
	if b := r.nodeBlocks("n1"); len(b) != 1 || !b[0].GaveUp || !b[0].Since.Equal(t0.Add(time.Minute)) ||
		!strings.Contains(b[0].Fix, "kubectl taint nodes n1 maintenance:NoExecute-") {
		t.Errorf("blocks %+v", b)
	}
	// The pulls are over; then the taint goes and the pod is placed: the
	// images stay given up while it pulls, and count once it has them.
	r.keepGivenUp()
	_ = r.nodes.Update(newNode("n1", "amd64"))
	pod = pod.DeepCopy()
	pod.Spec.NodeName = "n1"
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
	_ = r.pods.Update(pod)
	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusFailed && c.Reason == ReasonUntoleratedTaint }) {
		t.Fatalf("given up, then the pod pulls: %+v, want still given up", cells)
	}
	pod = pod.DeepCopy()
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning}
	for _, ctr := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: ctr.Name,
			ImageID: ctr.Image + "@sha256:" + strings.Repeat("1", 64), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
	}
	_ = r.pods.Update(pod)
	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusPulled && c.Reason == "" }) || len(r.nodeBlocks("n1")) != 0 {
		t.Fatalf("once the pod runs: %+v, blocks %+v", cells, r.nodeBlocks("n1"))
	}
}

// TestWaitForTimeoutNamesTheReason: with the give-up off, blocked nodes
// wait for --timeout and are then reported as timed out with the reason:
// the scheduler's, the DaemonSet controller's FailedCreate, and for a node
// that never got a pod, the DaemonSet's status.
func TestWaitForTimeoutNamesTheReason(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{now: t0}
	r := trackedRun(t, clk, -1, newNode("n1", "amd64"), newNode("n2", "amd64"))
	ds := labDaemonSet(r)
	pod := daemonPod(ds, "n1")
	pod.Status = pendingUnschedulable(insufficientMemory)
	_ = r.pods.Add(pod)
	r.recompute()
	clk.now = t0.Add(time.Hour)
	r.recompute()
	if cells := cellsOf(r, "n1"); cells[0].Status != StatusPending || cells[0].Reason != ReasonUnschedulable || !r.nextGiveUp.IsZero() {
		t.Fatalf("an hour on without give-up: %+v (next give-up %v), want pending, named", cells[0], r.nextGiveUp)
	}
	if cells := cellsOf(r, "n2"); cells[0].Reason != "" {
		t.Fatalf("n2 without a pod, no reason known yet: %+v", cells[0])
	}
	// --timeout: n2 never got a pod, and the controller never saw the DaemonSet.
	r.pullsTimedOut = true
	r.daemonSets = daemonSetsByName([]appsv1.DaemonSet{*ds})
	r.recompute()
	r.finish()
	n1, n2 := cellOf(t, r.report, "n1", agnhost), cellOf(t, r.report, "n2", agnhost)
	if n1.Status != StatusTimeout || n1.Reason != ReasonUnschedulable || !strings.Contains(n1.Message, "Insufficient memory") {
		t.Errorf("n1 at --timeout: %+v", n1)
	}
	if n2.Status != StatusTimeout || n2.Reason != ReasonNotCreated || !strings.Contains(n2.Message, "never processed DaemonSet ns/prepull-t1-0") ||
		!strings.Contains(nodeOf(t, r.report, "n2").Blocked[0].Fix, "kube-controller-manager") {
		t.Errorf("n2 at --timeout: %+v, %+v", n2, nodeOf(t, r.report, "n2").Blocked)
	}
	// The controller cannot create n2's pod: its FailedCreate says why.
	const quota = `Error creating: pods "prepull-t1-0-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1`
	_ = r.events.Add(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "ds.1", Namespace: "ns"}, Type: corev1.EventTypeWarning,
		InvolvedObject: corev1.ObjectReference{Kind: "DaemonSet", Name: ds.Name, Namespace: "ns"}, Reason: "FailedCreate", Message: quota})
	r.recompute()
	r.finish()
	n2 = cellOf(t, r.report, "n2", agnhost)
	if n2.Status != StatusTimeout || n2.Reason != ReasonFailedCreate || !strings.Contains(n2.Message, "exceeded quota") {
		t.Errorf("n2 with FailedCreate: %+v", n2)
	}
	problems := strings.Join(r.report.Problems(0), "\n")
	for _, want := range []string{"n1: 3 images timeout (Unschedulable): ", "n2: 3 images timeout (FailedCreate): ", "  fix (FailedCreate): ", "ResourceQuota"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
}

// TestNodeModeNamesRejectedAndUnreachableNodes: a node pod the kubelet
// rejected is given up at once (nobody recreates it), one on an
// unreachable node after the unschedulable timeout.
func TestNodeModeNamesRejectedAndUnreachableNodes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{now: t0}
	r := trackedRun(t, clk, time.Minute, newNode("n1", "amd64"), newNode("n2", "amd64"))
	r.opts.Mode, r.dsGroups, r.dsTargets = ModeNode, nil, nil
	const rejected = "Pod was rejected: Node didn't have enough resource: memory, requested: 33554432, used: 8000000000, capacity: 8000000000"
	for _, node := range []string{"n1", "n2"} {
		pod := NodePod(NodeModeSpec{Namespace: "ns", RunID: "t1", HelperImage: helperRef, Node: node, Socket: DefaultSocket})
		r.nodePods[pod.Name] = &nodeWork{pod: pod.Name, node: node, images: []int{0, 1, 2}, results: map[int]nodeResult{}}
		pod.Status.Phase = corev1.PodPending
		if node == "n1" {
			pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "OutOfmemory", Message: rejected}
		}
		_ = r.pods.Add(pod)
	}
	n2 := newNode("n2", "amd64")
	n2.Status.Conditions[0] = unreachable()
	_ = r.nodes.Update(n2)
	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusFailed && c.Reason == ReasonRejected }) ||
		!strings.Contains(cells[0].Message, "OutOfmemory") || !strings.Contains(cells[0].Message, rejected) {
		t.Errorf("n1, its pod rejected: %+v, want failed at once", cells)
	}
	if cells := cellsOf(r, "n2"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusPending && c.Reason == ReasonNodeNotReady }) {
		t.Errorf("n2 just gone unreachable: %+v, want pending, named", cells)
	}
	clk.now = t0.Add(time.Minute)
	r.recompute()
	if cells := cellsOf(r, "n2"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusNodeNotReady && c.Reason == ReasonNodeNotReady }) {
		t.Errorf("n2 a minute on: %+v, want given up as node-not-ready", cells)
	}
	if !r.allDone() {
		t.Error("the run would still wait")
	}
}

// TestNodeConditionsBeforeTheirTaints: a node gone not Ready is named so,
// not blamed on the not-ready taint that follows from it; a lifecycle
// taint on a Ready node is not one to remove by hand.
func TestNodeConditionsBeforeTheirTaints(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r := trackedRun(t, clk, time.Minute, newNode("n1", "amd64"), newNode("n2", "amd64"))
	n1 := newNode("n1", "amd64")
	n1.Status.Conditions[0] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
		Message: "container runtime network not ready"}
	n1.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}}
	n2 := newNode("n2", "amd64")
	n2.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}}
	_ = r.nodes.Update(n1)
	_ = r.nodes.Update(n2)
	r.recompute()
	b1, b2 := r.nodeBlocks("n1"), r.nodeBlocks("n2")
	if len(b1) != 1 || b1[0].Reason != ReasonNodeNotReady || !strings.Contains(b1[0].Message, "not Ready (KubeletNotReady: container runtime network not ready)") {
		t.Errorf("n1 not Ready: %+v", b1)
	}
	if len(b2) != 1 || b2[0].Reason != ReasonUntoleratedTaint || strings.Contains(b2[0].Fix, "kubectl taint") || !strings.Contains(b2[0].Fix, "condition") {
		t.Errorf("n2 with the network-unavailable taint: %+v", b2)
	}
}

// TestCRICheckOnUnreachableNode: a CRI check pod that never ran because
// its node went unreachable explains the unverified images.
func TestCRICheckOnUnreachableNode(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r := trackedRun(t, clk, time.Minute, newNode("n1", "amd64", withImages(agnhost, pause, busybox)))
	r.opts.Verify, r.dsGroups, r.dsTargets = VerifyCRI, nil, nil
	for i := range r.initial["n1"] {
		r.initial["n1"][i].Verified = "" // CRI's word is asked for
	}
	pod := NodePod(NodeModeSpec{Namespace: "ns", RunID: "t1", HelperImage: helperRef, Node: "n1", Socket: DefaultSocket, CheckOnly: true})
	pod.Status.Phase = corev1.PodPending
	r.nodePods[pod.Name] = &nodeWork{pod: pod.Name, node: "n1", check: true, images: []int{0, 1, 2}, results: map[int]nodeResult{}}
	_ = r.pods.Add(pod)
	n1 := newNode("n1", "amd64", withImages(agnhost, pause, busybox))
	n1.Status.Conditions[0] = unreachable()
	_ = r.nodes.Update(n1)
	r.verifyExpired = true
	r.recompute()
	for _, c := range cellsOf(r, "n1") {
		if c.Status != StatusPresent || c.Verified != "" || !strings.HasPrefix(c.Note, "the CRI check pod did not run (NodeNotReady): node n1 is unreachable") {
			t.Errorf("%+v, want present, unverified, the note naming the unreachable node", c)
		}
	}
	if len(r.nodeBlocks("n1")) != 0 {
		t.Errorf("a check pod's block went into the node's blocks: %+v", r.nodeBlocks("n1"))
	}
}

func TestSchedulerReasons(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want []string
	}{
		{insufficientMemory, []string{"Insufficient memory"}},
		{"0/3 nodes are available: 1 Insufficient cpu, 1 Too many pods, 2 node(s) didn't match Pod's node affinity/selector.", []string{"Insufficient cpu", "Too many pods"}},
		{"0/1 nodes are available: 1 Insufficient example.com/gpu.", []string{"Insufficient example.com/gpu"}},
		{"0/2 nodes are available: 1 node(s) had untolerated taint(s), 1 node(s) didn't satisfy plugin NodeAffinity. preemption: x", []string{"node(s) had untolerated taint(s)"}},
		{"0/12 nodes are available: 12 node(s) didn't satisfy plugin(s) [NodeAffinity].", nil},
		{"something else", nil},
	} {
		if got := schedulerReasons(tc.msg); !slices.Equal(got, tc.want) {
			t.Errorf("schedulerReasons(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// manyImages are n images: more than one pod's worth past ImagesPerPod.
func manyImages(n int) []Image {
	var out []Image
	for i := range n {
		out = append(out, Image{Upstream: fmt.Sprintf("registry.k8s.io/e2e-test-images/img%02d:1.0", i), Target: fmt.Sprintf("%simg%02d-mips64el:1.0", reg, i)})
	}
	return out
}

// withProgress gives a tracked run a plain (non-terminal) progress view.
func withProgress(r *run, clk *clock) *bytes.Buffer {
	var out bytes.Buffer
	r.bar = progress.New(&out, "prepull", len(r.plan.Images)*len(r.plan.Targets()), progress.Options{Now: clk.Now})
	return &out
}

// TestProgressNamesANodeOnceForAllItsPods: with more images than one pod
// holds, a node's DaemonSet pods are held up together: the progress names
// the node's reason, its fix and the give-up once (not once per pod), and
// not again when the scheduler's "0/N nodes" text changes; the report has
// one block per node and one problem line.
func TestProgressNamesANodeOnceForAllItsPods(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{now: t0}
	images := manyImages(3*ImagesPerPod - 1)
	r := trackedRunOf(t, clk, time.Minute, images, newNode("n1", "amd64"), newNode("n2", "amd64"))
	out := withProgress(r, clk)
	if len(r.dsGroups) != 3 {
		t.Fatalf("%d DaemonSets for %d images, want 3", len(r.dsGroups), len(images))
	}
	// n1 goes not Ready before any pod exists; n2's pods cannot be placed.
	n1 := newNode("n1", "amd64")
	n1.Status.Conditions[0] = unreachable()
	_ = r.nodes.Update(n1)
	schedule := func(nodes int) {
		for g := range r.dsGroups {
			gi, _ := strconv.Atoi(g)
			pod := daemonPod(groupDaemonSet(r, gi), "n2")
			pod.Status = pendingUnschedulable(fmt.Sprintf("0/%d nodes are available: 1 Insufficient memory, %d node(s) didn't satisfy plugin(s) [NodeAffinity].", nodes, nodes-1))
			if _, ok, _ := r.pods.Get(pod); ok {
				_ = r.pods.Update(pod)
			} else {
				_ = r.pods.Add(pod)
			}
		}
	}
	schedule(4)
	r.recompute()
	clk.now = t0.Add(30 * time.Second)
	schedule(5) // a node joined the cluster: the scheduler's text changes
	r.recompute()
	clk.now = t0.Add(time.Minute)
	r.recompute()
	schedule(6)
	clk.now = t0.Add(90 * time.Second)
	r.recompute()
	r.finish()

	p := out.String()
	for _, tc := range []struct{ node, reason string }{{"n1", ReasonNodeNotReady}, {"n2", ReasonUnschedulable}} {
		b := r.nodeBlocks(tc.node)
		if len(b) != 1 || b[0].Reason != tc.reason || b[0].Images != len(images) || !b[0].GaveUp || !b[0].Since.Equal(t0) {
			t.Errorf("%s blocks %+v, want one %s given up on %d images since %v", tc.node, b, tc.reason, len(images), t0)
			continue
		}
		for _, line := range []string{tc.node + ": " + tc.reason + ": ", "  fix: " + b[0].Fix + "\n",
			fmt.Sprintf("%s: gave up on %d images after --unschedulable-timeout", tc.node, len(images))} {
			if n := strings.Count(p, line); n != 1 {
				t.Errorf("progress has %q %d times, want once:\n%s", line, n, p)
			}
		}
	}
	if strings.Contains(p, "no longer held up") {
		t.Errorf("progress says a node is no longer held up:\n%s", p)
	}
	problems := r.report.Problems(0)
	if len(problems) != 4 || !strings.HasPrefix(problems[2], fmt.Sprintf("n2: %d images failed (Unschedulable): ", len(images))) {
		t.Errorf("problems, want per node one line and one fix:\n%s", strings.Join(problems, "\n"))
	}
}

// rejectedBy plays the kubelet refusing to admit a DaemonSet pod.
func rejectedBy(pod *corev1.Pod, node string) {
	pod.Spec.NodeName = node
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "OutOfmemory",
		Message: "Pod was rejected: Node didn't have enough resource: memory, requested: 25165824, used: 8000000000, capacity: 8000000000"}
}

// TestGiveUpClockSurvivesPodRecreation: the kubelet rejects a DaemonSet
// pod, the controller creates a new one (for a while beside the failed
// one, then alone and not yet placed) and the kubelet rejects that too:
// the node is held up for the same reason all along, so the wait is not
// started over, and the progress does not say it cleared.
func TestGiveUpClockSurvivesPodRecreation(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{now: t0}
	r := trackedRun(t, clk, 2*time.Minute, newNode("n1", "amd64"))
	out := withProgress(r, clk)
	first := daemonPod(labDaemonSet(r), "n1")
	first.CreationTimestamp = metav1.NewTime(t0.Add(-time.Second))
	rejectedBy(first, "n1")
	_ = r.pods.Add(first)
	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusPending && c.Reason == ReasonRejected }) {
		t.Fatalf("rejected: %+v, want pending, named", cells)
	}
	// The controller creates the next pod; the failed one is still there.
	clk.now = t0.Add(time.Minute)
	second := daemonPod(labDaemonSet(r), "n1")
	second.Name += "-2"
	second.CreationTimestamp = metav1.NewTime(clk.now)
	_ = r.pods.Add(second)
	r.recompute()
	// The failed pod is deleted; the new one is not placed yet.
	clk.now = t0.Add(70 * time.Second)
	_ = r.pods.Delete(first)
	r.recompute()
	// Placed, and rejected again.
	clk.now = t0.Add(90 * time.Second)
	second = second.DeepCopy()
	rejectedBy(second, "n1")
	_ = r.pods.Update(second)
	r.recompute()
	clk.now = t0.Add(2 * time.Minute)
	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusFailed && c.Reason == ReasonRejected }) {
		t.Errorf("two minutes after the first rejection: %+v, want given up", cells)
	}
	if b := r.nodeBlocks("n1"); len(b) != 1 || !b[0].Since.Equal(t0) || !b[0].GaveUp {
		t.Errorf("blocks %+v, want one since %v, given up", b, t0)
	}
	if p := out.String(); strings.Contains(p, "no longer held up") || strings.Count(p, "n1: "+ReasonRejected+": ") != 1 {
		t.Errorf("progress, want the rejection named once and never cleared:\n%s", p)
	}
	// The next pod runs: the node is no longer held up, and a later
	// rejection starts a new wait.
	third := daemonPod(labDaemonSet(r), "n1")
	third.Name += "-3"
	third.CreationTimestamp = metav1.NewTime(clk.now)
	third.Spec.NodeName = "n1"
	third.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: third.Spec.Containers[0].Name,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
	_ = r.pods.Delete(second)
	_ = r.pods.Add(third)
	r.recompute()
	if p := out.String(); !strings.Contains(p, "n1: no longer held up ("+ReasonRejected+")") {
		t.Errorf("progress, want the node cleared once its pod runs:\n%s", p)
	}
	clk.now = t0.Add(3 * time.Minute)
	third = third.DeepCopy()
	rejectedBy(third, "n1")
	_ = r.pods.Update(third)
	r.recompute()
	if b := r.nodeBlocks("n1"); len(b) != 1 || !b[0].Since.Equal(clk.now) || b[0].GaveUp {
		t.Errorf("rejected after running: blocks %+v, want a new wait since %v", b, clk.now)
	}
}

// TestUnitPodChosenByStateNotListOrder: of two pods for one node and
// DaemonSet, the unit's pod is the one not failed, else the newest,
// whatever order the informer lists them in.
func TestUnitPodChosenByStateNotListOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pending := func(p *corev1.Pod) { p.Spec.NodeName = "n1"; p.Status = corev1.PodStatus{Phase: corev1.PodPending} }
	unplaced := func(p *corev1.Pod) { p.Status = corev1.PodStatus{Phase: corev1.PodPending} }
	failed := func(p *corev1.Pod) { rejectedBy(p, "n1") }
	for _, tc := range []struct {
		name         string
		older, newer func(*corev1.Pod)
		want         string
	}{
		{"failed, then re-created and bound", failed, pending, "newer"},
		{"failed, then re-created, not placed yet", failed, unplaced, "newer"},
		{"two running", pending, pending, "newer"},
		{"a newer one failed", pending, failed, "older"},
	} {
		// The informer's List follows no order: look many times.
		for range 20 {
			clk := &clock{now: t0}
			r := trackedRun(t, clk, time.Minute, newNode("n1", "amd64"))
			for i, name := range []string{"older", "newer"} {
				pod := daemonPod(labDaemonSet(r), "n1")
				pod.Name += "-" + name
				pod.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(i) * time.Second))
				[]func(*corev1.Pod){tc.older, tc.newer}[i](pod)
				_ = r.pods.Add(pod)
			}
			got := "none"
			if pod := r.applyPods().byUnit["n1|0"]; pod != nil {
				got = pod.Name
			}
			if !strings.HasSuffix(got, "-"+tc.want) {
				t.Fatalf("%s: the unit's pod is %s, want the %s one", tc.name, got, tc.want)
			}
		}
	}
}

// TestEvictedPodNamesTheResource: a pod the kubelet evicted (or refused
// under a node condition) is named Evicted with the resource the node is
// low on and what frees it, not as a rejection asking for room for the
// pod's requests; a node pod evicted is given up at once (nobody
// recreates it).
func TestEvictedPodNamesTheResource(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, tc := range []struct {
		message    string
		resource   string
		fix, notIn []string
	}{
		{"The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi, available: 524Mi. ", "ephemeral-storage",
			[]string{"free disk on n1", "imageGCHighThresholdPercent", "crictl rmi --prune", "--nodes"}, []string{"requests", "--images-per-pod"}},
		{"The node had condition: [DiskPressure]. ", "DiskPressure", []string{"free disk on n1", "imagefs.available"}, []string{"requests"}},
		{"The node was low on resource: inodes. ", "inodes", []string{"free disk on n1"}, nil},
		{"The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. ", "memory", []string{"free memory on n1", "memory.available"}, []string{"disk"}},
		{"The node had condition: [PIDPressure]. ", "PIDPressure", []string{"processes on n1", "pid.available"}, []string{"disk"}},
	} {
		r := trackedRun(t, clk, time.Minute, newNode("n1", "amd64"))
		pod := daemonPod(labDaemonSet(r), "n1")
		pod.Spec.NodeName = "n1"
		pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: tc.message}
		_ = r.pods.Add(pod)
		r.recompute()
		b := r.nodeBlocks("n1")
		if len(b) != 1 || b[0].Reason != ReasonEvicted || !containsAll(b[0].Message, []string{"low on " + tc.resource, "evicted pod " + pod.Name, strings.TrimSpace(tc.message)}) ||
			!containsAll(b[0].Fix, tc.fix) || slices.ContainsFunc(tc.notIn, func(s string) bool { return strings.Contains(b[0].Fix, s) }) {
			t.Errorf("%q: blocks %+v, want Evicted naming %s, fix naming %q and not %q", tc.message, b, tc.resource, tc.fix, tc.notIn)
		}
		if cells := cellsOf(r, "n1"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusPending && c.Reason == ReasonEvicted }) {
			t.Errorf("%q: %+v, want pending (the controller re-creates the pod), named Evicted", tc.message, cells)
		}
	}
	// Node mode: the evicted pod is not recreated.
	r := trackedRun(t, clk, time.Minute, newNode("n1", "amd64"))
	r.opts.Mode, r.dsGroups, r.dsTargets = ModeNode, nil, nil
	pod := NodePod(NodeModeSpec{Namespace: "ns", RunID: "t1", HelperImage: helperRef, Node: "n1", Socket: DefaultSocket})
	r.nodePods[pod.Name] = &nodeWork{pod: pod.Name, node: "n1", images: []int{0, 1, 2}, results: map[int]nodeResult{}}
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node had condition: [DiskPressure]. "}
	_ = r.pods.Add(pod)
	r.recompute()
	if cells := cellsOf(r, "n1"); !allCells(cells, func(c ImageResult) bool { return c.Status == StatusFailed && c.Reason == ReasonEvicted }) {
		t.Errorf("node pod evicted: %+v, want given up at once", cells)
	}
}

// TestNoGiveUpAfterThePulls: a node held up a minute before --timeout is
// reported timed out with the reason, and stays so while the verification
// runs past its unschedulable timeout; one given up before --timeout
// stays given up.
func TestNoGiveUpAfterThePulls(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{now: t0}
	r := trackedRun(t, clk, 2*time.Minute, newNode("n1", "amd64"), newNode("n2", "amd64"))
	r.opts.Timeout = 30 * time.Minute
	unschedulable := func(node string) {
		pod := daemonPod(labDaemonSet(r), node)
		pod.Status = pendingUnschedulable(insufficientMemory)
		_ = r.pods.Add(pod)
	}
	unschedulable("n2")
	r.recompute()
	clk.now = t0.Add(29 * time.Minute)
	unschedulable("n1")
	r.recompute()
	clk.now = t0.Add(30 * time.Minute)
	r.endPulls(context.Background(), true)
	timedOut := func(c ImageResult) bool { return c.Status == StatusTimeout && c.Reason == ReasonUnschedulable }
	givenUp := func(c ImageResult) bool { return c.Status == StatusFailed && c.Reason == ReasonUnschedulable }
	if cells := cellsOf(r, "n1"); !allCells(cells, timedOut) {
		t.Fatalf("n1 at --timeout: %+v, want timeout, named", cells)
	}
	// The verification runs on past n1's unschedulable timeout.
	clk.now = t0.Add(32 * time.Minute)
	r.recompute()
	r.finish()
	if cells := cellsOf(r, "n1"); !allCells(cells, timedOut) || !r.nextGiveUp.IsZero() {
		t.Errorf("n1 during the verification: %+v (next give-up %v), want still timeout", cells, r.nextGiveUp)
	}
	if b := r.nodeBlocks("n1"); len(b) != 1 || b[0].GaveUp {
		t.Errorf("n1 blocks %+v, want not given up", b)
	}
	if cells := cellsOf(r, "n2"); !allCells(cells, givenUp) {
		t.Errorf("n2, given up before --timeout: %+v", cells)
	}
	if b := r.nodeBlocks("n2"); len(b) != 1 || !b[0].GaveUp {
		t.Errorf("n2 blocks %+v, want given up", b)
	}
	if s := r.report.Summary; s.Timeout != 3 || s.Failed != 3 {
		t.Errorf("summary %+v, want n1's 3 images timed out, n2's failed", s)
	}
}
