package prepull

import (
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Reasons a node's pod does not start (ImageResult.Reason, Blocked.Reason).
const (
	// ReasonUnschedulable: the scheduler cannot place the pod on its node.
	ReasonUnschedulable = "Unschedulable"
	// ReasonUntoleratedTaint: the node has a taint the pod does not
	// tolerate, so the DaemonSet controller creates no pod for it.
	ReasonUntoleratedTaint = "UntoleratedTaint"
	// ReasonNodeNotReady: the node is not Ready (or unreachable).
	ReasonNodeNotReady = "NodeNotReady"
	// ReasonNodeDeleted: the node left the cluster during the run.
	ReasonNodeDeleted = "NodeDeleted"
	// ReasonFailedCreate: the DaemonSet controller cannot create the pod.
	ReasonFailedCreate = "FailedCreate"
	// ReasonRejected: the kubelet refused to admit the pod.
	ReasonRejected = "PodRejected"
	// ReasonEvicted: the kubelet evicted the pod, or refused it under a
	// node condition, because the node is low on a resource (the
	// kubelet's own reason).
	ReasonEvicted = "Evicted"
	// ReasonNotCreated: no pod was ever created for the node (named at --timeout).
	ReasonNotCreated = "PodNotCreated"
)

// DefaultUnschedulableTimeout is how long a node may stay blocked with the
// same reason before its images are given up.
const DefaultUnschedulableTimeout = 2 * time.Minute

// Blocked says why a node's pod did not start, and what to do about it.
type Blocked struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
	// Since is when confrun first saw this reason.
	Since time.Time `json:"since"`
	// GaveUp: the node's images were given up once the reason had held
	// for --unschedulable-timeout (else they waited for --timeout).
	GaveUp bool `json:"gaveUp,omitempty"`
	// Images counts the images it kept off the node.
	Images int `json:"images"`
}

// block is one unit of work (a DaemonSet's pod for a node, or a node pod)
// that cannot start, derived on every recomputation.
type block struct {
	id     string // node|unit
	node   string
	images []int
	// check: a CRI check pod (its block only explains a missing answer).
	check bool
	Blocked
	// hint: a weak reason (a pod warning, a pod never created) named but
	// never given up on before --timeout; final: nothing will change it
	// (a node pod the kubelet rejected or evicted: nobody recreates it).
	hint, final bool
}

// blockSeen remembers since when a unit has been blocked for a reason.
type blockSeen struct {
	key   string // Reason|Fix
	group string // the block's group()
	since time.Time
	// done counts the unit's images done when it was last seen blocked.
	done int
	// gone: the block went away without the unit getting anywhere, as
	// when the DaemonSet controller re-creates a pod the kubelet rejected
	// (the new pod is not placed yet): kept until the unit's pod runs or
	// an image of it is done, so the same reason coming back keeps its
	// since instead of starting the wait over.
	gone, check bool
}

// replacesUnitPod reports whether pod, rather than cur, is the pod of
// their unit (node and DaemonSet): the controller deletes a failed pod
// and creates another, and for a while both are listed. Not failed
// first, then the newest, then the name: never the informer's order.
func replacesUnitPod(pod, cur *corev1.Pod) bool {
	if pf, cf := pod.Status.Phase == corev1.PodFailed, cur.Status.Phase == corev1.PodFailed; pf != cf {
		return cf
	}
	if !pod.CreationTimestamp.Equal(&cur.CreationTimestamp) {
		return cur.CreationTimestamp.Before(&pod.CreationTimestamp)
	}
	return pod.Name > cur.Name
}

// podNode is the node a pod is bound to or, for a DaemonSet pod the
// scheduler has not placed yet, the node the DaemonSet controller pinned
// it to (a single metadata.name node affinity term).
func podNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 {
		return ""
	}
	for _, f := range terms[0].MatchFields {
		if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
			return f.Values[0]
		}
	}
	return ""
}

