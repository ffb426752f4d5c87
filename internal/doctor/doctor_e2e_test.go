//go:build e2e

package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/helperimage"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/labtest"
	"github.com/confrun/confrun/internal/nodecheck"
)

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestDoctorAgainstLab builds the helper image from this source tree, pushes
// it to the lab registry, runs doctor on both lab nodes and checks that each
// reports real findings of this sandbox: cgroup v1 (hybrid), the kernel
// config from /proc/config.gz, containerd 1.x, the cgroupfs driver on both
// sides, a clock compared with the apiserver.
func TestDoctorAgainstLab(t *testing.T) {
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	kube := cliutil.KubeFlags{Kubeconfig: lab.Kubeconfig}
	client, cfg, err := kube.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := SelectNodes(ctx, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	arches, err := NodeArches(nodes)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := helperimage.BuildAndPush(ctx, lab.Registry, helperimage.Options{Arches: arches, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helper image %s", ref)
	pinned, err := helperimage.Pin(ctx, ref, arches, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The map of the lab's mips64el images (all pushed as amd64+mips64le
	// indexes), plus one that the lab does not have.
	var targets []string
	for _, im := range lab.Images {
		if strings.Contains(im.Ref, "-mips64el:") {
			targets = append(targets, im.Ref)
		}
	}
	targets = append(targets, lab.Registry+"/cke/kubernetes/not-built-mips64el:1.0")
	m, mapPath := writeMap(t, targets...)
	reg, err := registry.New(registry.Options{Insecure: []string{lab.Registry}})
	if err != nil {
		t.Fatal(err)
	}

	res, err := Run(ctx, Options{Client: client, Namespace: "confrun-doctor-e2e", Helper: pinned, Timeout: 5 * time.Minute,
		ImageMap: m, ImageMapPath: mapPath, Registry: reg,
		FallbackAPIServer: cfg.Host, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("result:\n%s", out)

	mipsNodes := 0
	for _, n := range nodes {
		if n.Labels[archLabel] == "mips64le" {
			mipsNodes++
		}
	}
	byNode := map[string]*nodecheck.Report{}
	for i := range res.Nodes {
		byNode[res.Nodes[i].Node] = &res.Nodes[i]
	}
	for _, name := range lab.Nodes {
		r := byNode[name]
		if r == nil {
			t.Errorf("%s: not reported", name)
			continue
		}
		if r.Error != "" {
			t.Errorf("%s: %s", name, r.Error)
			continue
		}
		if r.KernelConfig != "/proc/config.gz" {
			t.Errorf("%s: kernel config from %q, want /proc/config.gz", name, r.KernelConfig)
		}
		if r.CgroupMode != nodecheck.CgroupV1 && r.CgroupMode != nodecheck.CgroupHybrid {
			t.Errorf("%s: cgroup mode %q, the lab runs cgroup v1", name, r.CgroupMode)
		}
		expect := func(area, check string, st nodecheck.Status, evidence string) {
			t.Helper()
			c, ok := r.Find(area, check)
			if !ok {
				t.Errorf("%s: no %s/%s check", name, area, check)
				return
			}
			if c.Status != st || !strings.Contains(c.Evidence, evidence) {
				t.Errorf("%s: %s/%s = %s %q, want %s with %q", name, area, check, c.Status, c.Evidence, st, evidence)
			}
		}
		// cgroup v1 with failCgroupV1: false on a v1.34 kubelet: a warning.
		expect(nodecheck.AreaCgroups, "cgroup version", nodecheck.StatusWarn, "cgroup v1 hierarchies")
		expect(nodecheck.AreaCgroups, "cpu controller", nodecheck.StatusOK, "mounted at /sys/fs/cgroup/cpu")
		expect(nodecheck.AreaRuntime, "container runtime", nodecheck.StatusWarn, "containerd://1.")
		expect(nodecheck.AreaRuntime, "cgroup driver", nodecheck.StatusOK, "kubelet cgroupDriver: cgroupfs")
		// Every node runs the checker of its own architecture (the
		// emulated lab-mips-1 too, by digest), while the runtime, an amd64
		// containerd everywhere, picks linux/amd64 out of an index.
		nodeArch := "amd64"
		if strings.HasPrefix(name, "lab-mips-") {
			nodeArch = "mips64le"
		}
		expect(nodecheck.AreaRuntime, "architecture", nodecheck.StatusOK, "the runtime ran the linux/"+nodeArch+" helper")
		if nodeArch == "mips64le" {
			expect(nodecheck.AreaRuntime, "multi-arch images", nodecheck.StatusWarn, "ran as linux/amd64 on this linux/mips64le node")
			expect(nodecheck.AreaRuntime, "mapped images", nodecheck.StatusFail, fmt.Sprintf("%d of the %d images", len(targets)-1, len(targets)))
			expect(nodecheck.AreaRuntime, "mapped images", nodecheck.StatusFail, "not-built-mips64el:1.0 (missing")
			expect(nodecheck.AreaNode, "image storage", nodecheck.StatusOK, "stored in the registry")
		} else {
			expect(nodecheck.AreaRuntime, "multi-arch images", nodecheck.StatusOK, "ran as linux/amd64")
			if mipsNodes > 0 {
				expect(nodecheck.AreaRuntime, "mapped images", nodecheck.StatusWarn, "this node is linux/amd64")
			} else {
				expect(nodecheck.AreaRuntime, "mapped images", nodecheck.StatusFail, "no node of the cluster is linux/mips64le")
			}
		}
		expect(nodecheck.AreaRuntime, "node Ready", nodecheck.StatusOK, "Ready=True")
		expect(nodecheck.AreaNode, "clock vs apiserver", nodecheck.StatusOK, "Date header")
		if r.CgroupDrivers == nil || r.CgroupDrivers.Kubelet != "cgroupfs" || !strings.Contains(r.CgroupDrivers.PodCgroup, "/crlab-"+strings.TrimPrefix(name, "lab-")+"/") {
			t.Errorf("%s: observed pod cgroup %+v, want cgroupfs under the lab's cgroupRoot", name, r.CgroupDrivers)
		}
	}
	pods, err := client.CoreV1().Pods("confrun-doctor-e2e").List(ctx, metav1.ListOptions{})
	if err == nil && len(pods.Items) != 0 {
		t.Errorf("%d doctor pods left behind", len(pods.Items))
	}
}
