package sonorun

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/vmware-tanzu/sonobuoy/pkg/plugin"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/aggregation"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

const aggregatorSelector = "sonobuoy-component=aggregator"

// Update is one observation of a run in the cluster.
type Update struct {
	// Phase is the aggregator's status: running, post-processing,
	// complete, failed; "pending" until the aggregator reports.
	Phase string
	// Progress is the e2e plugin's latest progress report, if any.
	Progress *plugin.ProgressUpdate
	// ResultStatus is the e2e plugin's result once it finished.
	ResultStatus string
	// Problems are pod conditions worth a person's attention, such as an
	// image that cannot be pulled.
	Problems []string
	// Images maps container image references to the digests the kubelet
	// resolved (imageID), for run.json.
	Images map[string]string
	// Nodes lists the nodes the run's pods were scheduled on.
	Nodes []string
}

// Done reports whether the run has finished in the cluster.
func (u Update) Done() bool {
	return u.Phase == aggregation.CompleteStatus || u.Phase == aggregation.FailedStatus
}

// Watch follows the run in namespace ns through a pod informer (no polling)
// and calls fn on every change until the run is done or ctx ends. It
// returns the final update.
func Watch(ctx context.Context, cs kubernetes.Interface, ns string, fn func(Update)) (Update, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	podInformer := factory.Core().V1().Pods()
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}); err != nil {
		return Update{}, fmt.Errorf("watching pods in %s: %w", ns, err)
	}
	lister := podInformer.Lister().Pods(ns)
	factory.Start(ctx.Done())
	// Informers stop on ctx; cancel before Shutdown waits for them.
	defer func() { cancel(); factory.Shutdown() }()
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		return Update{}, fmt.Errorf("watching pods in %s: %w", ns, context.Cause(ctx))
	}
	notify()
	var last Update
	seenAggregator := false
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-changed:
		}
		pods, err := lister.List(labels.Everything())
		if err != nil {
			return last, fmt.Errorf("listing pods in %s: %w", ns, err)
		}
		u, hasAggregator := observe(pods)
		if hasAggregator {
			seenAggregator = true
		} else if seenAggregator {
			return u, fmt.Errorf("the sonobuoy aggregator pod in %s disappeared before the run finished (deleted, or its node failed)", ns)
		}
		last = u
		fn(u)
		if u.Done() {
			return u, nil
		}
	}
}

// observe derives an Update from the namespace's pods.
func observe(pods []*corev1.Pod) (Update, bool) {
	u := Update{Phase: "pending", Images: map[string]string{}}
	found := false
	nodes := map[string]bool{}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			nodes[p.Spec.NodeName] = true
		}
		for _, cst := range p.Status.ContainerStatuses {
			if cst.ImageID != "" {
				u.Images[cst.Image] = cst.ImageID
			}
			if w := cst.State.Waiting; w != nil && isProblem(w.Reason) {
				u.Problems = append(u.Problems, fmt.Sprintf("pod %s container %s: %s: %s", p.Name, cst.Name, w.Reason, w.Message))
			}
			if t := cst.State.Terminated; t != nil && t.ExitCode != 0 && p.Labels["sonobuoy-component"] == "aggregator" {
				u.Problems = append(u.Problems, fmt.Sprintf("pod %s container %s exited %d: %s %s", p.Name, cst.Name, t.ExitCode, t.Reason, strings.TrimSpace(t.Message)))
			}
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				u.Problems = append(u.Problems, fmt.Sprintf("pod %s cannot be scheduled: %s", p.Name, c.Message))
			}
		}
		if p.Labels["sonobuoy-component"] != "aggregator" {
			continue
		}
		found = true
		if p.Status.Phase == corev1.PodFailed {
			u.Phase = aggregation.FailedStatus
			u.Problems = append(u.Problems, fmt.Sprintf("aggregator pod %s failed: %s", p.Name, p.Status.Message))
			continue
		}
		raw, ok := p.Annotations[aggregation.StatusAnnotationName]
		if !ok {
			continue
		}
		var st aggregation.Status
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			u.Problems = append(u.Problems, fmt.Sprintf("unreadable aggregator status: %v", err))
			continue
		}
		u.Phase = st.Status
		for _, ps := range st.Plugins {
			if ps.Plugin != e2ePlugin {
				continue
			}
			u.Progress = ps.Progress
			u.ResultStatus = ps.ResultStatus
		}
	}
	for n := range nodes {
		u.Nodes = append(u.Nodes, n)
	}
	sort.Strings(u.Nodes)
	return u, found
}

func isProblem(reason string) bool {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
		return true
	}
	return false
}