// podEvidence is what the events say about the run's pods and DaemonSets
// beyond the image pulls.
type podEvidence struct {
	// warning is the latest pod-level Warning event of each pod.
	warning map[string]*corev1.Event
	// failedCreate is the latest FailedCreate event of each DaemonSet.
	failedCreate map[string]*corev1.Event
}

func (e *podEvidence) add(ev *corev1.Event) {
	// Both are warnings; most events (the kubelet's pulls) are not.
	if ev.Type != corev1.EventTypeWarning {
		return
	}
	var m map[string]*corev1.Event
	switch {
	case ev.InvolvedObject.Kind == "DaemonSet" && ev.Reason == "FailedCreate":
		m = e.failedCreate
	case ev.InvolvedObject.Kind == "Pod" && ev.InvolvedObject.FieldPath == "" && ev.Reason != "FailedScheduling":
		// (The scheduler's verdict is read from the pod's condition.)
		m = e.warning
	default:
		return
	}
	if old := m[ev.InvolvedObject.Name]; old == nil || !eventTime(ev).Before(eventTime(old)) {
		m[ev.InvolvedObject.Name] = ev
	}
}

// daemonTolerations are the tolerations the DaemonSet controller adds to
// every pod it creates (pkg/controller/daemon/util).
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// untoleratedTaint returns the first NoSchedule/NoExecute taint of the
// node that none of the tolerations tolerates.
func untoleratedTaint(n *corev1.Node, tolerations []corev1.Toleration) *corev1.Taint {
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		tolerated := false
		for j := range tolerations {
			if tolerations[j].ToleratesTaint(t) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return t
		}
	}
	return nil
}

// taintFix tells how to get past a taint.
func taintFix(node string, t *corev1.Taint) string {
	if strings.HasPrefix(t.Key, "node.kubernetes.io/") {
		// The node lifecycle controller's, from the node's conditions.
		return fmt.Sprintf("the node lifecycle controller keeps this taint while the node's condition holds: fix the condition (`kubectl describe node %s`), or pass --include-tainted, or leave the node out with --nodes", node)
	}
	return fmt.Sprintf("remove the taint (kubectl taint nodes %s %s-) or pass --include-tainted (the pods then tolerate every taint), or leave the node out with --nodes",
		node, t.ToString())
}

// nodeProblem says why a node cannot run pods now ("" when it can).
func nodeProblem(name string, n *corev1.Node) (reason, message, fix string) {
	if n == nil {
		return ReasonNodeDeleted, fmt.Sprintf("node %s left the cluster during the run (deleted, or no longer matches --nodes)", name),
			"nothing to do for this run: run prepull again once the node is back"
	}
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return "", "", ""
		}
		state := "not Ready"
		if c.Status == corev1.ConditionUnknown {
			state = "unreachable (Ready=Unknown)"
		}
		message = fmt.Sprintf("node %s is %s", name, state)
		if !c.LastTransitionTime.IsZero() {
			message += " since " + c.LastTransitionTime.UTC().Format(time.RFC3339)
		}
		if why := strings.TrimSuffix(strings.TrimSpace(c.Reason+": "+c.Message), ":"); why != "" {
			message += " (" + strings.TrimPrefix(why, ": ") + ")"
		}
		return ReasonNodeNotReady, message + ", so the pod does not start there",
			fmt.Sprintf("bring the node back (its kubelet and container runtime: `systemctl status kubelet containerd` on %s), or leave it out with --nodes", name)
	}
	return ReasonNodeNotReady, fmt.Sprintf("node %s reports no Ready condition; its kubelet does not start the pod", name),
		fmt.Sprintf("check the kubelet on %s, or leave the node out with --nodes", name)
}

