package prepull

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/confrun/confrun/internal/prepull/nodepull"
)

// Statuses of one image on one node in the report.
const (
	// StatusPending: not known yet (only in reports of a run that was cut short).
	StatusPending = "pending"
	// StatusPresent: the image was on the node before this run.
	StatusPresent = "present"
	// StatusPulled: this run put it there.
	StatusPulled = "pulled"
	// StatusFailed: it could not be pulled; Reason and Message say why.
	StatusFailed = "failed"
	// StatusTimeout: still not there when --timeout passed.
	StatusTimeout = "timeout"
	// StatusNodeNotReady: the node was not Ready, so nothing was pulled.
	StatusNodeNotReady = "node-not-ready"
)

// Verification sources.
const (
	// VerifiedNodeStatus: listed in the node's status.images (kubelet).
	VerifiedNodeStatus = "node-status"
	// VerifiedCRI: found by the runtime's CRI ImageStatus on the node.
	VerifiedCRI = "cri"
	// VerifiedPod: a container of the image ran on the node (kubelet), the
	// evidence when the other two are unavailable or not asked for.
	VerifiedPod = "pod"
)

// NodeStatusMaxImages is the kubelet's default --node-status-max-images:
// status.images lists only the largest 50 images of a node.
const NodeStatusMaxImages = 50

// ImageResult is the state of one image on one node.
type ImageResult struct {
	Target  string `json:"target"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// PulledAt is when the kubelet (or the node-mode helper) finished the pull.
	PulledAt    *time.Time `json:"pulledAt,omitempty"`
	PullSeconds float64    `json:"pullSeconds,omitempty"`
	SizeBytes   int64      `json:"sizeBytes,omitempty"`
	// ImageRef is the digest reference the node resolved the image to.
	ImageRef string `json:"imageRef,omitempty"`
	// Verified names the evidence that the image is on the node now; empty
	// when it could not be confirmed (see Note).
	Verified string `json:"verified,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Done reports whether the pull of this image on this node is over.
func (r *ImageResult) Done() bool {
	switch r.Status {
	case StatusPresent, StatusPulled, StatusFailed, StatusNodeNotReady, StatusTimeout:
		return true
	}
	return false
}

// OnNode reports whether the image is on the node.
func (r *ImageResult) OnNode() bool { return r.Status == StatusPresent || r.Status == StatusPulled }

// pull failure reasons of a waiting container (kubelet, images package).
var pullFailures = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true,
	"RegistryUnavailable": true, "SignatureValidationFailed": true, "ImageInspectError": true,
}

// containerPrefix names the image containers of a pod-mode pod: img-<index>.
const containerPrefix = "img-"

func containerName(i int) string { return containerPrefix + strconv.Itoa(i) }

func containerIndex(name string) (int, bool) {
	if !strings.HasPrefix(name, containerPrefix) {
		return 0, false
	}
	i, err := strconv.Atoi(name[len(containerPrefix):])
	return i, err == nil
}

// applyContainerStatus updates r from the kubelet's status of the container
// that references the image in pod mode.
func applyContainerStatus(r *ImageResult, cs *corev1.ContainerStatus) {
	if r.Status == StatusPresent || r.Status == StatusNodeNotReady {
		if cs.ImageID != "" && r.ImageRef == "" {
			r.ImageRef = cs.ImageID
		}
		return
	}
	ran := cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil
	switch {
	case ran || (cs.ImageID != "" && !isPullWait(cs)):
		// A container starts only once its image is on the node.
		if r.Status != StatusPulled {
			r.Status, r.Reason, r.Message = StatusPulled, "", ""
		}
		if cs.ImageID != "" {
			r.ImageRef = cs.ImageID
		}
	case isPullWait(cs):
		r.Status = StatusFailed
		reason, msg := pullFailure(cs.State.Waiting.Reason, cs.State.Waiting.Message)
		r.Reason = reason
		if msg != "" {
			r.Message = msg
		}
	}
}

// backOffRE is the kubelet's message during the pull back-off: it repeats
// the first failure's reason and message.
var backOffRE = regexp.MustCompile(`^Back-off pulling image "[^"]*": ([A-Za-z]+): (.*)$`)

