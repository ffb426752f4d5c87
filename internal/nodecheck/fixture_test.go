package nodecheck

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/confrun/confrun/internal/release"
)

// The tests build fake node filesystems: a map of path (relative to the
// root) to content, written below t.TempDir().

const testRelease = "6.1.0-test"

type tree map[string]string

func (tr tree) with(more tree) tree {
	out := tree{}
	for k, v := range tr {
		out[k] = v
	}
	for k, v := range more {
		if v == "\x00delete" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func writeTree(t *testing.T, tr tree) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range tr {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// allOptions lists every option of the Kubernetes, kube-proxy and the CNI
// sets (names only, no aliases).
func allOptions(cnis ...string) []string {
	seen := map[string]bool{}
	sets := []OptionSet{KubernetesOptionSet(), KubeProxyOptionSet()}
	for _, c := range cnis {
		s, _ := CNIOptionSet(c)
		sets = append(sets, s)
	}
	for _, s := range sets {
		for _, o := range s.Options {
			seen[o.Name] = true
		}
	}
	for _, s := range storageDrivers() {
		seen[s] = true
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// kconfig renders a kernel config: every known option =y, then the
// overrides ("m", "n" for "is not set", "" to leave it out).
func kconfig(overrides map[string]string, cnis ...string) string {
	var b strings.Builder
	b.WriteString("#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.1.0 Kernel Configuration\n#\nCONFIG_MODULES=y\n")
	for _, n := range allOptions(cnis...) {
		v, ok := overrides[n]
		if !ok {
			v = "y"
		}
		switch v {
		case "":
		case "n":
			fmt.Fprintf(&b, "# CONFIG_%s is not set\n", n)
		default:
			fmt.Fprintf(&b, "CONFIG_%s=%s\n", n, v)
		}
	}
	return b.String()
}

// v2Node is a cgroup v2 node with every controller available and enabled,
// a kernel config in /boot and an empty module tree.
func v2Node() tree {
	return tree{
		"proc/sys/kernel/osrelease": testRelease + "\n",
		"proc/sys/kernel/hostname":  "node-a\n",
		"proc/swaps":                "Filename\tType\tSize\tUsed\tPriority\n",
		"proc/cmdline":              "root=/dev/vda1 quiet\n",
		"proc/cgroups": "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" +
			"cpuset\t0\t1\t1\ncpu\t0\t1\t1\ncpuacct\t0\t1\t1\nblkio\t0\t1\t1\nmemory\t0\t1\t1\n" +
			"devices\t0\t1\t1\nfreezer\t0\t1\t1\nhugetlb\t0\t1\t1\npids\t0\t1\t1\n",
		"proc/1/mountinfo": "22 27 0:21 / /proc rw - proc proc rw\n" +
			"30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
		"proc/modules":                                "",
		"sys/fs/cgroup/cgroup.controllers":            "cpuset cpu io memory hugetlb pids\n",
		"sys/fs/cgroup/cgroup.subtree_control":        "cpuset cpu io memory hugetlb pids\n",
		"sys/fs/cgroup/cgroup.procs":                  "1\n",
		"sys/fs/cgroup/cpu.stat":                      "usage_usec 1\n",
		"sys/fs/cgroup/init.scope/cgroup.procs":       "1\n",
		"sys/fs/cgroup/init.scope/cgroup.freeze":      "0\n",
		"boot/config-" + testRelease:                  kconfig(nil),
		"lib/modules/" + testRelease + "/modules.dep": "",
		"etc/resolv.conf":                             "nameserver 10.0.0.10\nsearch example.test\n",
	}
}

// v1Node is a cgroup v1 node (cgroupfs hierarchies per controller).
func v1Node() tree {
	mi := "22 27 0:21 / /proc rw - proc proc rw\n" +
		"30 23 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
	cg := "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
	t := v2Node().with(tree{
		"sys/fs/cgroup/cgroup.controllers":       "\x00delete",
		"sys/fs/cgroup/cgroup.subtree_control":   "\x00delete",
		"sys/fs/cgroup/cgroup.procs":             "\x00delete",
		"sys/fs/cgroup/cpu.stat":                 "\x00delete",
		"sys/fs/cgroup/init.scope/cgroup.procs":  "\x00delete",
		"sys/fs/cgroup/init.scope/cgroup.freeze": "\x00delete",
	})
	for i, c := range []string{"cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "hugetlb", "blkio"} {
		mi += fmt.Sprintf("%d 30 0:%d / /sys/fs/cgroup/%s rw - cgroup cgroup rw,%s\n", 40+i, 40+i, c, c)
		cg += fmt.Sprintf("%s\t%d\t1\t1\n", c, i+1)
		t["sys/fs/cgroup/"+c+"/cgroup.procs"] = "1\n"
	}
	t["sys/fs/cgroup/cpu/cpu.shares"] = "1024\n"
	t["proc/1/mountinfo"] = mi
	t["proc/cgroups"] = cg
	return t
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(_ context.Context, h string) ([]string, error) {
	if a, ok := f[h]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func runTree(t *testing.T, tr tree, mod func(*Options)) *Report {
	t.Helper()
	o := Options{Root: writeTree(t, tr), Release: release.MustParse("v1.34"),
		Resolver: fakeResolver{"node-a": {"10.0.0.5"}}, Now: func() time.Time { return time.Unix(1700000000, 0) }}
	if mod != nil {
		mod(&o)
	}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

func mustFind(t *testing.T, r *Report, area, name string) Check {
	t.Helper()
	c, ok := r.Find(area, name)
	if !ok {
		var names []string
		for _, c := range r.Checks {
			names = append(names, c.Area+"/"+c.Name)
		}
		t.Fatalf("no check %s/%s; have %s", area, name, strings.Join(names, ", "))
	}
	return c
}

func wantStatus(t *testing.T, c Check, st Status, evidence ...string) {
	t.Helper()
	if c.Status != st {
		t.Errorf("%s/%s: status %s, want %s (evidence: %s; fix: %s)", c.Area, c.Name, c.Status, st, c.Evidence, c.Fix)
	}
	for _, e := range evidence {
		if !strings.Contains(c.Evidence, e) {
			t.Errorf("%s/%s: evidence %q lacks %q", c.Area, c.Name, c.Evidence, e)
		}
	}
}
