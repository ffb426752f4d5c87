package nodecheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confrun/confrun/internal/release"
)

func TestHealthyV2NodeHasNoFailures(t *testing.T) {
	r := runTree(t, v2Node(), nil)
	for _, c := range r.Checks {
		if c.Status != StatusOK {
			t.Errorf("%s/%s: %s: %s (fix: %s)", c.Area, c.Name, c.Status, c.Evidence, c.Fix)
		}
	}
	if r.Failed() {
		t.Error("healthy node reported as failed")
	}
	if r.KernelConfig != "/boot/config-"+testRelease || r.CgroupMode != CgroupV2 || r.Node != "node-a" || r.KernelRelease != testRelease {
		t.Errorf("report header: config %q, cgroup %q, node %q, release %q", r.KernelConfig, r.CgroupMode, r.Node, r.KernelRelease)
	}
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_CPUSETS"), StatusOK, "CONFIG_CPUSETS=y in /boot/config-"+testRelease)
	// v1-only options are not checked on a v2 node, v2-only ones are.
	if _, ok := r.Find(AreaKernel, "CONFIG_CGROUP_FREEZER"); ok {
		t.Error("the v1-only CONFIG_CGROUP_FREEZER was checked on a cgroup v2 node")
	}
	mustFind(t, r, AreaKernel, "CONFIG_CGROUP_BPF")
}

func TestConfigGzIsPreferredAndGunzipped(t *testing.T) {
	tr := v2Node().with(tree{
		"proc/config.gz": gz(t, kconfig(map[string]string{"CPUSETS": "n"})),
	})
	r := runTree(t, tr, nil)
	if r.KernelConfig != "/proc/config.gz" {
		t.Fatalf("config read from %q, want /proc/config.gz", r.KernelConfig)
	}
	// /boot's config has CPUSETS=y; the gzip one, which wins, does not.
	c := mustFind(t, r, AreaKernel, "CONFIG_CPUSETS")
	wantStatus(t, c, StatusFail, "CONFIG_CPUSETS is not set in /proc/config.gz")
	if !strings.Contains(c.Fix, "scripts/config --enable CPUSETS") || !strings.Contains(c.Fix, "SMP") {
		t.Errorf("fix %q should say how to enable CPUSETS and that it needs SMP", c.Fix)
	}
}

