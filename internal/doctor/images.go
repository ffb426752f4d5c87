package doctor

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/verify"
	"github.com/confrun/confrun/internal/nodecheck"
)

// UnpackFactor estimates how much disk an image takes on a node beyond
// its stored (compressed) size: containerd keeps the compressed blobs in
// its content store and the unpacked layers in its snapshotter. Measured
// on the lab's nodes: 2.8 GiB of overlayfs snapshots for 1.1 GiB of
// content (the e2e images and the conformance image), a factor of 2.5; so
// an image needs about (1 + UnpackFactor) times its stored size.
const UnpackFactor = 2.5

// mappedImages is what the registries said about the images of the map,
// for the map's architecture.
type mappedImages struct {
	name   string // the map, for evidence
	arch   arch.Arch
	report *verify.Report
	// archNodes counts the nodes labelled with the map's architecture.
	archNodes int
}

// checkImageMap verifies the map's pulled images in their registries for
// the map's architecture, with their sizes. nodes are all the cluster's
// nodes, checked or not.
func (o *Options) checkImageMap(ctx context.Context, nodes []corev1.Node) (*mappedImages, error) {
	a := o.ImageMap.Arch()
	m := &mappedImages{name: o.ImageMapPath, arch: a}
	if m.name == "" {
		m.name = "the image map"
	}
	for i := range nodes {
		if na, err := nodeArch(&nodes[i]); err == nil && na.Platform() == a.Platform() {
			m.archNodes++
		}
	}
	o.logf("checking the %d images of %s for %s in their registries", len(o.ImageMap.Pulled()), m.name, a.Platform())
	rep, err := verify.Run(ctx, o.Registry, o.ImageMap.Entries(), a, verify.Options{Sizes: true})
	if err != nil {
		return nil, fmt.Errorf("checking the images of %s: %w", m.name, err)
	}
	m.report = rep
	return m, nil
}

// need is the disk the map's images still take on node n, of the map's
// architecture (estimated, see UnpackFactor), and how that was reckoned.
// Images the node status lists already take none, and neither do the
// layers they share with the others.
func (m *mappedImages) need(n *corev1.Node) (uint64, string) {
	names := map[string]bool{}
	for _, im := range n.Status.Images {
		for _, nm := range im.Names {
			names[nm] = true
		}
	}
	onNode := func(it verify.Item) bool {
		if names[it.Target] {
			return true
		}
		r, err := imagemap.ParseRef(it.Target)
		return err == nil && (names[r.Path()+"@"+it.ArchDigest] || names[r.Path()+"@"+it.Digest])
	}
	had := map[string]bool{} // blobs on the node, or counted already
	var missing []verify.Item
	ok, there := 0, 0
	for _, it := range m.report.Items {
		switch {
		case it.Status != registry.StatusOK:
			continue
		case onNode(it):
			there++
			for _, b := range it.Blobs {
				had[b.Digest] = true
			}
		default:
			missing = append(missing, it)
		}
		ok++
	}
	stored := uint64(0)
	for _, it := range missing {
		for _, b := range it.Blobs {
			if !had[b.Digest] {
				had[b.Digest] = true
				stored += uint64(b.Size)
			}
		}
	}
	disk := uint64(float64(stored) * (1 + UnpackFactor))
	why := fmt.Sprintf("the %d images of %s", ok, m.name)
	if there > 0 {
		why += fmt.Sprintf(", %d of them already on the node", there)
	}
	why += fmt.Sprintf(": %s more stored in the registry (each layer once), about %s on disk once unpacked (x%.1f)",
		nodecheck.BytesString(stored), nodecheck.BytesString(disk), 1+UnpackFactor)
	if len(n.Status.Images) >= statusImages {
		why += fmt.Sprintf("; the node status lists only %d images, so more may be there", len(n.Status.Images))
	}
	return disk, why
}

// statusImages is how many images the kubelet lists in the node status
// by default (nodeStatusMaxImages).
const statusImages = 50

// forNode reports whether node n runs the map's images.
func (m *mappedImages) forNode(n *corev1.Node) bool {
	a, err := nodeArch(n)
	return err == nil && a.Platform() == m.arch.Platform()
}

// check compares node n's architecture with the map's and, on nodes of
// that architecture, says whether every mapped image holds it.
func (m *mappedImages) check(n *corev1.Node) nodecheck.Check {
	c := nodecheck.Check{Area: nodecheck.AreaRuntime, Name: "mapped images"}
	na, err := nodeArch(n)
	if err != nil {
		c.Status, c.Evidence = nodecheck.StatusFail, err.Error()
		c.Fix = "the kubelet sets kubernetes.io/arch; check the node registration"
		return c
	}
	if na.Platform() != m.arch.Platform() {
		c.Evidence = fmt.Sprintf("%s is for %s, this node is %s", m.name, m.arch.Platform(), na.Platform())
		switch {
		case m.archNodes == 0:
			c.Status = nodecheck.StatusFail
			c.Evidence += fmt.Sprintf("; no node of the cluster is %s", m.arch.Platform())
			c.Fix = fmt.Sprintf("join a %s node, or make a map for the nodes you have (confrun images map --arch %s)", m.arch.Debian, na.Debian)
		case n.Spec.Unschedulable:
			c.Status = nodecheck.StatusOK
			c.Evidence += "; the node is cordoned, so no e2e pod lands here"
		default:
			c.Status = nodecheck.StatusWarn
			c.Evidence += "; confrun run pins its own pods to " + m.arch.Platform() + ", but the e2e suite's pods may land on any schedulable node and would get images of another architecture here"
			c.Fix = fmt.Sprintf("cordon the node for the run (kubectl cordon %s; make demo ARCH=%s does so), or run on a cluster of %s nodes", n.Name, m.arch.Debian, m.arch.Debian)
		}
		return c
	}
	rep := m.report
	ok := rep.Counts[registry.StatusOK]
	c.Evidence = fmt.Sprintf("node label kubernetes.io/arch=%s; %d of the %d images %s pulls hold %s in their registries", n.Labels[archLabel], ok, len(rep.Items), m.name, m.arch.Platform())
	if rep.NotPulled > 0 {
		c.Evidence += fmt.Sprintf(" (%d more are never pulled)", rep.NotPulled)
	}
	failed := rep.Failed()
	if len(failed) == 0 {
		c.Status = nodecheck.StatusOK
		return c
	}
	c.Status = nodecheck.StatusFail
	var names []string
	for i, it := range failed {
		if i == 5 {
			names = append(names, fmt.Sprintf("and %d more", len(failed)-5))
			break
		}
		names = append(names, fmt.Sprintf("%s (%s: %s)", it.Target, it.Status, it.Detail))
	}
	c.Evidence += ": " + strings.Join(names, "; ")
	c.Fix = fmt.Sprintf("build and push the missing images for %s (confrun images plan lists how), or correct the map; confrun images verify shows each one", m.arch.Debian)
	return c
}

// nodeArch is a node's architecture: its kubernetes.io/arch label, else
// the kubelet's reported architecture.
func nodeArch(n *corev1.Node) (arch.Arch, error) {
	name := n.Labels[archLabel]
	if name == "" {
		name = n.Status.NodeInfo.Architecture
	}
	a, err := arch.Parse(name)
	if err != nil {
		return arch.Arch{}, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return a, nil
}