// schedulerReasons picks, from the scheduler's "0/3 nodes are available:
// 1 Insufficient memory, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].
// preemption: ..." message, the reasons that concern the pod's own node:
// a DaemonSet pod is pinned to one node, so every other node fails its
// node affinity.
func schedulerReasons(msg string) []string {
	_, list, ok := strings.Cut(msg, " nodes are available: ")
	if !ok {
		return nil
	}
	if i := strings.Index(list, ". preemption:"); i >= 0 {
		list = list[:i]
	}
	list = strings.TrimSuffix(strings.TrimSpace(list), ".")
	var out []string
	for _, item := range strings.Split(list, ", ") {
		// "<count> <reason>"
		if n, rest, ok := strings.Cut(item, " "); ok && strings.Trim(n, "0123456789") == "" {
			item = rest
		}
		if strings.Contains(item, "node affinity/selector") || strings.Contains(item, "[NodeAffinity]") ||
			strings.Contains(item, "plugin NodeAffinity") || item == "" {
			continue
		}
		out = append(out, item)
	}
	return out
}

// podRequests is what the scheduler needs free on a node for the pod.
func podRequests(pod *corev1.Pod) string {
	cpu, mem := resource.Quantity{}, resource.Quantity{}
	for _, c := range pod.Spec.Containers {
		cpu.Add(c.Resources.Requests[corev1.ResourceCPU])
		mem.Add(c.Resources.Requests[corev1.ResourceMemory])
	}
	for _, c := range pod.Spec.InitContainers {
		if q := c.Resources.Requests[corev1.ResourceCPU]; q.Cmp(cpu) > 0 {
			cpu = q
		}
		if q := c.Resources.Requests[corev1.ResourceMemory]; q.Cmp(mem) > 0 {
			mem = q
		}
	}
	return fmt.Sprintf("cpu %s, memory %s", cpu.String(), mem.String())
}

// unschedulable explains the scheduler's verdict on a pod for node.
func (r *run) unschedulable(pod *corev1.Pod, node string, cond *corev1.PodCondition) Blocked {
	b := Blocked{Reason: ReasonUnschedulable}
	if cond.Reason == corev1.PodReasonSchedulingGated {
		b.Reason = cond.Reason
		b.Message = fmt.Sprintf("pod %s keeps scheduling gates (spec.schedulingGates): %s", pod.Name, cond.Message)
		b.Fix = "the admission webhook or controller that added the gates must remove them; or leave the node out with --nodes"
		return b
	}
	reasons := schedulerReasons(cond.Message)
	what := strings.Join(reasons, ", ")
	if what == "" {
		what = "see the scheduler's message"
	}
	// The pod's requests go into the message, not the fix: the fix is the
	// node's, the same for all its pods (merged by node, reason and fix).
	b.Message = fmt.Sprintf("the scheduler cannot place pod %s (requests %s) on %s: %s (scheduler: %s)", pod.Name, podRequests(pod), node, what, strings.TrimSpace(cond.Message))
	n := r.node(node)
	for _, why := range reasons {
		switch {
		case strings.Contains(why, "taint"):
			if n != nil {
				if t := untoleratedTaint(n, pod.Spec.Tolerations); t != nil {
					b.Reason = ReasonUntoleratedTaint
					b.Message = fmt.Sprintf("the scheduler cannot place pod %s on %s: the node has taint %s, which the pod does not tolerate", pod.Name, node, t.ToString())
					b.Fix = taintFix(node, t)
					return b
				}
			}
			b.Fix = fmt.Sprintf("remove the taint from %s or pass --include-tainted, or leave the node out with --nodes", node)
		case why == "Too many pods":
			b.Fix = fmt.Sprintf("%s runs as many pods as it may (status.allocatable.pods): remove some or raise the kubelet's maxPods, or leave the node out with --nodes", node)
		case strings.HasPrefix(why, "Insufficient "):
			b.Fix = fmt.Sprintf("make room on %s for the pod's requests (`kubectl describe node %s` shows what is allocated), or leave the node out with --nodes", node, node)
		case strings.Contains(why, "were unschedulable"):
			b.Fix = fmt.Sprintf("uncordon the node (kubectl uncordon %s), or leave it out with --nodes", node)
		}
		if b.Fix != "" {
			return b
		}
	}
	b.Fix = fmt.Sprintf("fix what the scheduler names on %s, or leave the node out with --nodes", node)
	return b
}

// dsName is the name of a run's DaemonSet of a group.
func dsName(runID, group string) string { return "prepull-" + runID + "-" + group }