func TestModuleStates(t *testing.T) {
	mods := "lib/modules/" + testRelease
	cfg := kconfig(map[string]string{
		"NETFILTER_XT_MATCH_COMMENT":   "m", // loaded
		"NETFILTER_XT_TARGET_REDIRECT": "m", // present, not loaded: autoloaded on use
		"BRIDGE_NETFILTER":             "m", // present, not loaded, not autoloaded
		"OVERLAY_FS":                   "m", // not in the tree at all
		"NETFILTER_XT_MATCH_RECENT":    "m", // built in per modules.builtin
	})
	tr := v2Node().with(tree{
		"boot/config-" + testRelease: cfg,
		mods + "/modules.dep": "kernel/net/netfilter/xt_comment.ko.xz:\n" +
			"kernel/net/netfilter/xt_REDIRECT.ko.zst: kernel/net/netfilter/nf_nat.ko\n" +
			"kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko\n",
		mods + "/modules.builtin": "kernel/net/netfilter/xt_recent.ko\n",
		"proc/modules":            "xt_comment 16384 3 - Live 0x0000000000000000\n",
	})
	r := runTree(t, tr, nil)
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_NETFILTER_XT_MATCH_COMMENT"), StatusOK, "=m", "xt_comment loaded")
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_NETFILTER_XT_TARGET_REDIRECT"), StatusOK, "module present (/"+mods+"/kernel/net/netfilter/xt_REDIRECT.ko.zst), not loaded yet")
	bn := mustFind(t, r, AreaProxy, "CONFIG_BRIDGE_NETFILTER")
	wantStatus(t, bn, StatusWarn, "not loaded")
	if !strings.Contains(bn.Fix, "modprobe br_netfilter") {
		t.Errorf("br_netfilter fix %q should modprobe it", bn.Fix)
	}
	wantStatus(t, mustFind(t, r, AreaProxy, "CONFIG_NETFILTER_XT_MATCH_RECENT"), StatusOK, "built in")
	ov := mustFind(t, r, AreaKernel, "storage driver (OVERLAY_FS|AUFS_FS|BLK_DEV_DM)")
	// OVERLAY_FS=m without a module file is unusable; AUFS_FS and
	// BLK_DEV_DM are =y in the fixture, so the group is still satisfied.
	wantStatus(t, ov, StatusOK)
	if strings.Contains(ov.Evidence, "OVERLAY_FS") {
		t.Errorf("storage evidence %q counts an overlay module that is not there", ov.Evidence)
	}

	// The same config with the module file missing for a required option.
	tr2 := tr.with(tree{"boot/config-" + testRelease: kconfig(map[string]string{"NETFILTER_XT_MATCH_CONNTRACK": "m"})})
	r2 := runTree(t, tr2, nil)
	c := mustFind(t, r2, AreaProxy, "CONFIG_NETFILTER_XT_MATCH_CONNTRACK")
	wantStatus(t, c, StatusFail, "xt_conntrack.ko not in /"+mods)

	// And with no module tree at all.
	tr3 := tr2.with(tree{mods + "/modules.dep": "\x00delete", mods + "/modules.builtin": "\x00delete"})
	root := writeTree(t, tr3)
	if err := os.RemoveAll(filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	r3, err := Run(context.Background(), Options{Root: root, Resolver: fakeResolver{}, Release: release.MustParse("v1.34")})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, mustFind(t, r3, AreaProxy, "CONFIG_NETFILTER_XT_MATCH_CONNTRACK"), StatusFail, "no module tree /lib/modules/"+testRelease)
	wantStatus(t, mustFind(t, r3, AreaKernel, "kernel config"), StatusOK, "no module tree")
}

func TestMissingOptions(t *testing.T) {
	cfg := kconfig(map[string]string{"CGROUP_SCHED": "", "CPUSETS": "n", "SECCOMP_FILTER": "n", "NET_IPIP": "n"}, "calico")
	r := runTree(t, v2Node().with(tree{"boot/config-" + testRelease: cfg}), func(o *Options) { o.CNI = "calico" })
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_CGROUP_SCHED"), StatusFail, "CONFIG_CGROUP_SCHED absent from /boot/config-"+testRelease)
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_CPUSETS"), StatusFail, "is not set")
	// Optional in system-validators: a warning.
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_SECCOMP_FILTER"), StatusWarn)
	ipip := mustFind(t, r, AreaCNI, "CONFIG_NET_IPIP (calico)")
	wantStatus(t, ipip, StatusFail, "IP-in-IP")
	if !strings.Contains(ipip.Fix, "=y (or =m)") || !strings.Contains(ipip.Fix, "VXLAN") {
		t.Errorf("NET_IPIP fix %q should allow a module and mention the VXLAN alternative", ipip.Fix)
	}
	if !r.Failed() {
		t.Error("a node missing required options is not failed")
	}
}

func TestAliasSatisfiesOption(t *testing.T) {
	// Older kernels call the REDIRECT target IP_NF_TARGET_REDIRECT.
	cfg := kconfig(map[string]string{"NETFILTER_XT_TARGET_REDIRECT": ""}) + "CONFIG_IP_NF_TARGET_REDIRECT=y\n"
	r := runTree(t, v2Node().with(tree{"boot/config-" + testRelease: cfg}), nil)
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_NETFILTER_XT_TARGET_REDIRECT"), StatusOK, "CONFIG_IP_NF_TARGET_REDIRECT=y")
}

