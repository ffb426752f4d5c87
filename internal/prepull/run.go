package prepull

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/confrun/confrun/internal/prepull/nodepull"
	"github.com/confrun/confrun/internal/progress"
)

// Mode is how images get onto the nodes.
type Mode string

// Modes.
const (
	// ModePod: unprivileged DaemonSet, the kubelet pulls (default).
	ModePod Mode = "pod"
	// ModeNode: a privileged pod per node pulls through containerd.
	ModeNode Mode = "node"
)

// Verify is the source that confirms, after the pulls, what is on a node.
type Verify string

// Verification sources a user can ask for.
const (
	// VerifyNodeStatus waits for the images in node.status.images.
	VerifyNodeStatus Verify = "node-status"
	// VerifyCRI asks each node's runtime through a short privileged pod.
	VerifyCRI Verify = "cri"
	// VerifyPods trusts the kubelet's container statuses only.
	VerifyPods Verify = "pods"
)

// Options configure a Run.
type Options struct {
	Client kubernetes.Interface
	// Requests, when set, is reported in the report's stats.
	Requests *RequestCounter

	Images    []Image
	Selection Selection
	Mode      Mode
	// Namespace holds everything the run creates (created if missing).
	Namespace string
	// HelperImage is the multi-arch image with /confrun in it; when empty,
	// ResolveHelper is asked for one once the plan knows the nodes' arches
	// (and only if pods are needed).
	HelperImage   string
	ResolveHelper func(ctx context.Context, arches []string) (string, error)

	// Node mode: where each node's containerd listens, its namespace, and
	// how to find the digest of a target's manifest for a platform (nil:
	// the runtime picks its own platform).
	Sockets             Sockets
	ContainerdNamespace string
	Resolve             func(ctx context.Context, ref, platform string) (string, error)

	// Timeout bounds the pulls; VerifyTimeout the verification after them.
	Timeout time.Duration
	// UnschedulableTimeout is how long a node's pod may stay unable to
	// start for the same reason (unschedulable, an untolerated taint, the
	// DaemonSet controller failing to create it, the node not Ready)
	// before the node's images are given up; 0 is
	// DefaultUnschedulableTimeout, negative waits for Timeout. The reason
	// is named either way.
	UnschedulableTimeout time.Duration
	Verify               Verify
	VerifyTimeout        time.Duration
	// Keep leaves the namespace and pods in place (debugging).
	Keep bool

	// OnReport, when set, receives the final report of a run that was not
	// interrupted, before the cleanup (which then only adds its duration,
	// warnings and requests to the returned report).
	OnReport func(*Report) error

	// Progress receives the live view (nil: none); TTY selects the bar.
	Progress io.Writer
	TTY      bool

	// For tests.
	Now   func() time.Time
	RunID string
	// Logs opens a pod's log stream (default: the pod log API, following).
	Logs func(ctx context.Context, namespace, pod string) (io.ReadCloser, error)
}

func (o *Options) defaults() error {
	if o.Client == nil {
		return errors.New("prepull: no Kubernetes client")
	}
	if o.Mode == "" {
		o.Mode = ModePod
	}
	if o.Mode != ModePod && o.Mode != ModeNode {
		return fmt.Errorf("unknown mode %q: use pod or node", o.Mode)
	}
	if o.Verify == "" {
		o.Verify = VerifyNodeStatus
		if o.Mode == ModeNode {
			o.Verify = VerifyCRI
		}
	}
	switch o.Verify {
	case VerifyNodeStatus, VerifyCRI, VerifyPods:
	default:
		return fmt.Errorf("unknown verification %q: use node-status, cri or pods", o.Verify)
	}
	if o.HelperImage == "" && o.ResolveHelper == nil {
		return errors.New("no helper image: the pods need confrun's helper image")
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.ContainerdNamespace == "" {
		o.ContainerdNamespace = nodepull.DefaultNamespace
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.UnschedulableTimeout == 0 {
		o.UnschedulableTimeout = DefaultUnschedulableTimeout
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RunID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.RunID = hex.EncodeToString(b)
	}
	if o.Logs == nil {
		client := o.Client
		o.Logs = func(ctx context.Context, ns, pod string) (io.ReadCloser, error) {
			return client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Follow: true}).Stream(ctx)
		}
	}
	return nil
}

