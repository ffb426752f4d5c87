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

// applyEvent updates r from one of the kubelet's events about the
// container of the image. It reports whether the event was about a pull.
func applyEvent(r *ImageResult, ev *corev1.Event) bool {
	when := eventTime(ev)
	msg := strings.TrimSpace(ev.Message)
	switch {
	case ev.Reason == "Pulled" && presentRE.MatchString(msg):
		if r.Status != StatusPulled || r.PullSeconds == 0 {
			r.Status, r.Reason, r.Message = StatusPresent, "", ""
		}
		return true
	case ev.Reason == "Pulled":
		m := pulledRE.FindStringSubmatch(msg)
		if m == nil {
			return false
		}
		r.Status, r.Reason, r.Message = StatusPulled, "", ""
		if d, err := time.ParseDuration(m[2]); err == nil {
			r.PullSeconds = seconds(d)
		}
		if m[4] != "" {
			r.SizeBytes, _ = strconv.ParseInt(m[4], 10, 64)
		}
		if !when.IsZero() {
			r.PulledAt = &when
		}
		return true
	case ev.Reason == "Failed":
		m := failedRE.FindStringSubmatch(msg)
		if m == nil || r.OnNode() {
			return m != nil
		}
		r.Status = StatusFailed
		if r.Reason == "" {
			r.Reason = "ErrImagePull"
		}
		_, r.Message = pullFailure(r.Reason, m[2])
		return true
	}
	return false
}

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