func TestKernelConfigFileOffline(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ps4.config")
	if err := os.WriteFile(file, []byte(kconfig(map[string]string{"CGROUP_SCHED": "", "CPUSETS": "n", "VXLAN": "m"}, "flannel")), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := CheckKernelConfigFile(file, "flannel")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"CONFIG_CGROUP_SCHED", "CONFIG_CPUSETS"} {
		c := mustFind(t, r, AreaKernel, name)
		wantStatus(t, c, StatusFail)
		if !strings.Contains(c.Fix, "set "+name+"=y") {
			t.Errorf("%s: fix %q does not say to set it", name, c.Fix)
		}
	}
	// A module cannot be verified offline, but =m is a valid answer.
	wantStatus(t, mustFind(t, r, AreaCNI, "CONFIG_VXLAN (flannel)"), StatusOK, "not verifiable offline")
	wantStatus(t, mustFind(t, r, AreaKernel, "kernel version"), StatusOK, "6.1.0")
	if r.KernelRelease != "6.1.0" {
		t.Errorf("kernel release from the header: %q", r.KernelRelease)
	}
}

func TestKernelConfigFileOfflineWeighsCgroupVersions(t *testing.T) {
	write := func(over map[string]string) *Report {
		file := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(file, []byte(kconfig(over)), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := CheckKernelConfigFile(file, "")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// v1-only options missing: the config still supports cgroup v2.
	r := write(map[string]string{"CGROUP_FREEZER": "n", "CGROUP_DEVICE": "n"})
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_CGROUP_FREEZER"), StatusWarn, "cgroup v2, the recommended mode")
	// The v2-only CGROUP_BPF missing too: neither version works.
	r = write(map[string]string{"CGROUP_FREEZER": "n", "CGROUP_BPF": "n"})
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_CGROUP_FREEZER"), StatusFail, "neither cgroup version")
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_CGROUP_BPF"), StatusFail)
	// Only CGROUP_BPF missing: v1 still works but is deprecated.
	r = write(map[string]string{"CGROUP_BPF": "n"})
	wantStatus(t, mustFind(t, r, AreaKernel, "CONFIG_CGROUP_BPF"), StatusWarn, "failCgroupV1")
}

func TestCgroupV2AvailableButNotEnabled(t *testing.T) {
	tr := v2Node().with(tree{"sys/fs/cgroup/cgroup.subtree_control": "memory pids\n"})
	r := runTree(t, tr, nil)
	c := mustFind(t, r, AreaCgroups, "cpu controller")
	wantStatus(t, c, StatusWarn, "available", "not enabled for children", "the root is exempt")
	if c.Fix != "echo +cpu > /sys/fs/cgroup/cgroup.subtree_control" {
		t.Errorf("fix %q", c.Fix)
	}
	wantStatus(t, mustFind(t, r, AreaCgroups, "memory controller"), StatusOK)
}

func TestCgroupV2ProcessesInRootBlockEnabling(t *testing.T) {
	// The mount shows a non-root cgroup (cgroup.type exists), as inside a
	// container's cgroup namespace, with processes in it.
	tr := v2Node().with(tree{
		"sys/fs/cgroup/cgroup.type":            "domain\n",
		"sys/fs/cgroup/cgroup.subtree_control": "",
		"sys/fs/cgroup/cgroup.procs":           "1\n57\n",
	})
	r := runTree(t, tr, nil)
	c := mustFind(t, r, AreaCgroups, "cpu controller")
	wantStatus(t, c, StatusFail, "processes in the root cgroup block enabling", "2 processes")
	if !strings.Contains(c.Fix, "mkdir /sys/fs/cgroup/init") || !strings.Contains(c.Fix, "echo +cpu > /sys/fs/cgroup/cgroup.subtree_control") {
		t.Errorf("fix %q should move the processes then enable cpu", c.Fix)
	}
	wantStatus(t, mustFind(t, r, AreaCgroups, "hugetlb controller"), StatusWarn, "processes in the root cgroup")
}

func TestCgroupV2ControllerNotCompiledOrBoundToV1(t *testing.T) {
	tr := v2Node().with(tree{
		"sys/fs/cgroup/cgroup.controllers":     "cpu io memory hugetlb\n",
		"sys/fs/cgroup/cgroup.subtree_control": "cpu io memory hugetlb\n",
		// pids sits on a v1 hierarchy, cpuset is not compiled.
		"proc/cgroups": "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" +
			"cpu\t0\t1\t1\nblkio\t0\t1\t1\nmemory\t0\t1\t1\nhugetlb\t0\t1\t1\npids\t3\t1\t1\n",
	})
	r := runTree(t, tr, nil)
	cs := mustFind(t, r, AreaCgroups, "cpuset controller")
	wantStatus(t, cs, StatusFail, "not compiled", "CONFIG_CPUSETS")
	if !strings.Contains(cs.Fix, "CONFIG_CPUSETS=y") {
		t.Errorf("cpuset fix %q", cs.Fix)
	}
	wantStatus(t, mustFind(t, r, AreaCgroups, "pids controller"), StatusFail, "bound to a cgroup v1 hierarchy")
}

func TestCgroupV2KubepodsLacksControllers(t *testing.T) {
	tr := v2Node().with(tree{"sys/fs/cgroup/kubepods/cgroup.controllers": "memory pids\n"})
	r := runTree(t, tr, nil)
	wantStatus(t, mustFind(t, r, AreaCgroups, "pod cgroup kubepods"), StatusFail, "lacks cpu, cpuset")
}

func TestCgroupV1(t *testing.T) {
	tr := v1Node()
	// pids compiled and enabled but not mounted; memory disabled at boot
	// (so not mountable); hugetlb bound to an extra cgroup2 mount (a hybrid
	// layout).
	tr["proc/1/mountinfo"] = strings.Join(filterLines(tr["proc/1/mountinfo"], "/sys/fs/cgroup/pids ", "/sys/fs/cgroup/hugetlb ", "/sys/fs/cgroup/memory "), "") +
		"60 30 0:60 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
	tr["sys/fs/cgroup/unified/cgroup.controllers"] = "hugetlb\n"
	tr["proc/cgroups"] = strings.Replace(strings.Replace(tr["proc/cgroups"], "memory\t6\t1\t1", "memory\t6\t1\t0", 1), "hugetlb\t8\t1\t1", "hugetlb\t0\t1\t1", 1)
	tr["proc/cmdline"] = "root=/dev/vda cgroup_disable=memory\n"
	r := runTree(t, tr, nil)
	if r.CgroupMode != CgroupHybrid {
		t.Errorf("mode %q, want hybrid", r.CgroupMode)
	}
	wantStatus(t, mustFind(t, r, AreaCgroups, "cgroup version"), StatusWarn, "cgroup2 also mounted at /sys/fs/cgroup/unified with controllers [hugetlb]")
	wantStatus(t, mustFind(t, r, AreaCgroups, "cpu controller"), StatusOK, "mounted at /sys/fs/cgroup/cpu")
	wantStatus(t, mustFind(t, r, AreaCgroups, "pids controller"), StatusFail, "not mounted")
	mem := mustFind(t, r, AreaCgroups, "memory controller")
	wantStatus(t, mem, StatusFail, "disabled", "cgroup_disable=memory")
	wantStatus(t, mustFind(t, r, AreaCgroups, "hugetlb controller"), StatusWarn, "bound to the cgroup2 hierarchy")
	// On v1 the v1-only kernel options are checked, the v2-only ones not.
	mustFind(t, r, AreaKernel, "CONFIG_CGROUP_FREEZER")
	if _, ok := r.Find(AreaKernel, "CONFIG_CGROUP_BPF"); ok {
		t.Error("the v2-only CONFIG_CGROUP_BPF was checked on a cgroup v1 node")
	}
}

func filterLines(s string, drop ...string) []string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		keep := true
		for _, d := range drop {
			if strings.Contains(l, d) {
				keep = false
			}
		}
		if keep {
			out = append(out, l)
		}
	}
	return out
}

