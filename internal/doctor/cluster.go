package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/nodecheck"
	"github.com/confrun/confrun/internal/release"
)

// kubeletConfig holds the fields of the kubelet's /configz doctor reads.
type kubeletConfig struct {
	CgroupDriver                string            `json:"cgroupDriver"`
	FailSwapOn                  *bool             `json:"failSwapOn"`
	FailCgroupV1                *bool             `json:"failCgroupV1"`
	ImageGCHighThresholdPercent *int32            `json:"imageGCHighThresholdPercent"`
	EvictionHard                map[string]string `json:"evictionHard"`
	MemorySwap                  struct {
		SwapBehavior string `json:"swapBehavior"`
	} `json:"memorySwap"`
}

// proxyFunc GETs a path of a node's kubelet through the apiserver.
type proxyFunc func(ctx context.Context, node, path string) ([]byte, error)

func apiProxy(c kubernetes.Interface) proxyFunc {
	return func(ctx context.Context, node, path string) ([]byte, error) {
		return c.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", path).DoRaw(ctx)
	}
}

func kubeletConfigz(ctx context.Context, proxy proxyFunc, node string) (*kubeletConfig, error) {
	raw, err := proxy(ctx, node, "configz")
	if err != nil {
		return nil, fmt.Errorf("reading kubelet configz of %s: %w", node, err)
	}
	var out struct {
		KubeletConfig kubeletConfig `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("parsing kubelet configz of %s: %w", node, err)
	}
	return &out.KubeletConfig, nil
}

// fsStats is the part of the kubelet's stats/summary doctor reads.
type fsStats struct {
	AvailableBytes *uint64 `json:"availableBytes"`
	CapacityBytes  *uint64 `json:"capacityBytes"`
}

func imageFsStats(ctx context.Context, proxy proxyFunc, node string) (*fsStats, error) {
	raw, err := proxy(ctx, node, "stats/summary")
	if err != nil {
		return nil, fmt.Errorf("reading kubelet stats of %s: %w", node, err)
	}
	var out struct {
		Node struct {
			Fs      *fsStats `json:"fs"`
			Runtime *struct {
				ImageFs *fsStats `json:"imageFs"`
			} `json:"runtime"`
		} `json:"node"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("parsing kubelet stats of %s: %w", node, err)
	}
	if out.Node.Runtime != nil && out.Node.Runtime.ImageFs != nil && out.Node.Runtime.ImageFs.CapacityBytes != nil {
		return out.Node.Runtime.ImageFs, nil
	}
	if out.Node.Fs != nil && out.Node.Fs.CapacityBytes != nil {
		return out.Node.Fs, nil
	}
	return nil, fmt.Errorf("kubelet stats of %s have no filesystem figures", node)
}

// clusterChecks are what the API knows about a node. They may also adjust
// the node's own findings with the kubelet's configuration.
func clusterChecks(ctx context.Context, proxy proxyFunc, n *corev1.Node, r *nodecheck.Report, rel release.Release, imageBytes uint64) []nodecheck.Check {
	var out []nodecheck.Check
	out = append(out, readyCheck(n), runtimeCheck(n), kubeletCheck(n, rel), archCheck(n, r))
	kc, kcErr := kubeletConfigz(ctx, proxy, n.Name)
	out = append(out, cgroupDriverCheck(kc, kcErr, r))
	if kc != nil {
		adjustForKubeletConfig(r, kc)
	}
	out = append(out, storageCheck(ctx, proxy, n, kc, imageBytes))
	return out
}

func readyCheck(n *corev1.Node) nodecheck.Check {
	c := nodecheck.Check{Area: nodecheck.AreaRuntime, Name: "node Ready", Status: nodecheck.StatusFail, Evidence: "no Ready condition in the node status"}
	for _, cond := range n.Status.Conditions {
		if cond.Type != corev1.NodeReady {
			continue
		}
		c.Evidence = fmt.Sprintf("Ready=%s (%s) %s", cond.Status, cond.Reason, cond.Message)
		if cond.Status == corev1.ConditionTrue {
			c.Status = nodecheck.StatusOK
		} else {
			c.Fix = "look at the kubelet's log on the node (journalctl -u kubelet) and at kubectl describe node " + n.Name
		}
	}
	return c
}

