// Package prepull puts every image of an image map on every selected node
// of a cluster before a conformance run, tracks the pulls through watches,
// verifies what each node really holds, and writes prepull.json.
//
// Two modes. Pod mode (the default) needs no privilege: DaemonSets whose
// pods have one container per image (ImagesPerPod at most), imagePullPolicy
// IfNotPresent, each running confrun's own static helper copied from the
// helper image into an emptyDir (so images without a shell or with odd
// entrypoints work), under the restricted Pod Security profile. The kubelet pulls; confrun watches
// the pods, the kubelet's events and the nodes. Node mode (opt-in) runs a
// privileged pod per node that talks to the node's containerd (package
// nodepull): it pulls each image for the node's platform explicitly and
// names it under its upstream name too, for suites that reference
// registry.k8s.io/... and for nodes whose runtime cannot pick their platform.
package prepull

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/confrun/confrun/internal/prepull/nodepull"
)

// ErrNoNodes is returned (wrapped) when no node matches the selection.
var ErrNoNodes = errors.New("no node")

// Image is one entry of the image map: the upstream reference the e2e suite
// names and the target the cluster pulls (the arch build).
type Image struct {
	Upstream string `json:"upstream,omitempty"`
	Target   string `json:"target"`
}

// PlanImage is one image to place: a distinct target and every upstream
// name that maps to it.
type PlanImage struct {
	Target    string   `json:"target"`
	Upstreams []string `json:"upstreams,omitempty"`
}

// Name is a short display name (the last path element with its tag).
func (p PlanImage) Name() string {
	s := p.Target
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, '@'); i >= 0 && len(s) > i+19 {
		s = s[:i+19]
	}
	return s
}

// PlanNode is a node as the plan sees it.
type PlanNode struct {
	Name    string `json:"name"`
	Arch    string `json:"arch"`
	Ready   bool   `json:"ready"`
	Runtime string `json:"runtime,omitempty"`
	// Skipped says why the node is left out (cordoned, tainted); empty for
	// a selected node.
	Skipped string `json:"skipped,omitempty"`
}

// Selection chooses the nodes.
type Selection struct {
	// Arch is a GOARCH (kubernetes.io/arch); empty selects every arch.
	Arch string
	// Selector further restricts the nodes (label selector).
	Selector labels.Selector
	// IncludeTainted selects nodes with NoSchedule/NoExecute taints too
	// (the pods then tolerate every taint).
	IncludeTainted bool
}

// Plan is what a run will do: which images go to which nodes.
type Plan struct {
	Images []PlanImage
	// Nodes are all nodes that match the selection; Skipped ones and
	// not-ready ones get no pods.
	Nodes []PlanNode
}

// DedupImages groups images by target, in first-seen order, and drops
// entries without a target.
func DedupImages(images []Image) []PlanImage {
	var out []PlanImage
	at := map[string]int{}
	for _, im := range images {
		t := strings.TrimSpace(im.Target)
		if t == "" {
			continue
		}
		i, ok := at[t]
		if !ok {
			i = len(out)
			at[t] = i
			out = append(out, PlanImage{Target: t})
		}
		u := strings.TrimSpace(im.Upstream)
		if u != "" && u != t && !slices.Contains(out[i].Upstreams, u) {
			out[i].Upstreams = append(out[i].Upstreams, u)
		}
	}
	return out
}

// MakePlan selects nodes and images. It fails when no node matches.
func MakePlan(nodes []corev1.Node, images []Image, sel Selection) (*Plan, error) {
	p := &Plan{Images: DedupImages(images)}
	if len(p.Images) == 0 {
		return nil, fmt.Errorf("the image map has no image to pull")
	}
	var seen []string
	for i := range nodes {
		n := &nodes[i]
		arch := NodeArch(n)
		seen = append(seen, fmt.Sprintf("%s (%s)", n.Name, arch))
		if sel.Arch != "" && arch != sel.Arch {
			continue
		}
		if sel.Selector != nil && !sel.Selector.Matches(labels.Set(n.Labels)) {
			continue
		}
		pn := PlanNode{Name: n.Name, Arch: arch, Ready: NodeReady(n), Runtime: n.Status.NodeInfo.ContainerRuntimeVersion}
		if os := n.Labels[corev1.LabelOSStable]; os != "" && os != "linux" {
			pn.Skipped = "kubernetes.io/os=" + os + " (the conformance images are Linux images)"
		} else if n.Spec.Unschedulable {
			pn.Skipped = "cordoned (spec.unschedulable)"
		} else if t := blockingTaint(n); t != "" && !sel.IncludeTainted {
			pn.Skipped = "tainted " + t + " (pass --include-tainted to pull there too)"
		}
		p.Nodes = append(p.Nodes, pn)
	}
	sort.Slice(p.Nodes, func(i, j int) bool { return p.Nodes[i].Name < p.Nodes[j].Name })
	if len(p.Nodes) == 0 {
		sort.Strings(seen)
		what := "no node"
		if sel.Arch != "" {
			what += " with kubernetes.io/arch=" + sel.Arch
		}
		if sel.Selector != nil && !sel.Selector.Empty() {
			what += " matching " + sel.Selector.String()
		}
		return nil, fmt.Errorf("%w%s; the cluster has %s", ErrNoNodes, strings.TrimPrefix(what, "no node"), orNone(strings.Join(seen, ", ")))
	}
	return p, nil
}

func orNone(s string) string {
	if s == "" {
		return "no nodes"
	}
	return s
}

// Targets returns the nodes that get pods: selected and Ready.
func (p *Plan) Targets() []PlanNode {
	var out []PlanNode
	for _, n := range p.Nodes {
		if n.Skipped == "" && n.Ready {
			out = append(out, n)
		}
	}
	return out
}

// NodeArch is the node's kubernetes.io/arch label, or the kubelet's
// reported architecture.
func NodeArch(n *corev1.Node) string {
	if a := n.Labels[corev1.LabelArchStable]; a != "" {
		return a
	}
	return n.Status.NodeInfo.Architecture
}

// NodeReady reports the node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// blockingTaint returns the first taint that keeps ordinary pods off the
// node, as key=value:effect. The lifecycle taints of a not-ready node are
// not counted: readiness is reported separately.
func blockingTaint(n *corev1.Node) string {
	for _, t := range n.Spec.Taints {
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		switch t.Key {
		case corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeUnschedulable:
			continue
		}
		return t.ToString()
	}
	return ""
}

// imageNames returns every name an image should be found under on a node
// (normalized like the runtime stores them): the target, and in node mode
// the upstream names as well.
func imageNames(im PlanImage, withUpstreams bool) []string {
	names := []string{normalize(im.Target)}
	if withUpstreams {
		for _, u := range im.Upstreams {
			if n := normalize(u); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// normalize is nodepull.Normalize, keeping the input when it does not parse.
func normalize(ref string) string {
	if n, err := nodepull.Normalize(ref); err == nil {
		return n
	}
	return ref
}