func TestCgroupV1ReleasePolicy(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		want Status
	}{{"v1.34", StatusWarn}, {"v1.35", StatusFail}, {"v1.36", StatusFail}} {
		r := runTree(t, v1Node(), func(o *Options) { o.Release = release.MustParse(tc.rel) })
		c := mustFind(t, r, AreaCgroups, "cgroup version")
		wantStatus(t, c, tc.want)
		if tc.want == StatusFail && !strings.Contains(c.Fix, "failCgroupV1: false") {
			t.Errorf("%s: fix %q should name failCgroupV1", tc.rel, c.Fix)
		}
	}
}

func TestCgroupLayoutWithoutMountinfo(t *testing.T) {
	tr := v1Node().with(tree{"proc/1/mountinfo": "\x00delete"})
	r := runTree(t, tr, nil)
	if r.CgroupMode != CgroupV1 {
		t.Errorf("mode %q from directories, want v1", r.CgroupMode)
	}
	wantStatus(t, mustFind(t, r, AreaCgroups, "cpu controller"), StatusOK, "no mountinfo")

	r = runTree(t, v2Node().with(tree{"proc/1/mountinfo": "\x00delete"}), nil)
	if r.CgroupMode != CgroupV2 {
		t.Errorf("mode %q from directories, want v2", r.CgroupMode)
	}
}

