package prepull

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/confrun/confrun/internal/prepull/nodepull"
)

// recompute derives every cell from scratch: the state before the run,
// the pods' statuses, the kubelet's events, the node-mode results and the
// nodes' status.images. Deriving (instead of patching cells event by
// event) keeps the result independent of the order the watches deliver in.
func (r *run) recompute() {
	for name, init := range r.initial {
		for i := range init {
			*r.cells[name][i] = init[i]
		}
	}
	r.seen = r.applyPods()
	r.applyNodeWork()
	if r.seen != nil {
		r.applyBlocks(r.deriveBlocks(r.seen))
	}
	for c, given := range r.givenUp {
		if !c.Done() {
			*c = given
			r.gaveUp[c] = true
		}
	}
	if r.pullsTimedOut {
		r.timeoutPending()
	}
	r.applyVerification()
	r.progressUpdate()
}

// podsSeen is what applyPods found beyond the image cells: each unit's
// pod and the events that explain pods that do not start.
type podsSeen struct {
	// byUnit holds the pod-mode pods by node|group, nodePods the node
	// pods by name.
	byUnit, nodePods map[string]*corev1.Pod
	evidence         podEvidence
}

// applyPods applies the pod-mode pods and their events, and looks at the
// node-mode pods' states. It returns nil before the pod informers run.
func (r *run) applyPods() *podsSeen {
	if r.pods == nil {
		return nil
	}
	type podModePod struct {
		node  string
		index []int // container index -> plan image index
	}
	seen := &podsSeen{byUnit: map[string]*corev1.Pod{}, nodePods: map[string]*corev1.Pod{},
		evidence: podEvidence{warning: map[string]*corev1.Event{}, failedCreate: map[string]*corev1.Event{}}}
	pods := map[string]podModePod{}
	var lastReady time.Time
	allReady := true
	for _, o := range r.pods.List() {
		pod := o.(*corev1.Pod)
		// A DaemonSet pod the scheduler has not placed has no node name
		// yet: its node is in its node affinity.
		node := podNode(pod)
		if pod.Labels[LabelRun] != r.opts.RunID || pod.DeletionTimestamp != nil || r.cells[node] == nil {
			continue
		}
		if w := r.nodePods[pod.Name]; w != nil {
			seen.nodePods[pod.Name] = pod
			r.watchNodePod(pod, w)
			continue
		}
		group := pod.Labels[LabelGroup]
		index, ok := r.dsGroups[group]
		if !ok || pod.Labels[LabelNode] != "" {
			continue // not a pod this process created
		}
		if cur := seen.byUnit[node+"|"+group]; cur == nil || replacesUnitPod(pod, cur) {
			seen.byUnit[node+"|"+group] = pod
		}
		pods[pod.Name] = podModePod{node: node, index: index}
		ready := false
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
				if c.LastTransitionTime.After(lastReady) {
					lastReady = c.LastTransitionTime.Time
				}
			}
		}
		allReady = allReady && ready
	}
	// Events first (times, sizes, "already present"), container statuses
	// last: they say what holds now.
	for _, o := range r.events.List() {
		ev := o.(*corev1.Event)
		seen.evidence.add(ev)
		p, ok := pods[ev.InvolvedObject.Name]
		if !ok || ev.InvolvedObject.Kind != "Pod" {
			continue
		}
		if i, ok := containerIndex(fieldContainer(ev.InvolvedObject.FieldPath)); ok && i < len(p.index) {
			r.cache.event(ev).apply(r.cells[p.node][p.index[i]])
		}
	}
	for _, o := range r.pods.List() {
		pod := o.(*corev1.Pod)
		if p, ok := pods[pod.Name]; ok {
			r.applyPodModePod(pod, r.cells[p.node], p.index)
		}
	}
	// The moment every node's pods were Ready first: the pulls are over
	// there (kept even if a node later goes not ready).
	if allReady && len(pods) == r.dsNodes*len(r.dsGroups) && !lastReady.IsZero() && r.report.Stats.LastPodReady == nil {
		t := lastReady.UTC()
		r.report.Stats.LastPodReady = &t
	}
	return seen
}

// fieldContainer extracts the container name from spec.containers{name}.
func fieldContainer(fieldPath string) string {
	const p = "spec.containers{"
	if strings.HasPrefix(fieldPath, p) && strings.HasSuffix(fieldPath, "}") {
		return fieldPath[len(p) : len(fieldPath)-1]
	}
	return ""
}

