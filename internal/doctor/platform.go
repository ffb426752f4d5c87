package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/confrun/confrun/internal/nodecheck"
)

// probeContainer runs the multi-arch helper index (not the node's pinned
// image) and prints what it ran as: the platform the runtime picks out of
// a multi-arch image on this node, which is what an e2e pod gets for any
// image that was not placed on the node beforehand.
const probeContainer = "platform"

// platformProbe is the outcome of the probe container.
type platformProbe struct {
	// Index is the multi-arch reference the probe ran.
	Index string
	// Platform is what the binary reported (linux/amd64); empty when it
	// did not run.
	Platform string
	// Failure says why it did not run.
	Failure string
	// ExecFormat is set when the node could not execute what the runtime
	// picked.
	ExecFormat bool
	// NoMatch is set when the runtime found no image for its platform in
	// the index; Held are the platforms the index holds.
	NoMatch bool
	Held    []string
}

// readProbe reads the probe container's outcome from the final pod and
// its log.
func readProbe(ctx context.Context, c kubernetes.Interface, pod *corev1.Pod, index string, held []string) *platformProbe {
	p := &platformProbe{Index: index, Held: held}
	cs := containerStatus(pod, probeContainer)
	switch {
	case cs == nil:
		p.Failure = "the probe container reported no status"
		return p
	case cs.State.Waiting != nil:
		p.Failure = fmt.Sprintf("%s: %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		// containerd: "no match for platform in manifest"; CRI-O and
		// others: "no image found in manifest list for architecture".
		p.NoMatch = strings.Contains(p.Failure, "no match for platform") || strings.Contains(p.Failure, "no image found in manifest list")
		return p
	case cs.State.Terminated == nil:
		p.Failure = "the probe container had not finished within --timeout"
		return p
	}
	t := cs.State.Terminated
	if t.ExitCode != 0 {
		p.Failure = strings.TrimSpace(fmt.Sprintf("exited %d (%s) %s", t.ExitCode, t.Reason, t.Message))
		p.ExecFormat = strings.Contains(t.Message, "exec format error")
		return p
	}
	logs, err := c.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: probeContainer}).DoRaw(ctx)
	if err != nil {
		p.Failure = "reading its log: " + err.Error()
		return p
	}
	var v struct {
		Platform string `json:"platform"`
	}
	if i := strings.IndexByte(string(logs), '{'); i < 0 || json.Unmarshal(logs[i:], &v) != nil || v.Platform == "" {
		p.Failure = fmt.Sprintf("it printed no platform: %.200q", logs)
		p.ExecFormat = strings.Contains(string(logs), "exec format error")
		return p
	}
	p.Platform = v.Platform
	return p
}

// check weighs the probe against the node's architecture.
func (p *platformProbe) check(n *corev1.Node) nodecheck.Check {
	c := nodecheck.Check{Area: nodecheck.AreaRuntime, Name: "multi-arch images"}
	na, err := nodeArch(n)
	if err != nil {
		c.Status, c.Evidence = nodecheck.StatusFail, err.Error()
		return c
	}
	fix := fmt.Sprintf("place every image on the node as %s before the run (confrun prepull --mode node pulls the %s image by digest), or make the runtime pick %s (a runtime built for it)",
		na.Platform(), na.Platform(), na.Platform())
	// The binary reports GOOS/GOARCH: linux/arm for a linux/arm/v7 node.
	switch {
	case p.Platform == "linux/"+na.GOARCH:
		c.Status = nodecheck.StatusOK
		c.Evidence = fmt.Sprintf("a container given the multi-arch image %s ran as %s: the runtime picks the node's platform", p.Index, p.Platform)
	case p.Platform != "":
		c.Status = nodecheck.StatusWarn
		c.Evidence = fmt.Sprintf("a container given the multi-arch image %s ran as %s on this %s node: the runtime picks its own platform out of multi-arch images (the node runs it, e.g. under emulation), so an e2e image not placed beforehand is tested as %s",
			p.Index, p.Platform, na.Platform(), p.Platform)
		c.Fix = fix
	case p.NoMatch:
		c.Status = nodecheck.StatusWarn
		c.Evidence = fmt.Sprintf("the runtime found no image for its own platform in the multi-arch image %s, which holds %s: it does not pick %s out of an index, so an e2e image not placed beforehand fails to pull or is tested as another platform (%s)",
			p.Index, strings.Join(p.Held, ", "), na.Platform(), p.Failure)
		c.Fix = fix
	case p.ExecFormat:
		c.Status = nodecheck.StatusFail
		c.Evidence = fmt.Sprintf("a container given the multi-arch image %s could not start: %s: the runtime picked an image of another platform than %s", p.Index, p.Failure, na.Platform())
		c.Fix = fix
	default:
		c.Status = nodecheck.StatusWarn
		c.Evidence = fmt.Sprintf("which platform the runtime picks out of a multi-arch image is unknown: a container given %s did not report: %s", p.Index, p.Failure)
	}
	return c
}

func containerStatus(p *corev1.Pod, name string) *corev1.ContainerStatus {
	if p == nil {
		return nil
	}
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}