func TestNoKernelConfigFallsBackToProbing(t *testing.T) {
	tr := v1Node().with(tree{
		"boot/config-" + testRelease: "\x00delete",
		"proc/filesystems":           "nodev\tsysfs\nnodev\tproc\nnodev\tcgroup\n\text4\nnodev\toverlay\n",
		"proc/net/ip_tables_names":   "filter\nnat\n",
		"proc/net/ip_tables_matches": "comment\nconntrack\naddrtype\n",
		"proc/net/ip_tables_targets": "REDIRECT\nMASQUERADE\n",
		"proc/net/snmp":              "Ip: ...\n",
		"proc/self/ns/net":           "",
		"proc/self/ns/uts":           "",
		"proc/modules":               "br_netfilter 32768 0 - Live 0x0\n",
	})
	r := runTree(t, tr, nil)
	kc := mustFind(t, r, AreaKernel, "kernel config")
	wantStatus(t, kc, StatusWarn, "no kernel config found", "/proc/config.gz", "/boot/config-"+testRelease, "lower confidence")
	if kc.Confidence != ConfidenceProbe {
		t.Errorf("kernel config confidence %q", kc.Confidence)
	}
	for name, want := range map[string]Status{
		"CONFIG_NET_NS":                       StatusOK,   // /proc/self/ns/net
		"CONFIG_PID_NS":                       StatusWarn, // no /proc/self/ns/pid in the fixture
		"CONFIG_EXT4_FS":                      StatusOK,   // /proc/filesystems
		"CONFIG_NETFILTER_XT_MATCH_COMMENT":   StatusOK,   // ip_tables_matches
		"CONFIG_NETFILTER_XT_TARGET_REDIRECT": StatusOK,   // ip_tables_targets
		"CONFIG_CPUSETS":                      StatusOK,   // /proc/cgroups
		"CONFIG_FAIR_GROUP_SCHED":             StatusOK,   // cpu.shares
	} {
		c := mustFind(t, r, AreaKernel, name)
		wantStatus(t, c, want)
		if c.Confidence != ConfidenceProbe {
			t.Errorf("%s: confidence %q, want probe", name, c.Confidence)
		}
	}
	wantStatus(t, mustFind(t, r, AreaProxy, "CONFIG_BRIDGE_NETFILTER"), StatusWarn, "/proc/sys/net/bridge/bridge-nf-call-iptables")
	wantStatus(t, mustFind(t, r, AreaProxy, "CONFIG_NETFILTER_XT_MATCH_STATISTIC"), StatusWarn, "not loaded")
	wantStatus(t, mustFind(t, r, AreaProxy, "CONFIG_IP_NF_NAT"), StatusOK, `"nat" in /proc/net/ip_tables_names`)
	wantStatus(t, mustFind(t, r, AreaKernel, "kubernetes: options not probeable"), StatusWarn)
	if r.KernelConfig != "" {
		t.Errorf("KernelConfig %q without a config", r.KernelConfig)
	}
	if r.Failed() {
		t.Error("probing alone must not fail a node: absence cannot be proven")
	}
}