// podModeBlock explains why the pod of a DaemonSet group has not started on
// node, or returns nil when nothing stands in its way (yet).
func (r *run) podModeBlock(node, group string, pod *corev1.Pod, ev *podEvidence) *Blocked {
	n := r.node(node)
	ds := dsName(r.opts.RunID, group)
	// A node that is not Ready first: its lifecycle taints follow from it.
	if reason, msg, fix := nodeProblem(node, n); reason != "" {
		return &Blocked{Reason: reason, Message: msg, Fix: fix}
	}
	if pod == nil {
		tolerations := daemonTolerations
		if r.opts.Selection.IncludeTainted {
			tolerations = append(tolerations[:len(tolerations):len(tolerations)], corev1.Toleration{Operator: corev1.TolerationOpExists})
		}
		if t := untoleratedTaint(n, tolerations); t != nil {
			return &Blocked{Reason: ReasonUntoleratedTaint, Fix: taintFix(node, t),
				Message: fmt.Sprintf("node %s has taint %s, which the prepull pods do not tolerate: the DaemonSet controller creates no pod there", node, t.ToString())}
		}
		if e := ev.failedCreate[ds]; e != nil {
			return &Blocked{Reason: ReasonFailedCreate,
				Message: fmt.Sprintf("the DaemonSet controller cannot create the pods of %s/%s: %s", r.opts.Namespace, ds, strings.TrimSpace(e.Message)),
				Fix:     fmt.Sprintf("fix what the message names (a ResourceQuota or LimitRange in namespace %s, an admission webhook or policy), or use another namespace with -n", r.opts.Namespace)}
		}
		if r.pullsTimedOut {
			return r.notCreated(node, ds)
		}
		return nil
	}
	if pod.Spec.NodeName == "" {
		for i := range pod.Status.Conditions {
			c := &pod.Status.Conditions[i]
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				b := r.unschedulable(pod, node, c)
				return &b
			}
		}
		return nil
	}
	return r.boundPodBlock(node, pod, ev)
}

// boundPodBlock explains why a pod bound to node does not run.
func (r *run) boundPodBlock(node string, pod *corev1.Pod, ev *podEvidence) *Blocked {
	if pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == ReasonEvicted {
		return evicted(node, pod)
	}
	if pod.Status.Phase == corev1.PodFailed && pod.Status.Reason != "" {
		return &Blocked{Reason: ReasonRejected,
			Message: fmt.Sprintf("the kubelet on %s rejected pod %s (%s; the pod requests %s): %s", node, pod.Name, pod.Status.Reason, podRequests(pod), strings.TrimSpace(pod.Status.Message)),
			Fix:     fmt.Sprintf("make room on %s for the pod's requests, or leave the node out with --nodes", node)}
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	if reason, msg, fix := nodeProblem(node, r.node(node)); reason != "" {
		return &Blocked{Reason: reason, Message: msg, Fix: fix}
	}
	if e := ev.warning[pod.Name]; e != nil && !started(pod) {
		return &Blocked{Reason: e.Reason, Message: fmt.Sprintf("pod %s on %s: %s", pod.Name, node, strings.TrimSpace(e.Message))}
	}
	return nil
}

// evicted explains a pod the kubelet evicted ("The node was low on
// resource: ephemeral-storage. ...") or refused to admit under a node
// condition ("The node had condition: [DiskPressure]. "): the node is low
// on a resource, whatever the pod requests.
func evicted(node string, pod *corev1.Pod) *Blocked {
	msg := strings.TrimSpace(pod.Status.Message)
	low := ""
	if _, rest, ok := strings.Cut(msg, "low on resource: "); ok {
		low, _, _ = strings.Cut(rest, ".")
	} else if _, rest, ok := strings.Cut(msg, "had condition: ["); ok {
		low, _, _ = strings.Cut(rest, "]")
	}
	b := &Blocked{Reason: ReasonEvicted, Message: fmt.Sprintf("the kubelet on %s evicted pod %s: %s", node, pod.Name, msg)}
	if low != "" {
		b.Message = fmt.Sprintf("node %s is low on %s: the kubelet evicted pod %s (%s)", node, low, pod.Name, msg)
	}
	switch {
	case strings.Contains(low, "ephemeral-storage") || strings.Contains(low, "inodes") || strings.Contains(low, "DiskPressure"):
		// The pulls themselves fill the disk: every image of the map
		// must fit on the node (fewer images per pod would not help).
		b.Fix = fmt.Sprintf("free disk on %s: the kubelet evicts pods below its eviction thresholds (evictionHard imagefs.available, nodefs.available) and removes unused images only above imageGCHighThresholdPercent; every image of the map must fit, so remove unused images (`crictl rmi --prune` on the node) or grow its disk, or leave the node out with --nodes", node)
	case strings.Contains(low, "memory") || strings.Contains(low, "MemoryPressure"):
		b.Fix = fmt.Sprintf("free memory on %s (the kubelet evicts pods when memory.available falls below its eviction threshold), or leave the node out with --nodes", node)
	case strings.Contains(low, "pids") || strings.Contains(low, "PIDPressure"):
		b.Fix = fmt.Sprintf("too many processes on %s (the kubelet evicts pods when pid.available falls below its eviction threshold): stop what spawns them, or leave the node out with --nodes", node)
	default:
		b.Fix = fmt.Sprintf("fix what the kubelet's message names on %s (`kubectl describe node %s`), or leave the node out with --nodes", node, node)
	}
	return b
}

// started reports whether any container of the pod has run: the sandbox
// is up, and earlier pod-level warnings no longer hold it up.
func started(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
				return true
			}
		}
	}
	return false
}