// privileged reports whether the run needs a privileged namespace.
func (o *Options) privileged() bool { return o.Mode == ModeNode || o.Verify == VerifyCRI }

// run is the state of one Run.
type run struct {
	opts   Options
	plan   *Plan
	report *Report
	// cells[node][i] is image i of plan.Images on node.
	cells map[string][]*ImageResult
	// initial holds the cells as they were before any pod ran.
	initial map[string][]ImageResult
	// dsGroups maps each DaemonSet's group label to its containers' plan
	// image indexes; dsNodes is the number of nodes they run on.
	dsGroups map[string][]int
	dsNodes  int
	// dsTargets are the nodes the DaemonSets are for, sorted.
	dsTargets []string
	// blocks are what keeps pods from starting (derived on every
	// recomputation); blockSince remembers since when, by unit;
	// nextGiveUp is the next moment a block is given up on; gaveUp the
	// cells given up; shownBlocks the block groups the progress showed.
	blocks      []*block
	blockSince  map[string]blockSeen
	nextGiveUp  time.Time
	gaveUp      map[*ImageResult]bool
	shownBlocks map[string]bool
	// seen is what the last recomputation found of the pods.
	seen *podsSeen
	// givenUp keeps, once the pulls are over, the cells given up then: a
	// pod that starts during the verification does not reopen them
	// (unless it brings the image).
	givenUp map[*ImageResult]ImageResult
	// givenUpBlocks are the blocks given up then (id -> Reason|Fix).
	givenUpBlocks map[string]string
	// daemonSets are the DaemonSets as read at --timeout, by name.
	daemonSets map[string]*appsv1.DaemonSet
	// nodePods are the node-mode and CRI-check pods, by pod name.
	nodePods map[string]*nodeWork
	bar      *progress.Bar
	printed  map[string]bool
	cache    *parseCache

	nodes  cache.Indexer
	pods   cache.Indexer
	events cache.Indexer
	notify chan struct{}
	lines  chan podLine
	// created reports whether this run created or reused the namespace.
	created bool
	// pullsTimedOut and verifyExpired record that --timeout and
	// --verify-timeout passed.
	pullsTimedOut, verifyExpired bool
	// runCtx ends when Run returns: log readers stop with it.
	runCtx context.Context
	wg     sync.WaitGroup
}

// nodeWork is one node-mode (or CRI check) pod and what it reported.
type nodeWork struct {
	pod   string
	node  string
	check bool
	// images maps the pod's image index to the plan's.
	images  []int
	results map[int]nodeResult
	// fallback holds the termination message's short results (no
	// messages when many failed): used only for images the log did not
	// report once the log has been read to its end.
	fallback map[int]nodeResult
	// streaming: its log is being read; streamDone: that read ended.
	streaming, streamDone bool
	// failure, when set, applies to every image without a result.
	failReason, failMessage string
}

type nodeResult struct {
	res nodepull.Result
	at  time.Time
}

// podLine is one line (or the end) of a node pod's log.
type podLine struct {
	pod  string
	res  *nodepull.Result
	at   time.Time
	done bool
}

// newRun is the state of a run with its options defaulted.
func newRun(opts Options) *run {
	return &run{opts: opts, notify: make(chan struct{}, 1), lines: make(chan podLine, 256),
		nodePods: map[string]*nodeWork{}, printed: map[string]bool{}, cache: newCache(),
		blockSince: map[string]blockSeen{}, gaveUp: map[*ImageResult]bool{}, shownBlocks: map[string]bool{}}
}