func TestSwapAndResolvConf(t *testing.T) {
	tr := v2Node().with(tree{
		"proc/swaps":      "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n",
		"etc/resolv.conf": "nameserver 127.0.0.53\noptions edns0\n",
	})
	r := runTree(t, tr, nil)
	wantStatus(t, mustFind(t, r, AreaNode, "swap"), StatusWarn, "/swapfile")
	rc := mustFind(t, r, AreaNode, "resolv.conf")
	wantStatus(t, rc, StatusWarn, "127.0.0.53 is a loopback address")
	if !strings.Contains(rc.Fix, "/run/systemd/resolve/resolv.conf") {
		t.Errorf("resolv.conf fix %q", rc.Fix)
	}

	many := "nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n"
	c := resolvConfCheck("/etc/resolv.conf", []byte(many), nil)
	wantStatus(t, c, StatusWarn, "4 nameservers")
	c = resolvConfCheck("/etc/resolv.conf", []byte("search a.test\n"), nil)
	wantStatus(t, c, StatusWarn, "no nameserver")
	c = resolvConfCheck("/etc/resolv.conf", nil, os.ErrNotExist)
	wantStatus(t, c, StatusWarn, "cannot read")
}

func TestHostnameResolution(t *testing.T) {
	r := runTree(t, v2Node(), func(o *Options) { o.Resolver = fakeResolver{} })
	c := mustFind(t, r, AreaNode, "hostname resolvable")
	wantStatus(t, c, StatusWarn, `"node-a" does not resolve`)
	if !strings.Contains(c.Fix, "/etc/hosts") {
		t.Errorf("fix %q", c.Fix)
	}
	r = runTree(t, v2Node(), nil)
	wantStatus(t, mustFind(t, r, AreaNode, "hostname resolvable"), StatusOK, "10.0.0.5")
}

func TestClockAgainstAPIServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // the Date header comes with any answer
	}))
	defer srv.Close()
	inSync := clockCheck(context.Background(), srv.Client(), srv.URL, time.Now, 5*time.Second)
	wantStatus(t, inSync, StatusOK, "Date header of "+srv.URL)
	behind := clockCheck(context.Background(), srv.Client(), srv.URL, func() time.Time { return time.Now().Add(-time.Hour) }, 5*time.Second)
	wantStatus(t, behind, StatusFail, "more than the 5s allowed")
	if !strings.Contains(behind.Evidence, "apiserver clock - node clock = 1h0m") && !strings.Contains(behind.Evidence, "apiserver clock - node clock = 59m") {
		t.Errorf("evidence %q should give the one-hour offset", behind.Evidence)
	}
	down := clockCheck(context.Background(), srv.Client(), "http://127.0.0.1:1", time.Now, time.Second)
	wantStatus(t, down, StatusWarn, "cannot reach")
}