// notCreated explains, at --timeout, a node that never got its pod, from
// the DaemonSet's status (read once, then).
func (r *run) notCreated(node, ds string) *Blocked {
	b := &Blocked{Reason: ReasonNotCreated,
		Message: fmt.Sprintf("DaemonSet %s/%s created no pod for node %s", r.opts.Namespace, ds, node),
		Fix:     fmt.Sprintf("run again with --keep and look at `kubectl -n %s describe daemonset %s` and its events", r.opts.Namespace, ds)}
	d, ok := r.daemonSets[ds]
	switch {
	case !ok:
	case d.Status.ObservedGeneration == 0:
		b.Message = fmt.Sprintf("the DaemonSet controller never processed DaemonSet %s/%s (its status is empty), so no pod was created for node %s", r.opts.Namespace, ds, node)
		b.Fix = "check that kube-controller-manager runs (kubectl -n kube-system get pods -l component=kube-controller-manager) and its log"
	default:
		b.Message += fmt.Sprintf(" (it wants %d pods, %d are scheduled)", d.Status.DesiredNumberScheduled, d.Status.CurrentNumberScheduled)
	}
	return b
}

// daemonSetsByName indexes a list of DaemonSets.
func daemonSetsByName(items []appsv1.DaemonSet) map[string]*appsv1.DaemonSet {
	out := map[string]*appsv1.DaemonSet{}
	for i := range items {
		out[items[i].Name] = &items[i]
	}
	return out
}