// Run places the images on the nodes and returns the report. The report
// is returned (partial) with an error when the run was interrupted; the
// objects it created are removed in every case unless Keep is set.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	r := newRun(opts)
	r.report = &Report{APIVersion: ReportAPIVersion, Kind: ReportKind, Mode: opts.Mode, Arch: opts.Selection.Arch,
		Verify: opts.Verify, Started: opts.Now().UTC()}
	if opts.Selection.Selector != nil && !opts.Selection.Selector.Empty() {
		r.report.NodeSelector = opts.Selection.Selector.String()
	}
	runCtx, stopInformers := context.WithCancel(ctx)
	r.runCtx = runCtx
	defer func() {
		stopInformers()
		r.wg.Wait()
	}()

	if err := r.startNodeInformer(runCtx); err != nil {
		return nil, err
	}
	if err := r.makePlan(); err != nil {
		return nil, err
	}
	err := r.pullAndVerify(ctx, runCtx)
	r.finish()
	if err == nil && opts.OnReport != nil {
		// The report is final before the cleanup: hand it over now, so
		// that it is on disk even if the cleanup takes long or is cut.
		err = opts.OnReport(r.report)
	}
	if !opts.Keep && r.created {
		// A fresh context: the run's may be cancelled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		t0 := time.Now()
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "removing what the run created (namespace %s)\n", opts.Namespace)
		}
		if cerr := CleanupRun(cctx, opts.Client, opts.Namespace, opts.RunID); cerr != nil {
			r.report.Warnings = append(r.report.Warnings, fmt.Sprintf("cleanup: %v (run `confrun prepull --cleanup`)", cerr))
		}
		cancel()
		r.report.Stats.CleanupSeconds = time.Since(t0).Seconds()
	} else if opts.Keep && r.created {
		r.report.Warnings = append(r.report.Warnings, fmt.Sprintf("--keep: namespace %s and its pods were left in place; remove them with `confrun prepull --cleanup`", opts.Namespace))
	}
	if opts.Requests != nil {
		r.report.Stats.APIRequests = opts.Requests.Total()
		r.report.Stats.APIRequestsByKind = opts.Requests.ByKind()
	}
	return r.report, err
}

func (r *run) finish() {
	r.report.Finished = r.opts.Now().UTC()
	r.report.Nodes = nil
	for _, n := range r.plan.Nodes {
		nr := NodeReport{PlanNode: n, Blocked: r.nodeBlocks(n.Name)}
		for _, c := range r.cells[n.Name] {
			nr.Images = append(nr.Images, *c)
		}
		r.report.Nodes = append(r.report.Nodes, nr)
	}
	r.report.sortNodes()
	r.report.summarize()
	if st := &r.report.Stats; st.LastPodReady != nil {
		if st.PullsDone != nil {
			st.ReadyToTrackedSeconds = seconds(st.PullsDone.Sub(*st.LastPodReady))
		}
		st.ReadyToReportSeconds = seconds(r.report.Finished.Sub(*st.LastPodReady))
	}
	if r.opts.Requests != nil {
		r.report.Stats.APIRequests = r.opts.Requests.Total()
		r.report.Stats.APIRequestsByKind = r.opts.Requests.ByKind()
	}
	if r.bar != nil {
		msg := "complete"
		if !r.report.Complete {
			msg = "incomplete"
		}
		r.bar.Finish(msg)
	}
}

func (r *run) kick() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *run) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { r.kick() },
		UpdateFunc: func(any, any) { r.kick() },
		DeleteFunc: func(any) { r.kick() },
	}
}

func (r *run) startNodeInformer(ctx context.Context) error {
	sel := labels.NewSelector()
	if r.opts.Selection.Selector != nil {
		if reqs, ok := r.opts.Selection.Selector.Requirements(); ok {
			sel = sel.Add(reqs...)
		}
	}
	tweak := func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }
	f := informers.NewSharedInformerFactoryWithOptions(r.opts.Client, 0, informers.WithTweakListOptions(tweak))
	inf := f.Core().V1().Nodes().Informer()
	if _, err := inf.AddEventHandler(r.handler()); err != nil {
		return fmt.Errorf("watching nodes: %w", err)
	}
	r.nodes = inf.GetIndexer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("listing nodes: %w", context.Cause(ctx))
	}
	return nil
}

func (r *run) nodeList() []corev1.Node {
	var out []corev1.Node
	for _, o := range r.nodes.List() {
		out = append(out, *o.(*corev1.Node))
	}
	return out
}

func (r *run) node(name string) *corev1.Node {
	o, ok, _ := r.nodes.GetByKey(name)
	if !ok {
		return nil
	}
	return o.(*corev1.Node)
}