// runtimeCheck reads the runtime and its version. containerd before 2.0
// does not implement the CRI RuntimeConfig call, so the kubelet cannot ask
// it for its cgroup driver; kubelet v1.34 logs that such runtimes are losing
// support (cmd/kubelet/app/server.go getCgroupDriverFromCRI).
func runtimeCheck(n *corev1.Node) nodecheck.Check {
	v := n.Status.NodeInfo.ContainerRuntimeVersion
	c := nodecheck.Check{Area: nodecheck.AreaRuntime, Name: "container runtime", Status: nodecheck.StatusOK, Evidence: v + " (node status)"}
	if v == "" {
		c.Status, c.Evidence = nodecheck.StatusWarn, "the node status names no container runtime"
		return c
	}
	kind, ver, _ := strings.Cut(v, "://")
	if kind == "containerd" && strings.HasPrefix(strings.TrimPrefix(ver, "v"), "1.") {
		c.Status = nodecheck.StatusWarn
		c.Evidence += "; containerd 1.x lacks the CRI RuntimeConfig call: kubelet cannot learn the runtime's cgroup driver and counts the runtime as losing support"
		c.Fix = "move to containerd 2.0 or newer"
	}
	return c
}

func kubeletCheck(n *corev1.Node, server release.Release) nodecheck.Check {
	v := n.Status.NodeInfo.KubeletVersion
	c := nodecheck.Check{Area: nodecheck.AreaRuntime, Name: "kubelet version", Status: nodecheck.StatusOK, Evidence: "kubelet " + v + ", control plane " + server.String()}
	kr, err := release.Parse(v)
	if err != nil {
		c.Status, c.Evidence = nodecheck.StatusWarn, fmt.Sprintf("kubelet reports version %q, which does not parse (build it with the version ldflags)", v)
		c.Fix = "build kubelet with -X k8s.io/component-base/version.gitVersion=vX.Y.Z (and gitMajor/gitMinor)"
		return c
	}
	switch {
	case server.Less(kr):
		c.Status = nodecheck.StatusFail
		c.Evidence += ": the kubelet is newer than the apiserver, which the version skew policy forbids"
		c.Fix = "run a kubelet of the control plane's version"
	case kr.Major == server.Major && server.Minor-kr.Minor > 3:
		c.Status = nodecheck.StatusFail
		c.Evidence += ": more than three minor versions older than the apiserver"
		c.Fix = "upgrade the kubelet"
	case kr != server:
		c.Status = nodecheck.StatusWarn
		c.Evidence += ": a certified run wants the node on the release under test"
		c.Fix = "run the kubelet of " + server.String()
	}
	return c
}

// archCheck compares the node's arch label, the kubelet's reported arch
// and the checker the runtime picked from the multi-arch helper image.
func archCheck(n *corev1.Node, r *nodecheck.Report) nodecheck.Check {
	label, status := n.Labels[archLabel], n.Status.NodeInfo.Architecture
	c := nodecheck.Check{Area: nodecheck.AreaRuntime, Name: "architecture", Status: nodecheck.StatusOK,
		Evidence: fmt.Sprintf("label %s=%s, kubelet reports %s", archLabel, label, status)}
	if r.Arch != "" {
		c.Evidence += fmt.Sprintf(", the runtime ran the linux/%s helper (uname -m %s)", r.Arch, r.Machine)
	}
	norm := func(s string) string {
		if a, err := arch.Parse(s); err == nil {
			return a.GOARCH
		}
		return s
	}
	switch {
	case label == "":
		c.Status, c.Fix = nodecheck.StatusFail, "the kubelet sets kubernetes.io/arch; check the node registration"
	case norm(label) != norm(status):
		c.Status = nodecheck.StatusFail
		c.Evidence += ": the label and the kubelet disagree (kubelet rewrites the label to its own GOARCH on status updates)"
		c.Fix = "run a kubelet built for the node's architecture"
	case r.Arch != "" && r.Arch != norm(label):
		c.Status = nodecheck.StatusFail
		c.Evidence += ": images for this node's arch resolve to another platform"
		c.Fix = "make the runtime's platform match the kubelet's (containerd pulls its own platform from multi-arch images)"
	}
	return c
}