func TestPodCgroupDrivers(t *testing.T) {
	uid := "0f8e5b4a-1111-2222-3333-444455556666"
	id := strings.Repeat("ab", 32)
	cases := []struct {
		name        string
		files       tree
		want        Status
		kubelet     string
		runtimeDrv  string
		wantEvident string
	}{
		{"cgroupfs", tree{"sys/fs/cgroup/pids/kubepods/besteffort/pod" + uid + "/" + id + "/cgroup.procs": "7\n"}, StatusOK, "cgroupfs", "cgroupfs", "same driver"},
		{"systemd", tree{"sys/fs/cgroup/pids/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id + ".scope/cgroup.procs": "7\n"}, StatusOK, "systemd", "systemd", "same driver"},
		{"mismatch", tree{"sys/fs/cgroup/pids/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/" + id + "/cgroup.procs": "7\n"}, StatusFail, "systemd", "cgroupfs", "with the cgroupfs driver"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runTree(t, v1Node().with(tc.files), func(o *Options) { o.PodUID = uid })
			wantStatus(t, mustFind(t, r, AreaRuntime, "cgroup driver (observed)"), tc.want, tc.wantEvident)
			if r.CgroupDrivers == nil || r.CgroupDrivers.Kubelet != tc.kubelet || r.CgroupDrivers.Runtime != tc.runtimeDrv {
				t.Errorf("drivers %+v, want kubelet %s runtime %s", r.CgroupDrivers, tc.kubelet, tc.runtimeDrv)
			}
		})
	}
	r := runTree(t, v1Node(), func(o *Options) { o.PodUID = uid })
	wantStatus(t, mustFind(t, r, AreaRuntime, "cgroup driver (observed)"), StatusWarn, "no cgroup of pod")
}

func TestStorageCheck(t *testing.T) {
	const gi = 1 << 30
	wantStatus(t, StorageCheck("image storage", "/var", 100*gi, 50*gi, 10*gi, 0, 0), StatusOK, "50.0 GiB free of 100.0 GiB", "room for images before GC: 35.0 GiB")
	wantStatus(t, StorageCheck("image storage", "/var", 100*gi, 10*gi, 0, 0, 0), StatusFail, "garbage-collected")
	wantStatus(t, StorageCheck("image storage", "/var", 100*gi, 5*gi, 6*gi, 0, 0), StatusFail)
	// A higher GC threshold lets the same disk pass; eviction still bites.
	wantStatus(t, StorageCheck("image storage", "/var", 100*gi, 20*gi, 0, 95, 10), StatusOK)
	wantStatus(t, StorageCheck("image storage", "/var", 100*gi, 20*gi, 15*gi, 99, 10), StatusFail)
}

func TestKernelVersion(t *testing.T) {
	wantStatus(t, kernelVersionCheck("5.15.0-91-generic", "x"), StatusOK)
	wantStatus(t, kernelVersionCheck("6.18.44-fc", "x"), StatusOK)
	c := kernelVersionCheck("4.19.0-ps4", "x")
	wantStatus(t, c, StatusFail, "4.19.0-ps4")
	if c.Fix == "" {
		t.Error("no fix for an old kernel")
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	if _, err := Run(context.Background(), Options{Root: "/nonexistent/root"}); err == nil {
		t.Error("a missing root was accepted")
	}
	if _, err := Run(context.Background(), Options{Root: t.TempDir(), CNI: "weave"}); err == nil || !strings.Contains(err.Error(), "calico") {
		t.Errorf("unknown CNI: %v", err)
	}
}

func TestModuleNames(t *testing.T) {
	for opt, mod := range map[string]string{
		"NETFILTER_XT_MATCH_COMMENT":   "xt_comment",
		"NETFILTER_XT_TARGET_REDIRECT": "xt_REDIRECT",
		"IP_NF_TARGET_REJECT":          "ipt_REJECT",
		"IP_NF_MATCH_RPFILTER":         "ipt_rpfilter",
		"IP_SET_HASH_NET":              "ip_set_hash_net",
		"BRIDGE_NETFILTER":             "br_netfilter",
		"NET_IPIP":                     "ipip",
		"CGROUP_SCHED":                 "",
	} {
		if got := moduleForOption(opt); got != mod {
			t.Errorf("module of %s: %q, want %q", opt, got, mod)
		}
	}
}

func TestEveryCNIListNamesItsSourceAndHasRequiredOptions(t *testing.T) {
	for _, n := range CNINames() {
		s, err := CNIOptionSet(n)
		if err != nil {
			t.Fatal(err)
		}
		req := 0
		for _, o := range s.Options {
			if o.Need == Required {
				req++
			}
			if o.Why == "" {
				t.Errorf("%s: %s has no reason", n, o.Name)
			}
		}
		if s.Source == "" || req == 0 || s.Area != AreaCNI {
			t.Errorf("%s: source %q, %d required options, area %q", n, s.Source, req, s.Area)
		}
	}
	k := KubernetesOptionSet()
	if len(k.Options) < 15 || !strings.Contains(k.Source, "system-validators") {
		t.Errorf("kubernetes set: %d options from %q", len(k.Options), k.Source)
	}
}