// makePlan selects nodes and marks what is already there.
func (r *run) makePlan() error {
	plan, err := MakePlan(r.nodeList(), r.opts.Images, r.opts.Selection)
	if err != nil {
		return err
	}
	r.plan = plan
	r.report.Images = plan.Images
	r.cells = map[string][]*ImageResult{}
	r.initial = map[string][]ImageResult{}
	for _, n := range plan.Nodes {
		if n.Skipped != "" {
			continue
		}
		node := r.node(n.Name)
		ni := r.cache.nodeImages(node)
		cells := make([]*ImageResult, len(plan.Images))
		for i, im := range plan.Images {
			c := &ImageResult{Target: im.Target, Status: StatusPending}
			switch {
			case !n.Ready:
				c.Status = StatusNodeNotReady
				c.Note = "the node's Ready condition is not True"
			default:
				if size, ok := r.findOnNode(ni, i, ""); ok {
					c.Status, c.SizeBytes, c.Verified = StatusPresent, size, VerifiedNodeStatus
				}
			}
			cells[i] = c
		}
		r.cells[n.Name] = cells
		init := make([]ImageResult, len(cells))
		for i, c := range cells {
			init[i] = *c
		}
		r.initial[n.Name] = init
	}
	return nil
}

// findOnNode looks plan image i up in a node's status: in node mode
// under every name it must have.
func (r *run) findOnNode(ni nodeImages, i int, imageRef string) (int64, bool) {
	if r.opts.Mode == ModeNode {
		return ni.findAll(r.cache.imageNames(r.plan.Images, true)[i])
	}
	return ni.find(r.cache.imageNames(r.plan.Images, false)[i], imageRef)
}

// todo returns, per target node, the indexes of the images still to pull.
func (r *run) todo() map[string][]int {
	out := map[string][]int{}
	for _, n := range r.plan.Targets() {
		for i, c := range r.cells[n.Name] {
			if c.Status == StatusPending {
				out[n.Name] = append(out[n.Name], i)
			}
		}
	}
	return out
}

func (r *run) pullAndVerify(ctx, runCtx context.Context) error {
	todo := r.todo()
	total := 0
	for _, n := range r.plan.Targets() {
		total += len(r.cells[n.Name])
	}
	if r.opts.Progress != nil {
		r.bar = progress.New(r.opts.Progress, "prepull", total, progress.Options{TTY: r.opts.TTY, Now: r.opts.Now})
		r.bar.Printf("prepull: %d images x %d nodes (%s mode), %d to pull on %d nodes", len(r.plan.Images), len(r.plan.Targets()),
			r.opts.Mode, countAll(todo), len(todo))
		for _, n := range r.plan.Nodes {
			switch {
			case n.Skipped != "":
				r.bar.Printf("  %s: skipped, %s", n.Name, n.Skipped)
			case !n.Ready:
				r.bar.Printf("  %s: not Ready, nothing will be pulled there", n.Name)
			}
		}
	}
	needPods := len(todo) > 0 || (r.opts.Verify == VerifyCRI && len(r.plan.Targets()) > 0)
	if needPods {
		if err := r.helperImage(ctx); err != nil {
			return err
		}
		if err := r.ensureNamespace(ctx); err != nil {
			return err
		}
		if err := r.startPodInformers(runCtx); err != nil {
			return err
		}
	}
	timedOut := false
	if len(todo) > 0 {
		if err := r.createWorkload(ctx, todo); err != nil {
			return err
		}
		pullCtx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		err := r.track(pullCtx, func() bool { return r.allDone() })
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("prepull interrupted: %w", ctx.Err())
		}
		timedOut = err != nil
	}
	r.endPulls(ctx, timedOut)
	pullsDone := r.opts.Now().UTC()
	r.report.Stats.PullsDone = &pullsDone
	if err := r.verify(ctx); err != nil {
		return err
	}
	verifyDone := r.opts.Now().UTC()
	r.report.Stats.VerifyDone = &verifyDone
	return nil
}

// helperImage settles the helper image for the target nodes' arches. In
// node mode the runtime, not the kubelet, picks the helper's platform, and
// an emulated node's runtime may be another arch than the node's label:
// this machine's arch is added for that case.
func (r *run) helperImage(ctx context.Context) error {
	if r.opts.HelperImage != "" {
		return nil
	}
	var arches []string
	for _, n := range r.plan.Targets() {
		if !slices.Contains(arches, n.Arch) {
			arches = append(arches, n.Arch)
		}
	}
	if r.opts.Mode == ModeNode || r.opts.Verify == VerifyCRI {
		if !slices.Contains(arches, runtime.GOARCH) {
			arches = append(arches, runtime.GOARCH)
		}
	}
	img, err := r.opts.ResolveHelper(ctx, arches)
	if err != nil {
		return fmt.Errorf("helper image: %w", err)
	}
	r.opts.HelperImage = img
	r.report.HelperImage = img
	return nil
}

