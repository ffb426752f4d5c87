package nodecheck

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	system "k8s.io/system-validators/validators"

	"github.com/confrun/confrun/internal/release"
)

// Cgroup modes.
const (
	CgroupV1     = "v1"
	CgroupV2     = "v2"
	CgroupHybrid = "hybrid"
)

// procCgroup is one line of /proc/cgroups.
type procCgroup struct {
	name      string
	hierarchy int
	enabled   bool
}

func readProcCgroups(h *host) []procCgroup {
	ls, err := h.lines("proc/cgroups")
	if err != nil {
		return nil
	}
	var out []procCgroup
	for _, l := range ls {
		if strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		hier, _ := strconv.Atoi(f[1])
		out = append(out, procCgroup{name: f[0], hierarchy: hier, enabled: f[3] != "0"})
	}
	return out
}

// cgroupMount is a cgroup filesystem mount.
type cgroupMount struct {
	dir         string   // mount point relative to the root
	v2          bool     // cgroup2
	controllers []string // v1: the controllers bound to this hierarchy
}

// cgroupLayout is how cgroups are set up on the node.
type cgroupLayout struct {
	mode string // CgroupV1, CgroupV2, CgroupHybrid, "" when none found
	// source says how the layout was found.
	source  string
	mounts  []cgroupMount
	v1      map[string]string // controller -> mount dir
	unified string            // cgroup2 mount dir, "" if none
	proc    map[string]procCgroup
}

// readMountinfo parses the cgroup mounts of a mountinfo file.
func readMountinfo(h *host, rel string) ([]cgroupMount, bool) {
	ls, err := h.lines(rel)
	if err != nil {
		return nil, false
	}
	return parseMountinfo(ls), true
}