// grpcPrefix wraps a runtime's message; the registry's words follow it.
var grpcPrefix = regexp.MustCompile(`^rpc error: code = \w+ desc = `)

// pullFailure turns a waiting reason and message into the failure's own
// reason and the registry's message (ErrImagePull, "...: not found"),
// also during the back-off that follows it.
func pullFailure(reason, msg string) (string, string) {
	if m := backOffRE.FindStringSubmatch(msg); m != nil {
		reason, msg = m[1], m[2]
	}
	return reason, grpcPrefix.ReplaceAllString(strings.TrimSpace(msg), "")
}

func isPullWait(cs *corev1.ContainerStatus) bool {
	return cs.State.Waiting != nil && pullFailures[cs.State.Waiting.Reason]
}

// The kubelet's image events (pkg/kubelet/images/image_manager.go).
var (
	pulledRE  = regexp.MustCompile(`^Successfully pulled image "([^"]*)" in ([^ ]+)(?: \(([^ ]+) including waiting\))?(?:\. Image size: (\d+) bytes)?`)
	presentRE = regexp.MustCompile(`^Container image "([^"]*)" already present on machine`)
	failedRE  = regexp.MustCompile(`^Failed to pull image "([^"]*)": (.*)`)
)

// eventKind is what a kubelet event says about an image.
type eventKind int

const (
	eventOther eventKind = iota
	eventPresent
	eventPulled
	eventFailed
)

// eventInfo is a kubelet event, parsed once.
type eventInfo struct {
	kind    eventKind
	seconds float64
	size    int64
	at      time.Time
	message string
}

// parseEvent reads one of the kubelet's image events.
func parseEvent(ev *corev1.Event) eventInfo {
	// client-go's event aggregator rewrites the 11th similar event of an
	// object within 10 minutes.
	msg := strings.TrimPrefix(strings.TrimSpace(ev.Message), "(combined from similar events): ")
	switch ev.Reason {
	case "Pulled":
		if presentRE.MatchString(msg) {
			return eventInfo{kind: eventPresent}
		}
		m := pulledRE.FindStringSubmatch(msg)
		if m == nil {
			return eventInfo{}
		}
		e := eventInfo{kind: eventPulled, at: eventTime(ev)}
		if d, err := time.ParseDuration(m[2]); err == nil {
			e.seconds = seconds(d)
		}
		if m[4] != "" {
			e.size, _ = strconv.ParseInt(m[4], 10, 64)
		}
		return e
	case "Failed":
		if m := failedRE.FindStringSubmatch(msg); m != nil {
			_, text := pullFailure("ErrImagePull", m[2])
			return eventInfo{kind: eventFailed, message: text}
		}
	}
	return eventInfo{}
}

// apply updates r from the event. It reports whether the event was about
// a pull.
func (e eventInfo) apply(r *ImageResult) bool {
	switch e.kind {
	case eventPresent:
		if r.Status != StatusPulled || r.PullSeconds == 0 {
			r.Status, r.Reason, r.Message = StatusPresent, "", ""
		}
	case eventPulled:
		r.Status, r.Reason, r.Message = StatusPulled, "", ""
		r.PullSeconds, r.SizeBytes = e.seconds, e.size
		if !e.at.IsZero() {
			at := e.at
			r.PulledAt = &at
		}
	case eventFailed:
		if r.OnNode() {
			return true
		}
		r.Status = StatusFailed
		if r.Reason == "" {
			r.Reason = "ErrImagePull"
		}
		r.Message = e.message
	default:
		return false
	}
	return true
}

// applyEvent updates r from one of the kubelet's events about the
// container of the image. It reports whether the event was about a pull.
func applyEvent(r *ImageResult, ev *corev1.Event) bool { return parseEvent(ev).apply(r) }

// seconds is d in seconds, to the millisecond (what the kubelet reports).
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond).Milliseconds()) / 1000
}

func eventTime(ev *corev1.Event) time.Time {
	switch {
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case !ev.FirstTimestamp.IsZero():
		return ev.FirstTimestamp.Time
	}
	return ev.CreationTimestamp.Time
}