func countAll(m map[string][]int) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// endPulls closes the pulls; timedOut: --timeout passed, what is still
// pending is reported so (a node that never got its pod is named from
// its DaemonSet's status).
func (r *run) endPulls(ctx context.Context, timedOut bool) {
	// From here on no new give-ups: a node held up a minute before
	// --timeout is reported timed out, not given up during the
	// verification.
	r.keepGivenUp()
	if timedOut {
		r.pullsTimedOut = true
		r.readDaemonSets(ctx)
		r.recompute()
	}
}

// keepGivenUp makes the give-ups so far final, and the only ones: the
// pulls are over.
func (r *run) keepGivenUp() {
	r.givenUp = map[*ImageResult]ImageResult{}
	for c := range r.gaveUp {
		r.givenUp[c] = *c
	}
	r.givenUpBlocks = map[string]string{}
	for _, b := range r.blocks {
		if b.GaveUp {
			r.givenUpBlocks[b.id] = b.Reason + "|" + b.Fix
		}
	}
}

// readDaemonSets reads the run's DaemonSets once, at --timeout, when some
// node never got its pod: their status says whether the controller saw
// them at all.
func (r *run) readDaemonSets(ctx context.Context) {
	if r.opts.Mode != ModePod || len(r.dsGroups) == 0 {
		return
	}
	if r.seen == nil || len(r.seen.byUnit) == len(r.dsTargets)*len(r.dsGroups) {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := r.opts.Client.AppsV1().DaemonSets(r.opts.Namespace).List(lctx, metav1.ListOptions{LabelSelector: runSelector(r.opts.RunID)})
	if err != nil {
		if r.bar != nil {
			r.bar.Printf("warning: reading the DaemonSets: %v", err)
		}
		return
	}
	r.daemonSets = daemonSetsByName(list.Items)
}

// track recomputes the state on every change until done() or ctx ends;
// it also wakes up when a blocked node is due to be given up.
func (r *run) track(ctx context.Context, done func() bool) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		r.recompute()
		if done() {
			return nil
		}
		var wake <-chan time.Time
		if !r.nextGiveUp.IsZero() {
			d := max(r.nextGiveUp.Sub(r.opts.Now()), 0)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			wake = timer.C
		}
		select {
		case <-wake:
		case <-ctx.Done():
			r.recompute()
			if done() {
				return nil
			}
			return ctx.Err()
		case <-r.notify:
		case l := <-r.lines:
			r.storeLine(l)
			// Take what else is queued before recomputing.
			for more := true; more; {
				select {
				case l := <-r.lines:
					r.storeLine(l)
				default:
					more = false
				}
			}
		}
	}
}

func (r *run) allDone() bool {
	for _, n := range r.plan.Targets() {
		for _, c := range r.cells[n.Name] {
			if !c.Done() {
				return false
			}
		}
	}
	return true
}

// timeoutPending marks what is still pending at the timeout.
func (r *run) timeoutPending() {
	for _, n := range r.plan.Targets() {
		ready := false
		if node := r.node(n.Name); node != nil {
			ready = NodeReady(node)
		}
		for _, c := range r.cells[n.Name] {
			if c.Done() {
				continue
			}
			if !ready {
				c.Status, c.Note = StatusNodeNotReady, "the node went not Ready during the pulls"
			} else {
				c.Status, c.Note = StatusTimeout, fmt.Sprintf("not on the node after --timeout %s", r.opts.Timeout)
			}
		}
	}
}