// parseMountinfo returns the cgroup mounts among mountinfo lines.
func parseMountinfo(ls []string) []cgroupMount {
	var out []cgroupMount
	for _, l := range ls {
		pre, post, ok := strings.Cut(l, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		dir := strings.TrimPrefix(path.Clean(unescapeMount(f[4])), "/")
		switch g[0] {
		case "cgroup2":
			out = append(out, cgroupMount{dir: dir, v2: true})
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(g[2], ",") {
				switch {
				case o == "rw" || o == "ro" || strings.Contains(o, "="):
				case o == "xattr" || o == "noprefix" || o == "clone_children" || o == "cpuset_v2_mode" || o == "favordynmods":
				default:
					ctrls = append(ctrls, o)
				}
			}
			out = append(out, cgroupMount{dir: dir, controllers: ctrls})
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (h *host) cgroupLayout() cgroupLayout {
	l := cgroupLayout{v1: map[string]string{}, proc: map[string]procCgroup{}}
	for _, pc := range readProcCgroups(h) {
		l.proc[pc.name] = pc
	}
	// PID 1's mounts are the host's even when the checker runs in a pod
	// with the host's /proc mounted.
	for _, src := range []string{"proc/1/mountinfo", "proc/self/mountinfo"} {
		if ms, ok := readMountinfo(h, src); ok && len(ms) > 0 {
			l.mounts, l.source = ms, disp(src)
			break
		}
	}
	if l.source == "" {
		l.mounts, l.source = h.probeCgroupMounts(), "directories under /sys/fs/cgroup (no mountinfo)"
	}
	for _, m := range l.mounts {
		if m.v2 {
			if l.unified == "" || m.dir == "sys/fs/cgroup" {
				l.unified = m.dir
			}
			continue
		}
		for _, c := range m.controllers {
			if cur, ok := l.v1[c]; !ok || (!strings.HasPrefix(cur, "sys/fs/cgroup/") && strings.HasPrefix(m.dir, "sys/fs/cgroup/")) {
				l.v1[c] = m.dir
			}
		}
	}
	switch {
	case l.unified == "sys/fs/cgroup" || (l.unified != "" && len(l.v1) == 0):
		l.mode = CgroupV2
	case len(l.v1) > 0 && l.unified != "":
		l.mode = CgroupHybrid
	case len(l.v1) > 0:
		l.mode = CgroupV1
	}
	return l
}

// probeCgroupMounts guesses the mounts from the directory tree.
func (h *host) probeCgroupMounts() []cgroupMount {
	if h.exists("sys/fs/cgroup/cgroup.controllers") {
		return []cgroupMount{{dir: "sys/fs/cgroup", v2: true}}
	}
	var out []cgroupMount
	ents, _ := globRel(h, "sys/fs/cgroup/*/cgroup.procs")
	for _, e := range ents {
		dir := path.Dir(e)
		if h.exists(dir + "/cgroup.controllers") {
			out = append(out, cgroupMount{dir: dir, v2: true})
			continue
		}
		var ctrls []string
		for _, c := range strings.Split(path.Base(dir), ",") {
			if !strings.HasPrefix(c, "name=") && c != "systemd" {
				ctrls = append(ctrls, c)
			}
		}
		out = append(out, cgroupMount{dir: dir, controllers: ctrls})
	}
	return out
}

// globRel globs a pattern relative to the root and returns relative paths.
func globRel(h *host, pattern string) ([]string, error) {
	ms, err := filepath.Glob(h.path(pattern))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		rel, err := filepath.Rel(h.root, m)
		if err == nil {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	sort.Strings(out)
	return out, nil
}

// controllerOption maps a cgroup controller to the kernel option that
// builds it.
func controllerOption(c string) Option {
	name := "CGROUPS"
	switch c {
	case "cpu":
		name = "CGROUP_SCHED"
	case "cpuacct":
		name = "CGROUP_CPUACCT"
	case "cpuset":
		name = "CPUSETS"
	case "devices":
		name = "CGROUP_DEVICE"
	case "freezer":
		name = "CGROUP_FREEZER"
	case "memory":
		name = "MEMCG"
	case "pids":
		name = "CGROUP_PIDS"
	case "hugetlb":
		name = "CGROUP_HUGETLB"
	case "blkio", "io":
		name = "BLK_CGROUP"
	}
	return Option{Name: name, Why: "the " + c + " controller"}
}

// procName is the name /proc/cgroups uses for a controller.
func procName(c string) string {
	if c == "io" {
		return "blkio"
	}
	return c
}

func (h *host) checkCgroups(l cgroupLayout, rel release.Release, cmdline string) []Check {
	var out []Check
	out = append(out, h.cgroupVersionCheck(l, rel))
	switch l.mode {
	case CgroupV2:
		out = append(out, h.checkCgroupV2(l)...)
	case CgroupV1, CgroupHybrid:
		out = append(out, h.checkCgroupV1(l, cmdline)...)
	}
	return out
}

func (h *host) cgroupVersionCheck(l cgroupLayout, rel release.Release) Check {
	c := Check{Area: AreaCgroups, Name: "cgroup version"}
	switch l.mode {
	case "":
		c.Status = StatusFail
		c.Evidence = "no cgroup filesystem mounted (" + l.source + ")"
		c.Fix = "mount cgroup2 at /sys/fs/cgroup: mount -t cgroup2 none /sys/fs/cgroup (CONFIG_CGROUPS=y)"
		return c
	case CgroupV2:
		c.Status = StatusOK
		c.Evidence = "cgroup2 mounted at " + disp(l.unified) + " (" + l.source + ")"
		if !h.exists(l.unified + "/cpu.stat") {
			c.Status = StatusWarn
			c.Evidence += "; the root cgroup has no cpu.stat (kernel older than 5.8): kubelet warns it may misbehave"
			c.Fix = "use a kernel 5.8 or newer for cgroup v2"
		}
		return c
	}
	var dirs []string
	for _, m := range l.mounts {
		if !m.v2 && len(m.controllers) > 0 {
			dirs = append(dirs, disp(m.dir))
		}
	}
	sort.Strings(dirs)
	c.Evidence = fmt.Sprintf("cgroup v1 hierarchies at %s (%s)", strings.Join(dirs, ", "), l.source)
	if l.mode == CgroupHybrid {
		ctrls, _ := h.words(l.unified + "/cgroup.controllers")
		c.Evidence += fmt.Sprintf("; cgroup2 also mounted at %s with controllers [%s]", disp(l.unified), strings.Join(ctrls, " "))
		if len(ctrls) == 0 {
			c.Evidence += " (none: every controller is bound to a v1 hierarchy, so kubelet uses v1)"
		}
	}
	// kubeadm preflight (system-validators CgroupsValidator) refuses cgroup
	// v1 for kubelet v1.35 and newer, whose failCgroupV1 defaults to true.
	if !rel.IsZero() && !rel.Less(release.Release{Major: 1, Minor: 35}) {
		c.Status = StatusFail
		c.Evidence += fmt.Sprintf("; kubelet %s refuses cgroup v1 by default (failCgroupV1: true) and kubeadm preflight fails", rel)
		c.Fix = "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all), or set failCgroupV1: false in the KubeletConfiguration"
	} else {
		c.Status = StatusWarn
		c.Evidence += "; cgroup v1 is in maintenance mode and refused by default from kubelet v1.35"
		c.Fix = "plan a move to cgroup v2 (systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all); until then keep failCgroupV1: false"
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (h *host) checkCgroupV1(l cgroupLayout, cmdline string) []Check {
	spec := system.DefaultSysSpec
	var out []Check
	check := func(ctrl string, need Status) {
		c := Check{Area: AreaCgroups, Name: ctrl + " controller"}
		pc, compiled := l.proc[procName(ctrl)]
		dir, mounted := l.v1[ctrl]
		switch {
		case mounted:
			c.Status = StatusOK
			c.Evidence = fmt.Sprintf("mounted at %s (%s)", disp(dir), l.source)
			if compiled {
				c.Evidence += fmt.Sprintf(", hierarchy %d in /proc/cgroups", pc.hierarchy)
			}
		case len(l.proc) == 0:
			c.Status = need
			c.Evidence = "no v1 hierarchy for it and /proc/cgroups unreadable"
			c.Fix = "mount it: mkdir -p /sys/fs/cgroup/" + ctrl + " && mount -t cgroup -o " + ctrl + " cgroup /sys/fs/cgroup/" + ctrl
		case !compiled:
			o := controllerOption(ctrl)
			c.Status = need
			c.Evidence = fmt.Sprintf("not compiled into the kernel (absent from /proc/cgroups): CONFIG_%s", o.Name)
			c.Fix = missingFix(o)
		case !pc.enabled:
			c.Status = need
			c.Evidence = "compiled in but disabled (enabled=0 in /proc/cgroups)"
			if strings.Contains(cmdline, "cgroup_disable=") {
				c.Evidence += "; kernel command line: " + cmdline
			}
			c.Fix = "remove cgroup_disable=" + ctrl + " from the kernel command line and reboot"
		case l.unified != "" && h.inV2Controllers(l.unified, ctrl):
			c.Status = need
			c.Evidence = fmt.Sprintf("compiled in but bound to the cgroup2 hierarchy at %s, not to a v1 hierarchy", disp(l.unified))
			c.Fix = "mount a v1 hierarchy for it (possible while no cgroup2 subtree_control enables it): mkdir -p /sys/fs/cgroup/" + ctrl + " && mount -t cgroup -o " + ctrl + " cgroup /sys/fs/cgroup/" + ctrl + "; or move to cgroup v2 throughout"
		default:
			c.Status = need
			c.Evidence = fmt.Sprintf("compiled in and enabled (/proc/cgroups, hierarchy %d) but not mounted (%s)", pc.hierarchy, l.source)
			c.Fix = "mount it: mkdir -p /sys/fs/cgroup/" + ctrl + " && mount -t cgroup -o " + ctrl + " cgroup /sys/fs/cgroup/" + ctrl
		}
		out = append(out, c)
	}
	for _, ctrl := range spec.Cgroups {
		check(ctrl, StatusFail)
	}
	for _, ctrl := range spec.CgroupsOptional {
		check(ctrl, StatusWarn)
	}
	return out
}

func (h *host) inV2Controllers(dir, ctrl string) bool {
	ws, _ := h.words(dir + "/cgroup.controllers")
	return contains(ws, ctrl)
}

func (h *host) checkCgroupV2(l cgroupLayout) []Check {
	spec := system.DefaultSysSpec
	root := l.unified
	available, _ := h.words(root + "/cgroup.controllers")
	enabled, _ := h.words(root + "/cgroup.subtree_control")
	procs, _ := h.lines(root + "/cgroup.procs")
	// Only non-root cgroups have cgroup.type: the mount shows a cgroup
	// namespace whose root is somebody's child cgroup (a container).
	nsRoot := h.exists(root + "/cgroup.type")
	var out []Check
	check := func(ctrl string, need Status) {
		c := Check{Area: AreaCgroups, Name: ctrl + " controller"}
		switch ctrl {
		case "devices":
			// Not a real v2 controller: device access is an eBPF program
			// attached to the cgroup (CONFIG_CGROUP_BPF, checked with the
			// kernel options).
			c.Status = StatusOK
			c.Evidence = "cgroup v2 controls devices with eBPF programs (CONFIG_CGROUP_BPF, see kernel checks)"
			out = append(out, c)
			return
		case "freezer":
			// The v2 freezer is cgroup.freeze in every non-root cgroup.
			if fs, _ := globRel(h, root+"/*/cgroup.freeze"); len(fs) > 0 || h.exists(root+"/cgroup.freeze") {
				c.Status = StatusOK
				c.Evidence = "cgroup.freeze present in child cgroups (" + disp(root) + ")"
			} else if kids, _ := globRel(h, root+"/*/cgroup.procs"); len(kids) > 0 {
				c.Status = need
				c.Evidence = "no cgroup.freeze in the child cgroups of " + disp(root) + " (kernel older than 5.2)"
				c.Fix = "use a kernel 5.2 or newer for the cgroup v2 freezer"
			} else {
				c.Status = StatusOK
				c.Evidence = "no child cgroup to look for cgroup.freeze in; assumed present (kernel 5.2+)"
				c.Confidence = ConfidenceProbe
			}
			out = append(out, c)
			return
		}
		avail, on := contains(available, ctrl), contains(enabled, ctrl)
		pc, compiled := l.proc[procName(ctrl)]
		switch {
		case avail && on:
			c.Status = StatusOK
			c.Evidence = fmt.Sprintf("available (%s) and enabled for children (%s)", disp(root+"/cgroup.controllers"), disp(root+"/cgroup.subtree_control"))
		case avail && nsRoot && len(procs) > 0:
			c.Status = need
			c.Evidence = fmt.Sprintf("available but not enabled for children, and processes in the root cgroup block enabling: %d processes sit in %s, which is a non-root cgroup (it has cgroup.type; a container's cgroup namespace), and cgroup v2 refuses controllers in subtree_control of a cgroup with processes (EBUSY)",
				len(procs), disp(root+"/cgroup.procs"))
			c.Fix = fmt.Sprintf("move the processes into a child first: mkdir %[1]s/init && for p in $(cat %[1]s/cgroup.procs); do echo $p > %[1]s/init/cgroup.procs; done; then echo +%[2]s > %[1]s/cgroup.subtree_control", disp(root), ctrl)
		case avail:
			c.Status = StatusWarn
			c.Evidence = fmt.Sprintf("available (%s) but not enabled for children (%s: [%s]); the runtime must enable it when creating the kubepods cgroup",
				disp(root+"/cgroup.controllers"), disp(root+"/cgroup.subtree_control"), strings.Join(enabled, " "))
			if len(procs) > 0 && !nsRoot {
				c.Evidence += fmt.Sprintf(" (%d processes in the root cgroup do not block this: the root is exempt)", len(procs))
			}
			c.Fix = fmt.Sprintf("echo +%s > %s", ctrl, disp(root+"/cgroup.subtree_control"))
		case compiled && !pc.enabled:
			c.Status = need
			c.Evidence = "compiled in but disabled on the kernel command line (enabled=0 in /proc/cgroups)"
			c.Fix = "remove cgroup_disable=" + ctrl + " from the kernel command line and reboot"
		case compiled && pc.hierarchy != 0:
			c.Status = need
			c.Evidence = fmt.Sprintf("compiled in but bound to a cgroup v1 hierarchy (%d in /proc/cgroups), so absent from %s", pc.hierarchy, disp(root+"/cgroup.controllers"))
			if d, ok := l.v1[ctrl]; ok {
				c.Evidence += " (mounted at " + disp(d) + ")"
			}
			c.Fix = "unmount the v1 hierarchy of " + ctrl + " or boot with cgroup_no_v1=" + ctrl
		case compiled:
			c.Status = need
			c.Evidence = fmt.Sprintf("listed in /proc/cgroups but absent from %s", disp(root+"/cgroup.controllers"))
			c.Fix = "check the kernel command line (cgroup_no_v1=, cgroup_disable=) and that nothing binds it elsewhere"
		default:
			o := controllerOption(ctrl)
			c.Status = need
			c.Evidence = fmt.Sprintf("not compiled into the kernel (absent from %s and /proc/cgroups): CONFIG_%s", disp(root+"/cgroup.controllers"), o.Name)
			c.Fix = missingFix(o)
		}
		out = append(out, c)
	}
	for _, ctrl := range spec.CgroupsV2 {
		check(ctrl, StatusFail)
	}
	for _, ctrl := range spec.CgroupsV2Optional {
		check(ctrl, StatusWarn)
	}
	out = append(out, h.checkKubepodsV2(root)...)
	return out
}

// checkKubepodsV2 looks at the cgroup kubelet puts pods under, when there
// is one: the controllers pods get are the ones available there.
func (h *host) checkKubepodsV2(root string) []Check {
	var out []Check
	for _, name := range []string{"kubepods", "kubepods.slice"} {
		dir := root + "/" + name
		if !h.isDir(dir) {
			continue
		}
		avail, _ := h.words(dir + "/cgroup.controllers")
		var missing []string
		for _, ctrl := range []string{"cpu", "cpuset", "memory", "pids"} {
			if !contains(avail, ctrl) {
				missing = append(missing, ctrl)
			}
		}
		c := Check{Area: AreaCgroups, Name: "pod cgroup " + name}
		if len(missing) == 0 {
			c.Status = StatusOK
			c.Evidence = fmt.Sprintf("%s has [%s]", disp(dir+"/cgroup.controllers"), strings.Join(avail, " "))
		} else {
			c.Status = StatusFail
			c.Evidence = fmt.Sprintf("%s lacks %s: pods get no %s limits", disp(dir+"/cgroup.controllers"), strings.Join(missing, ", "), strings.Join(missing, "/"))
			c.Fix = fmt.Sprintf("enable them in the parent: echo '%s' > %s, then restart kubelet", "+"+strings.Join(missing, " +"), disp(root+"/cgroup.subtree_control"))
		}
		out = append(out, c)
	}
	return out
}