// applyNodePull updates r from a node-mode helper's result.
func applyNodePull(r *ImageResult, res nodepull.Result, at time.Time) {
	if r.Status == StatusNodeNotReady {
		return
	}
	switch res.Status {
	case nodepull.StatusPresent:
		r.Status = StatusPresent
	case nodepull.StatusPulled:
		r.Status = StatusPulled
		r.PullSeconds = seconds(time.Duration(res.Seconds * float64(time.Second)))
		if !at.IsZero() {
			r.PulledAt = &at
		}
	case nodepull.StatusMissing:
		r.Status = StatusFailed
		r.Reason = "NotPresent"
	default:
		r.Status = StatusFailed
	}
	if res.Status == nodepull.StatusFailed || res.Status == nodepull.StatusMissing {
		if res.Reason != "" {
			r.Reason = res.Reason
		}
		r.Message = res.Message
	}
	if res.SizeBytes > 0 {
		r.SizeBytes = res.SizeBytes
	}
	if res.Digest != "" {
		r.ImageRef = res.Digest
	}
	if res.OK() {
		r.Verified = VerifiedCRI
	}
}

// nodeImages indexes a node's status.images.
type nodeImages struct {
	sizes     map[string]int64
	truncated bool
}

func indexNodeImages(n *corev1.Node) nodeImages {
	ni := nodeImages{sizes: map[string]int64{}, truncated: len(n.Status.Images) >= NodeStatusMaxImages}
	for _, im := range n.Status.Images {
		for _, name := range im.Names {
			ni.sizes[normalize(name)] = im.SizeBytes
		}
	}
	return ni
}

// cache keeps what a recomputation would otherwise parse again: parsed
// events and indexed node images, by object and resourceVersion, and each
// plan image's names. Objects without a resourceVersion are not cached.
type parseCache struct {
	events map[string]cachedEvent
	nodes  map[string]cachedNode
	names  map[bool][][]string
}

type cachedEvent struct {
	rv   string
	info eventInfo
}

type cachedNode struct {
	rv string
	ni nodeImages
}

func newCache() *parseCache {
	return &parseCache{events: map[string]cachedEvent{}, nodes: map[string]cachedNode{}, names: map[bool][][]string{}}
}

func (c *parseCache) event(ev *corev1.Event) eventInfo {
	key, rv := string(ev.UID), ev.ResourceVersion
	if key == "" {
		key = ev.Namespace + "/" + ev.Name
	}
	if e, ok := c.events[key]; ok && rv != "" && e.rv == rv {
		return e.info
	}
	info := parseEvent(ev)
	if rv != "" {
		c.events[key] = cachedEvent{rv: rv, info: info}
	}
	return info
}

func (c *parseCache) nodeImages(n *corev1.Node) nodeImages {
	if e, ok := c.nodes[n.Name]; ok && n.ResourceVersion != "" && e.rv == n.ResourceVersion {
		return e.ni
	}
	ni := indexNodeImages(n)
	if n.ResourceVersion != "" {
		c.nodes[n.Name] = cachedNode{rv: n.ResourceVersion, ni: ni}
	}
	return ni
}

// imageNames returns imageNames for every plan image, computed once.
func (c *parseCache) imageNames(images []PlanImage, withUpstreams bool) [][]string {
	if got, ok := c.names[withUpstreams]; ok && len(got) == len(images) {
		return got
	}
	out := make([][]string, len(images))
	for i, im := range images {
		out[i] = imageNames(im, withUpstreams)
	}
	c.names[withUpstreams] = out
	return out
}

// find looks an image up by any of its names or by its digest reference.
func (ni nodeImages) find(names []string, imageRef string) (int64, bool) {
	for _, n := range names {
		if s, ok := ni.sizes[n]; ok {
			return s, true
		}
	}
	if strings.Contains(imageRef, "@sha256:") {
		if s, ok := ni.sizes[normalize(imageRef)]; ok {
			return s, true
		}
	}
	return 0, false
}

// findAll reports whether every name is listed (node mode needs the
// upstream names too).
func (ni nodeImages) findAll(names []string) (int64, bool) {
	var size int64
	for _, n := range names {
		s, ok := ni.sizes[n]
		if !ok {
			return 0, false
		}
		size = s
	}
	return size, len(names) > 0
}