func (r *run) applyPodModePod(pod *corev1.Pod, cells []*ImageResult, index []int) {
	// The helper image itself: if the init container cannot pull or
	// install it, no image container will ever start.
	for _, cs := range pod.Status.InitContainerStatuses {
		why := ""
		switch {
		case isPullWait(&cs):
			why = fmt.Sprintf("the helper image %s cannot be pulled: %s", r.opts.HelperImage, cs.State.Waiting.Message)
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			why = fmt.Sprintf("installing the helper failed (exit %d): %s", cs.State.Terminated.ExitCode, cs.State.Terminated.Message)
		}
		if why != "" {
			for _, i := range index {
				if !cells[i].Done() {
					cells[i].Status, cells[i].Reason, cells[i].Message = StatusFailed, "HelperImage", why
				}
			}
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if i, ok := containerIndex(cs.Name); ok && i < len(index) {
			applyContainerStatus(cells[index[i]], &cs)
		}
	}
}

// watchNodePod starts reading a node pod's log once it runs and records
// why it failed when it cannot run or ended without results.
func (r *run) watchNodePod(pod *corev1.Pod, w *nodeWork) {
	w.failReason, w.failMessage = "", ""
	var cs *corev1.ContainerStatus
	if len(pod.Status.ContainerStatuses) > 0 {
		cs = &pod.Status.ContainerStatuses[0]
	}
	switch {
	case cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil):
		if !w.streaming {
			w.streaming = true
			r.wg.Add(1)
			go r.readNodePod(r.runCtx, pod.Namespace, pod.Name)
		}
		if t := cs.State.Terminated; t != nil {
			// The termination message repeats the results in short: the
			// fallback when the log cannot be read.
			if results, err := nodepull.ParseTermination(t.Message); err == nil {
				if w.fallback == nil {
					w.fallback = map[int]nodeResult{}
				}
				for _, res := range results {
					w.fallback[res.Index] = nodeResult{res: res, at: t.FinishedAt.Time.UTC()}
				}
			} else if t.ExitCode != 0 {
				w.failReason = "NodePullFailed"
				w.failMessage = fmt.Sprintf("the node-mode helper exited %d: %s", t.ExitCode, firstLine(t.Message, t.Reason))
			}
			if w.streamDone && w.failReason == "" {
				w.failReason, w.failMessage = "NoResult", "the node-mode helper ended without a result for this image"
			}
		}
	case cs != nil && isPullWait(cs):
		w.failReason = "HelperImage"
		w.failMessage = fmt.Sprintf("the helper image %s cannot be pulled: %s", r.opts.HelperImage, cs.State.Waiting.Message)
	default:
		for _, o := range r.events.List() {
			ev := o.(*corev1.Event)
			if ev.InvolvedObject.Name == pod.Name && ev.Reason == "FailedMount" {
				w.failReason = "FailedMount"
				w.failMessage = ev.Message + " (is the containerd socket path right? see --containerd-socket)"
			}
		}
	}
}

func firstLine(s, otherwise string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return otherwise
	}
	return s
}

// readNodePod follows a node pod's log and forwards its result lines.
func (r *run) readNodePod(ctx context.Context, namespace, pod string) {
	defer r.wg.Done()
	send := func(l podLine) {
		select {
		case r.lines <- l:
		case <-ctx.Done():
		}
	}
	rc, err := r.opts.Logs(ctx, namespace, pod)
	if err == nil {
		_ = nodepull.ReadLines(rc, func(l nodepull.Line) {
			if l.Result != nil {
				send(podLine{pod: pod, res: l.Result, at: r.opts.Now().UTC()})
			}
		})
		_ = rc.Close()
	}
	send(podLine{pod: pod, done: true})
}

// storeLine records a line from a node pod's log.
func (r *run) storeLine(l podLine) {
	w := r.nodePods[l.pod]
	if w == nil {
		return
	}
	if l.done {
		w.streamDone = true
		return
	}
	w.results[l.res.Index] = nodeResult{res: *l.res, at: l.at}
}

// applyNodeWork applies the node pods' results (pulls and CRI checks).
func (r *run) applyNodeWork() {
	for _, w := range r.nodePods {
		cells := r.cells[w.node]
		for local, plan := range w.images {
			c := cells[plan]
			res, ok := w.results[local]
			if !ok && w.streamDone {
				// The log is read to its end without this image: take the
				// termination message's short result. Before the end, the
				// log may still bring the full one (with the reason).
				res, ok = w.fallback[local]
			}
			switch {
			case ok && w.check:
				applyCheck(c, res.res)
			case ok:
				applyNodePull(c, res.res, res.at)
			case w.failReason != "" && !w.check && !c.Done():
				c.Status, c.Reason, c.Message = StatusFailed, w.failReason, w.failMessage
			case w.failReason != "" && w.check && c.OnNode() && c.Verified == "":
				c.Note = "the CRI check failed: " + w.failReason + ": " + w.failMessage
			}
		}
	}
}

