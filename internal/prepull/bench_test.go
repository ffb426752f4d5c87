package prepull

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// BenchmarkRecompute200x40 is the cost of one state recomputation (done on
// every coalesced watch event) with 200 nodes x 40 images, every container
// running and every pull reported by an event.
func BenchmarkRecompute200x40(b *testing.B) {
	r := filledRun(b, 200, 40)
	b.ResetTimer()
	for b.Loop() {
		r.recompute()
	}
	b.StopTimer()
	if !r.allDone() || !r.allVerified() {
		b.Fatal("not every cell done and verified")
	}
}

// TestRecomputeAppliesEventsAndStatuses: the kubelet's events give the
// pull time and size, the container statuses the digest, the node status
// the verification.
func TestRecomputeAppliesEventsAndStatuses(t *testing.T) {
	r := filledRun(t, 3, 2)
	r.recompute()
	for node, cells := range r.cells {
		for i, c := range cells {
			if c.Status != StatusPulled || c.PullSeconds != 1.2 || c.SizeBytes != 1000 || c.PulledAt == nil ||
				c.ImageRef != fmt.Sprintf("reg:5000/x/img-%d@sha256:%064d", i, i) || c.Verified != VerifiedNodeStatus {
				t.Errorf("%s image %d = %+v", node, i, c)
			}
		}
	}
	if r.report.Stats.LastPodReady == nil {
		t.Error("all pods Ready, but no LastPodReady")
	}
}

// filledRun is a run over nodes x images with every image pulled: pods
// running, events, node status, as the informers would hold them.
func filledRun(tb testing.TB, nodes, images int) *run {
	tb.Helper()
	var imgs []Image
	for i := 0; i < images; i++ {
		imgs = append(imgs, Image{Upstream: fmt.Sprintf("registry.k8s.io/x/img-%d:1", i), Target: fmt.Sprintf("reg:5000/x/img-%d:1", i)})
	}
	var nodeList []corev1.Node
	newIndexer := func() cache.Indexer { return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}) }
	r := newRun(Options{RunID: "b", Verify: VerifyNodeStatus, Now: time.Now, UnschedulableTimeout: DefaultUnschedulableTimeout})
	r.report, r.nodes, r.pods, r.events = &Report{}, newIndexer(), newIndexer(), newIndexer()
	for n := 0; n < nodes; n++ {
		node := newNode(fmt.Sprintf("n%d", n), "amd64")
		node.ResourceVersion = "1"
		for _, im := range imgs {
			node.Status.Images = append(node.Status.Images, corev1.ContainerImage{Names: []string{im.Target}, SizeBytes: 1})
		}
		nodeList = append(nodeList, *node)
		_ = r.nodes.Add(node)
	}
	plan, err := MakePlan(nodeList, imgs, Selection{})
	if err != nil {
		tb.Fatal(err)
	}
	r.plan = plan
	r.cells, r.initial = map[string][]*ImageResult{}, map[string][]ImageResult{}
	for _, n := range plan.Nodes {
		for _, im := range plan.Images {
			r.cells[n.Name] = append(r.cells[n.Name], &ImageResult{Target: im.Target, Status: StatusPending})
			r.initial[n.Name] = append(r.initial[n.Name], ImageResult{Target: im.Target, Status: StatusPending})
		}
	}
	r.dsNodes, r.dsGroups = nodes, map[string][]int{"0": nil}
	for _, n := range plan.Nodes {
		r.dsTargets = append(r.dsTargets, n.Name)
	}
	for i := 0; i < images; i++ {
		r.dsGroups["0"] = append(r.dsGroups["0"], i)
	}
	for n := 0; n < nodes; n++ {
		labels := ownLabels("b")
		labels[LabelGroup] = "0"
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", n), Namespace: "ns", Labels: labels},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("n%d", n)}}
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		for i := 0; i < images; i++ {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: containerName(i),
				ImageID: fmt.Sprintf("reg:5000/x/img-%d@sha256:%064d", i, i), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
			_ = r.events.Add(&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("e%d.%d", n, i), Namespace: "ns", ResourceVersion: "1",
				UID: types.UID(fmt.Sprintf("u%d.%d", n, i))},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, FieldPath: fmt.Sprintf("spec.containers{%s}", containerName(i))},
				Reason:         "Pulled", Message: fmt.Sprintf(`Successfully pulled image "reg:5000/x/img-%d:1" in 1.2s (1.3s including waiting). Image size: 1000 bytes.`, i),
				LastTimestamp: metav1.Now()})
		}
		_ = r.pods.Add(pod)
	}
	return r
}