// ensureNamespace creates the namespace, waiting out an earlier run's
// namespace that is still being deleted.
func (r *run) ensureNamespace(ctx context.Context) error {
	want := namespaceObject(r.opts.Namespace, r.opts.privileged())
	nsClient := r.opts.Client.CoreV1().Namespaces()
	for attempt := 0; ; attempt++ {
		got, err := nsClient.Get(ctx, r.opts.Namespace, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := nsClient.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating namespace %s: %w", r.opts.Namespace, err)
			}
			r.created = true
			return nil
		case err != nil:
			return fmt.Errorf("reading namespace %s: %w", r.opts.Namespace, err)
		case got.DeletionTimestamp != nil:
			if attempt > 0 {
				return fmt.Errorf("namespace %s is still being deleted; retry when it is gone", r.opts.Namespace)
			}
			if r.bar != nil {
				r.bar.Printf("waiting for namespace %s of an earlier run to be deleted", r.opts.Namespace)
			}
			if err := waitNamespacesGone(ctx, r.opts.Client, []string{r.opts.Namespace}); err != nil {
				return err
			}
			continue
		}
		// It exists: ours from an earlier run (reuse it, remove that
		// run's pods) or the user's (leave its labels alone).
		r.created = true
		if got.Labels[LabelManagedBy] == ManagedBy && got.Labels[LabelComponent] == Component {
			patched := got.DeepCopy()
			for k, v := range want.Labels {
				patched.Labels[k] = v
			}
			if _, err := nsClient.Update(ctx, patched, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("labelling namespace %s: %w", r.opts.Namespace, err)
			}
		} else if r.bar != nil && r.opts.privileged() {
			r.bar.Printf("namespace %s is not confrun's: if Pod Security admission rejects the privileged pods, label it pod-security.kubernetes.io/enforce=privileged or use another -n", r.opts.Namespace)
		}
		return deleteOwnWorkloads(ctx, r.opts.Client, r.opts.Namespace)
	}
}

func (r *run) startPodInformers(ctx context.Context) error {
	f := informers.NewSharedInformerFactoryWithOptions(r.opts.Client, 0, informers.WithNamespace(r.opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = runSelector(r.opts.RunID) }))
	pods := f.Core().V1().Pods().Informer()
	if _, err := pods.AddEventHandler(r.handler()); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	r.pods = pods.GetIndexer()
	// Events of every kind: the DaemonSet controller's FailedCreate events
	// are about the DaemonSets (confrun's namespace holds nothing else).
	ef := informers.NewSharedInformerFactoryWithOptions(r.opts.Client, 0, informers.WithNamespace(r.opts.Namespace))
	events := ef.Core().V1().Events().Informer()
	if _, err := events.AddEventHandler(r.handler()); err != nil {
		return fmt.Errorf("watching events: %w", err)
	}
	r.events = events.GetIndexer()
	f.Start(ctx.Done())
	ef.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced, events.HasSynced) {
		return fmt.Errorf("listing pods and events: %w", context.Cause(ctx))
	}
	return nil
}

// createWorkload creates the DaemonSet (pod mode) or the node pods.
func (r *run) createWorkload(ctx context.Context, todo map[string][]int) error {
	if r.opts.Mode == ModePod {
		// The images any node lacks, on the nodes that lack any.
		need := map[int]bool{}
		var nodes []string
		for node, idx := range todo {
			nodes = append(nodes, node)
			for _, i := range idx {
				need[i] = true
			}
		}
		var index []int
		for i := range r.plan.Images {
			if need[i] {
				index = append(index, i)
			}
		}
		// A DaemonSet per ImagesPerPod images, so the kubelet's events
		// about each pull are not dropped.
		r.dsGroups, r.dsNodes, r.dsTargets = map[string][]int{}, len(nodes), sortedStrings(nodes)
		for g := 0; g*ImagesPerPod < len(index); g++ {
			part := index[g*ImagesPerPod : min(len(index), (g+1)*ImagesPerPod)]
			var images []PlanImage
			for _, i := range part {
				images = append(images, r.plan.Images[i])
			}
			r.dsGroups[strconv.Itoa(g)] = part
			ds := DaemonSet(PodModeSpec{Namespace: r.opts.Namespace, RunID: r.opts.RunID, Group: g, HelperImage: r.opts.HelperImage,
				Images: images, Nodes: r.dsTargets, TolerateAll: r.opts.Selection.IncludeTainted})
			if _, err := r.opts.Client.AppsV1().DaemonSets(r.opts.Namespace).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
			}
		}
		return nil
	}
	return r.createNodePods(ctx, todo, false)
}

