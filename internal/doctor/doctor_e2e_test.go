//go:build e2e

package doctor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/helperimage"
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

	res, err := Run(ctx, Options{Client: client, Namespace: "confrun-doctor-e2e", Image: ref, Timeout: 5 * time.Minute,
		FallbackAPIServer: cfg.Host, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("result:\n%s", out)

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
		expect(nodecheck.AreaRuntime, "architecture", nodecheck.StatusOK, "linux/amd64")
		expect(nodecheck.AreaRuntime, "node Ready", nodecheck.StatusOK, "Ready=True")
		expect(nodecheck.AreaNode, "clock vs apiserver", nodecheck.StatusOK, "Date header")
		if r.CgroupDrivers == nil || r.CgroupDrivers.Kubelet != "cgroupfs" || !strings.Contains(r.CgroupDrivers.PodCgroup, "/crlab-node-") {
			t.Errorf("%s: observed pod cgroup %+v, want cgroupfs under the lab's cgroupRoot", name, r.CgroupDrivers)
		}
	}
	pods, err := client.CoreV1().Pods("confrun-doctor-e2e").List(ctx, metav1.ListOptions{})
	if err == nil && len(pods.Items) != 0 {
		t.Errorf("%d doctor pods left behind", len(pods.Items))
	}
}