// deriveBlocks finds what keeps each node's pods from starting: the
// pod-mode pods (a missing one too) and the node pods. moved holds the
// units that got somewhere: done, their pod runs, or more of their images
// done than when they were last seen blocked.
func (r *run) deriveBlocks(seen *podsSeen) (out []*block, moved map[string]bool) {
	moved = map[string]bool{}
	ev := &seen.evidence
	groups := sortedKeys(r.dsGroups)
	for _, node := range r.dsTargets {
		for _, group := range groups {
			id, images := node+"|"+group, r.dsGroups[group]
			if r.unitDone(node, images, false) {
				moved[id] = true
				continue
			}
			pod := seen.byUnit[id]
			if b := r.podModeBlock(node, group, pod, ev); b != nil {
				out = append(out, &block{id: id, node: node, images: images, Blocked: *b, hint: isHint(b.Reason)})
				continue
			}
			moved[id] = pod != nil && (pod.Status.Phase == corev1.PodRunning || started(pod)) ||
				r.doneCount(node, images) > r.blockSince[id].done
		}
	}
	for _, name := range sortedKeys(r.nodePods) {
		w := r.nodePods[name]
		pod := seen.nodePods[name]
		id := w.node + "|" + name
		if pod == nil {
			continue
		}
		if w.streaming || w.failReason != "" || r.unitDone(w.node, w.images, w.check) {
			moved[id] = true
			continue
		}
		if b := r.boundPodBlock(w.node, pod, ev); b != nil {
			out = append(out, &block{id: id, node: w.node, images: w.images, check: w.check, Blocked: *b,
				hint: isHint(b.Reason), final: b.Reason == ReasonRejected || b.Reason == ReasonEvicted})
		}
	}
	return out, moved
}

// doneCount counts the images of a unit that are done on node.
func (r *run) doneCount(node string, images []int) int {
	n := 0
	for _, i := range images {
		if r.cells[node][i].Done() {
			n++
		}
	}
	return n
}

// isHint tells the reasons that are named but never given up on early:
// the kubelet retries what its warnings are about.
func isHint(reason string) bool {
	switch reason {
	case ReasonUnschedulable, corev1.PodReasonSchedulingGated, ReasonUntoleratedTaint, ReasonNodeNotReady, ReasonNodeDeleted,
		ReasonFailedCreate, ReasonRejected, ReasonEvicted:
		return false
	}
	return true
}

// unitDone reports whether the unit's images need nothing more on node:
// pulled or failed (pulls), or answered (checks).
func (r *run) unitDone(node string, images []int, check bool) bool {
	for _, i := range images {
		c := r.cells[node][i]
		if check && c.OnNode() && c.Verified == "" || !check && !c.Done() {
			return false
		}
	}
	return true
}

// group is what blocks merge by: the units (DaemonSet pods) of a node held
// up for the same reason, with the same fix, are one in the progress, the
// report and the give-up; a CRI check pod's block stays its own.
func (b *block) group() string {
	if b.check {
		return "check|" + b.id
	}
	return b.node + "|" + b.Reason + "|" + b.Fix
}

// applyBlocks names the reason on the cells a block holds up and gives
// them up once the reason has held for the unschedulable timeout. A unit
// whose block went away without it having moved is remembered (gone).
func (r *run) applyBlocks(blocks []*block, moved map[string]bool) {
	now := r.opts.Now().UTC()
	seen := map[string]blockSeen{}
	r.nextGiveUp = time.Time{}
	clear(r.gaveUp)
	// Since when each unit has been held up for its reason; a node's units
	// held up for the same reason share the earliest since and the first
	// unit's message (the scheduler's text differs only in the pod's name
	// and the other nodes' counts), so that they are given up together.
	lead := map[string]*block{}
	for _, b := range blocks {
		key := b.Reason + "|" + b.Fix
		if prev, ok := r.blockSince[b.id]; ok && prev.key == key {
			b.Since = prev.since
		} else {
			b.Since = now
		}
		if l := lead[b.group()]; l == nil {
			lead[b.group()] = b
		} else if b.Since.Before(l.Since) {
			l.Since = b.Since
		}
	}
	for _, b := range blocks {
		l := lead[b.group()]
		b.Since, b.Message = l.Since, l.Message
		seen[b.id] = blockSeen{key: b.Reason + "|" + b.Fix, group: b.group(), since: b.Since, done: r.doneCount(b.node, b.images), check: b.check}
		if b.check {
			continue
		}
		switch grace := r.opts.UnschedulableTimeout; {
		case r.givenUp != nil:
			// The pulls are over: only what was given up then stays so.
			b.GaveUp = r.givenUpBlocks[b.id] == b.Reason+"|"+b.Fix
		case b.final || !b.hint && grace >= 0:
			giveUp := b.Since.Add(grace)
			if b.final || !now.Before(giveUp) {
				b.GaveUp = true
			} else if r.nextGiveUp.IsZero() || giveUp.Before(r.nextGiveUp) {
				r.nextGiveUp = giveUp
			}
		}
		for _, i := range b.images {
			c := r.cells[b.node][i]
			if _, kept := r.givenUp[c]; c.Done() || kept && !b.GaveUp {
				// (A give-up kept from the pulls stands, whatever holds
				// the pod up now.)
				continue
			}
			b.Images++
			c.Reason, c.Message = b.Reason, b.Message
			if b.GaveUp {
				c.Status = StatusFailed
				if b.Reason == ReasonNodeNotReady || b.Reason == ReasonNodeDeleted {
					c.Status = StatusNodeNotReady
				}
				c.Note = fmt.Sprintf("given up after --unschedulable-timeout %s", r.opts.UnschedulableTimeout)
				if b.final {
					c.Note = "given up: the pod will not be retried"
				}
				r.gaveUp[c] = true
			}
		}
	}
	for id, prev := range r.blockSince {
		if _, ok := seen[id]; !ok && !prev.check && !moved[id] {
			prev.gone = true
			seen[id] = prev
		}
	}
	r.blockSince = seen
	r.blocks = blocks
}