// applyCheck applies a CRI ImageStatus check to a cell.
func applyCheck(c *ImageResult, res nodepull.Result) {
	if !c.OnNode() {
		return
	}
	if res.OK() {
		c.Verified = VerifiedCRI
		if res.SizeBytes > 0 {
			c.SizeBytes = res.SizeBytes
		}
		return
	}
	c.Status, c.Verified = StatusFailed, ""
	c.Reason = "NotOnNode"
	c.Message = "the pull looked done, but the runtime's ImageStatus does not find the image now"
	if res.Message != "" {
		c.Message += ": " + res.Message
	}
}

// applyVerification marks what node.status.images (or the pods) confirm.
func (r *run) applyVerification() {
	for _, n := range r.plan.Targets() {
		node := r.node(n.Name)
		if node == nil {
			continue
		}
		ni := r.cache.nodeImages(node)
		for i, c := range r.cells[n.Name] {
			if !c.OnNode() || c.Verified != "" {
				continue
			}
			switch {
			case r.opts.Verify == VerifyPods:
				// On the node per the kubelet's container statuses and events.
				c.Verified = VerifiedPod
			case r.opts.Verify == VerifyNodeStatus:
				if size, ok := r.findOnNode(ni, i, c.ImageRef); ok {
					c.Verified = VerifiedNodeStatus
					if c.SizeBytes == 0 {
						c.SizeBytes = size
					}
				} else if ni.truncated {
					// The kubelet lists only the largest images, so this
					// one may never be listed: the kubelet's pull for this
					// run's pod is the evidence, as with --verify pods.
					c.Verified = VerifiedPod
				}
			}
			if c.Verified == "" && r.verifyExpired && c.Note == "" {
				c.Note = r.unverifiedNote(n.Name, ni)
			}
		}
	}
}

func (r *run) unverifiedNote(node string, ni nodeImages) string {
	switch {
	case r.opts.Verify == VerifyCRI:
		for _, b := range r.blocks {
			if b.check && b.node == node {
				note := fmt.Sprintf("the CRI check pod did not run (%s): %s", b.Reason, b.Message)
				if b.Fix != "" {
					note += "; fix: " + b.Fix
				}
				return note
			}
		}
		return "the CRI check pod gave no answer"
	}
	return fmt.Sprintf("not listed in the node's status.images within --verify-timeout %s", r.opts.VerifyTimeout)
}

// allVerified reports whether every image on a target node is verified.
func (r *run) allVerified() bool {
	for _, n := range r.plan.Targets() {
		for _, c := range r.cells[n.Name] {
			if c.OnNode() && c.Verified == "" {
				return false
			}
		}
	}
	return true
}

// verify waits for the evidence after the pulls: node.status.images (the
// kubelet refreshes its image list every 30s and reports it with the node
// status), or a CRI check pod per node.
func (r *run) verify(ctx context.Context) error {
	if r.opts.Verify == VerifyCRI && r.opts.Mode == ModePod {
		check := map[string][]int{}
		for _, n := range r.plan.Targets() {
			for i, c := range r.cells[n.Name] {
				if c.OnNode() {
					check[n.Name] = append(check[n.Name], i)
				}
			}
		}
		if len(check) > 0 {
			if r.bar != nil {
				r.bar.Printf("verifying with the runtime of %d nodes (CRI ImageStatus)", len(check))
			}
			if err := r.createNodePods(ctx, check, true); err != nil {
				return err
			}
		}
		// Overwrite node-status evidence of present images with CRI's.
		for _, init := range r.initial {
			for i := range init {
				if init[i].Verified == VerifiedNodeStatus {
					init[i].Verified = ""
				}
			}
		}
	}
	vctx, cancel := context.WithTimeout(ctx, r.opts.VerifyTimeout)
	defer cancel()
	err := r.track(vctx, r.verifyDone)
	if ctx.Err() != nil {
		return fmt.Errorf("prepull interrupted: %w", ctx.Err())
	}
	if err != nil {
		r.verifyExpired = true
		r.recompute()
	}
	return nil
}

// verifyDone: everything verified, or (CRI) every check pod answered.
func (r *run) verifyDone() bool {
	if r.allVerified() {
		return true
	}
	if r.opts.Verify != VerifyCRI {
		return false
	}
	for _, w := range r.nodePods {
		if w.check && !w.streamDone && w.failReason == "" {
			return false
		}
	}
	return true
}