func cgroupDriverCheck(kc *kubeletConfig, kcErr error, r *nodecheck.Report) nodecheck.Check {
	c := nodecheck.Check{Area: nodecheck.AreaRuntime, Name: "cgroup driver"}
	d := r.CgroupDrivers
	switch {
	case kcErr != nil:
		c.Status, c.Evidence = nodecheck.StatusWarn, kcErr.Error()
		c.Fix = "allow nodes/proxy for your user, or compare kubelet's cgroupDriver with the runtime's by hand"
	case kc.CgroupDriver == "":
		c.Status, c.Evidence = nodecheck.StatusWarn, "kubelet configz has no cgroupDriver"
	case d == nil || d.Runtime == "":
		c.Status = nodecheck.StatusOK
		c.Evidence = "kubelet cgroupDriver: " + kc.CgroupDriver + " (configz); the runtime's could not be observed"
		c.Confidence = nodecheck.ConfidenceProbe
	case d.Runtime != kc.CgroupDriver:
		c.Status = nodecheck.StatusFail
		c.Evidence = fmt.Sprintf("kubelet cgroupDriver: %s (configz), but the runtime created %s with the %s driver", kc.CgroupDriver, d.Container, d.Runtime)
		c.Fix = fmt.Sprintf("set the same driver on both sides (containerd: SystemdCgroup = %v in the runc options)", kc.CgroupDriver == "systemd")
	default:
		c.Status = nodecheck.StatusOK
		c.Evidence = fmt.Sprintf("kubelet cgroupDriver: %s (configz); the runtime created %s with the same driver", kc.CgroupDriver, d.Container)
	}
	return c
}

// adjustForKubeletConfig weighs node findings against the kubelet's
// configuration: a cgroup v1 node whose kubelet has failCgroupV1: false
// runs, so the cgroup version check is a warning there.
func adjustForKubeletConfig(r *nodecheck.Report, kc *kubeletConfig) {
	for i := range r.Checks {
		c := &r.Checks[i]
		switch {
		case c.Area == nodecheck.AreaCgroups && c.Name == "cgroup version" && c.Status == nodecheck.StatusFail &&
			kc.FailCgroupV1 != nil && !*kc.FailCgroupV1:
			c.Status = nodecheck.StatusWarn
			c.Evidence += "; this kubelet has failCgroupV1: false (configz), so it runs"
		case c.Area == nodecheck.AreaNode && c.Name == "swap" && c.Status != nodecheck.StatusOK && kc.FailSwapOn != nil && !*kc.FailSwapOn:
			c.Evidence += fmt.Sprintf("; this kubelet has failSwapOn: false, swapBehavior %q (configz)", kc.MemorySwap.SwapBehavior)
		}
	}
}

func storageCheck(ctx context.Context, proxy proxyFunc, n *corev1.Node, kc *kubeletConfig, need uint64) nodecheck.Check {
	node := n.Name
	st, err := imageFsStats(ctx, proxy, node)
	if err != nil {
		return storageFromStatus(n, need, err)
	}
	gcHigh, evict := 0.0, 0.0
	if kc != nil {
		if kc.ImageGCHighThresholdPercent != nil {
			gcHigh = float64(*kc.ImageGCHighThresholdPercent)
		}
		evict = evictionPercent(kc.EvictionHard["imagefs.available"], *st.CapacityBytes)
	}
	avail := uint64(0)
	if st.AvailableBytes != nil {
		avail = *st.AvailableBytes
	}
	return nodecheck.StorageCheck("image storage", "the image filesystem of "+node+" (kubelet stats)", *st.CapacityBytes, avail, need, gcHigh, evict)
}

// evictionPercent turns an eviction threshold ("15%" or "2Gi") into a
// percentage of capacity; 0 when unset or unparseable.
func evictionPercent(v string, capacity uint64) float64 {
	if v == "" || capacity == 0 {
		return 0
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0
		}
		return f
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0
	}
	return 100 * float64(q.Value()) / float64(capacity)
}

// storageFromStatus is the image storage check without the kubelet's
// stats: the node status has the ephemeral storage capacity and what is
// allocatable to pods, not what is free.
func storageFromStatus(n *corev1.Node, need uint64, statsErr error) nodecheck.Check {
	c := nodecheck.Check{Area: nodecheck.AreaNode, Name: "image storage", Status: nodecheck.StatusWarn,
		Fix: "allow nodes/proxy for your user to let doctor read the kubelet's stats (free space)"}
	capQ, okC := n.Status.Capacity[corev1.ResourceEphemeralStorage]
	alloc, okA := n.Status.Allocatable[corev1.ResourceEphemeralStorage]
	if !okC || !okA {
		c.Evidence = statsErr.Error() + "; the node status has no ephemeral-storage either"
		return c
	}
	c.Evidence = fmt.Sprintf("%s; node status: ephemeral-storage capacity %s, allocatable %s (free space unknown)",
		statsErr, nodecheck.BytesString(uint64(capQ.Value())), nodecheck.BytesString(uint64(alloc.Value())))
	if need > 0 {
		c.Evidence += "; the images need " + nodecheck.BytesString(need)
		if need > uint64(alloc.Value()) {
			c.Status = nodecheck.StatusFail
			c.Fix = fmt.Sprintf("give the node's image filesystem at least %s more", nodecheck.BytesString(need-uint64(alloc.Value())))
		}
	}
	return c
}