// mergedBlocks are the blocks of pulls (not CRI checks) merged by group,
// in the order found, with their images counted together.
func (r *run) mergedBlocks() []*block {
	var out []*block
	at := map[string]*block{}
	for _, b := range r.blocks {
		if b.check || b.Images == 0 {
			continue
		}
		if m := at[b.group()]; m != nil {
			m.Images += b.Images
			m.GaveUp = m.GaveUp || b.GaveUp
			continue
		}
		m := *b
		at[b.group()] = &m
		out = append(out, &m)
	}
	return out
}

// nodeBlocks returns the report's view of a node's blocks: one per reason
// and fix, with the images counted together.
func (r *run) nodeBlocks(node string) []Blocked {
	var out []Blocked
	for _, b := range r.mergedBlocks() {
		if b.node == node {
			out = append(out, b.Blocked)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}

// progressBlocks prints each node's block once as it is found (whatever
// its message becomes), once more when it is given up on, and when it
// clears: one line for all the node's pods held up for that reason.
func (r *run) progressBlocks() {
	held := map[string]bool{}
	for _, b := range r.mergedBlocks() {
		g := b.group()
		held[g] = true
		if b.GaveUp {
			if k := "gaveup|" + g; !r.printed[k] {
				r.printed[k] = true
				if b.final {
					r.bar.Printf("%s: %s: %s", b.node, b.Reason, b.Message)
					r.bar.Printf("  fix: %s", b.Fix)
					r.bar.Printf("%s: gave up on %d images (the pod will not be retried)", b.node, b.Images)
				} else {
					r.bar.Printf("%s: gave up on %d images after --unschedulable-timeout %s (%s)", b.node, b.Images, r.opts.UnschedulableTimeout, b.Reason)
				}
			}
			continue
		}
		if r.shownBlocks[g] {
			continue
		}
		r.shownBlocks[g] = true
		line := fmt.Sprintf("%s: %s: %s", b.node, b.Reason, b.Message)
		if !b.hint && r.opts.UnschedulableTimeout >= 0 {
			line += fmt.Sprintf("; giving up on its %d images in %s unless this changes (--unschedulable-timeout)", b.Images, r.opts.UnschedulableTimeout)
		}
		r.bar.Printf("%s", line)
		if b.Fix != "" {
			r.bar.Printf("  fix: %s", b.Fix)
		}
	}
	// A unit between two pods still holds its node up.
	for _, s := range r.blockSince {
		if s.gone {
			held[s.group] = true
		}
	}
	for _, g := range sortedKeys(r.shownBlocks) {
		if !held[g] {
			delete(r.shownBlocks, g)
			node, rest, _ := strings.Cut(g, "|")
			reason, _, _ := strings.Cut(rest, "|")
			r.bar.Printf("%s: no longer held up (%s)", node, reason)
		}
	}
}