// createNodePods creates one node-mode pod per node (check: CRI check only).
func (r *run) createNodePods(ctx context.Context, todo map[string][]int, check bool) error {
	digests := r.resolveDigests(ctx, todo)
	for _, name := range sortedKeys(todo) {
		node := r.node(name)
		if node == nil {
			continue
		}
		if rt := node.Status.NodeInfo.ContainerRuntimeVersion; rt != "" && !strings.HasPrefix(rt, "containerd://") {
			for _, i := range todo[name] {
				c := r.cells[name][i]
				c.Status, c.Reason = StatusFailed, "UnsupportedRuntime"
				c.Message = fmt.Sprintf("node mode talks to containerd; this node runs %s (use pod mode)", rt)
			}
			continue
		}
		sock, source := r.opts.Sockets.Socket(ctx, r.opts.Client, node)
		platform := "linux/" + NodeArch(node)
		var imgs []nodepull.Image
		for _, i := range todo[name] {
			im := r.plan.Images[i]
			ni := nodepull.Image{Target: im.Target, Digest: digests[im.Target+"|"+platform]}
			if r.opts.Mode == ModeNode {
				ni.Upstreams = im.Upstreams
			}
			imgs = append(imgs, ni)
		}
		pod := NodePod(NodeModeSpec{Namespace: r.opts.Namespace, RunID: r.opts.RunID, HelperImage: r.opts.HelperImage,
			Node: name, Socket: sock, ContainerdNamespace: r.opts.ContainerdNamespace, Platform: platform,
			Images: imgs, CheckOnly: check})
		if r.bar != nil {
			r.bar.Printf("  %s: containerd socket %s (%s), platform %s", name, sock, source, platform)
		}
		r.nodePods[pod.Name] = &nodeWork{pod: pod.Name, node: name, check: check, images: todo[name], results: map[int]nodeResult{}}
		if _, err := r.opts.Client.CoreV1().Pods(r.opts.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pod %s for node %s: %w", pod.Name, name, err)
		}
	}
	return nil
}

// resolveDigests finds each target's manifest digest for each node
// platform (node mode), concurrently; failures leave the runtime to pick.
func (r *run) resolveDigests(ctx context.Context, todo map[string][]int) map[string]string {
	out := map[string]string{}
	if r.opts.Resolve == nil {
		return out
	}
	type key struct{ ref, platform string }
	want := map[key]bool{}
	for name, idx := range todo {
		node := r.node(name)
		if node == nil {
			continue
		}
		for _, i := range idx {
			want[key{r.plan.Images[i].Target, "linux/" + NodeArch(node)}] = true
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for k := range want {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := r.opts.Resolve(ctx, k.ref, k.platform)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if r.bar != nil {
					r.bar.Printf("warning: resolving %s for %s: %v (the node's runtime picks its own platform)", k.ref, k.platform, err)
				}
				return
			}
			out[k.ref+"|"+k.platform] = d
		}()
	}
	wg.Wait()
	return out
}

// progressUpdate moves the bar and prints each failure once.
func (r *run) progressUpdate() {
	if r.bar == nil {
		return
	}
	r.progressBlocks()
	done, failed, nodesDone, last := 0, 0, 0, ""
	targets := r.plan.Targets()
	for _, n := range targets {
		nodeDone := true
		for _, c := range r.cells[n.Name] {
			if !c.Done() {
				nodeDone = false
				continue
			}
			done++
			if c.Status == StatusFailed {
				failed++
			}
			key := n.Name + "|" + c.Target + "|" + c.Status
			if r.printed[key] || r.gaveUp[c] {
				// (A node given up on is one line, not one per image.)
				continue
			}
			r.printed[key] = true
			switch c.Status {
			case StatusFailed:
				r.bar.Printf("%s: %s failed (%s): %s", n.Name, c.Target, c.Reason, c.Message)
			case StatusPulled:
				last = fmt.Sprintf(", last: %s on %s", shortName(c.Target), n.Name)
			}
		}
		if nodeDone {
			nodesDone++
		}
	}
	// The bar counts node x image cells; the detail says nodes.
	r.bar.Set(done, fmt.Sprintf("images; nodes %d/%d done, %d failed%s", nodesDone, len(targets), failed, last))
}

func shortName(ref string) string { return PlanImage{Target: ref}.Name() }
