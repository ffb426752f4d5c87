package nodecheck

import (
	"fmt"
	"sort"
	"strings"
)

// prober infers kernel features from /proc and /sys when no kernel config
// can be found. Its verdicts are weaker than the config's: a feature built
// as a module that has not been loaded yet looks absent.
type prober struct {
	h           *host
	mods        *modules
	filesystems map[string]bool
	cgroups     map[string]bool // subsystems listed in /proc/cgroups
	matches     map[string]bool // /proc/net/ip_tables_matches
	targets     map[string]bool // /proc/net/ip_tables_targets
	tables      map[string]bool // /proc/net/ip_tables_names
}

func newProber(h *host, mods *modules) *prober {
	p := &prober{h: h, mods: mods, filesystems: map[string]bool{}, cgroups: map[string]bool{},
		matches: map[string]bool{}, targets: map[string]bool{}, tables: map[string]bool{}}
	if ls, err := h.lines("proc/filesystems"); err == nil {
		for _, l := range ls {
			f := strings.Fields(l)
			p.filesystems[f[len(f)-1]] = true
		}
	}
	for _, s := range readProcCgroups(h) {
		p.cgroups[s.name] = true
	}
	for file, set := range map[string]map[string]bool{
		"proc/net/ip_tables_matches": p.matches, "proc/net/ip_tables_targets": p.targets, "proc/net/ip_tables_names": p.tables,
	} {
		if ls, err := h.lines(file); err == nil {
			for _, l := range ls {
				set[l] = true
			}
		}
	}
	return p
}

// probe returns whether the option's feature was seen and the evidence.
// known is false when nodecheck has no way to probe the option.
func (p *prober) probe(name string) (found bool, evidence string, known bool) {
	has := func(rel string) (bool, string, bool) {
		return p.h.exists(rel), disp(rel), true
	}
	fsType := func(t string) (bool, string, bool) {
		return p.filesystems[t], fmt.Sprintf("%q in /proc/filesystems", t), len(p.filesystems) > 0
	}
	cgroup := func(s string) (bool, string, bool) {
		return p.cgroups[s], fmt.Sprintf("%q in /proc/cgroups", s), len(p.cgroups) > 0
	}
	switch name {
	case "NAMESPACES":
		return has("proc/self/ns/uts")
	case "NET_NS":
		return has("proc/self/ns/net")
	case "PID_NS":
		return has("proc/self/ns/pid")
	case "IPC_NS":
		return has("proc/self/ns/ipc")
	case "UTS_NS":
		return has("proc/self/ns/uts")
	case "CGROUPS":
		return has("proc/cgroups")
	case "CPUSETS":
		return cgroup("cpuset")
	case "MEMCG":
		return cgroup("memory")
	case "CGROUP_PIDS":
		return cgroup("pids")
	case "CGROUP_DEVICE":
		return cgroup("devices")
	case "CGROUP_FREEZER":
		return cgroup("freezer")
	case "CGROUP_CPUACCT":
		return cgroup("cpuacct")
	case "CGROUP_SCHED":
		return cgroup("cpu")
	case "CGROUP_HUGETLB":
		return cgroup("hugetlb")
	case "BLK_CGROUP":
		return cgroup("blkio")
	case "FAIR_GROUP_SCHED":
		return p.cgroupFile("cpu.shares", "cpu.weight")
	case "CFS_BANDWIDTH":
		return p.cgroupFile("cpu.cfs_quota_us", "cpu.max")
	case "INET":
		return has("proc/net/snmp")
	case "PROC_FS":
		return fsType("proc")
	case "EXT4_FS":
		return fsType("ext4")
	case "OVERLAY_FS":
		return fsType("overlay")
	case "AUFS_FS":
		return fsType("aufs")
	case "BPF", "BPF_SYSCALL":
		return fsType("bpf")
	case "BPF_JIT":
		return has("proc/sys/net/core/bpf_jit_enable")
	case "PERF_EVENTS":
		return has("proc/sys/kernel/perf_event_paranoid")
	case "SCHEDSTATS":
		return has("proc/sys/kernel/sched_schedstats")
	case "SECCOMP":
		return p.statusLine("Seccomp:")
	case "SECCOMP_FILTER":
		return has("proc/sys/kernel/seccomp/actions_avail")
	case "BRIDGE_NETFILTER":
		return has("proc/sys/net/bridge/bridge-nf-call-iptables")
	case "NF_CONNTRACK":
		return has("proc/sys/net/netfilter/nf_conntrack_max")
	case "NETFILTER_XTABLES", "IP_NF_IPTABLES":
		return has("proc/net/ip_tables_names")
	case "IP_NF_FILTER":
		return p.tables["filter"], `"filter" in /proc/net/ip_tables_names`, true
	case "IP_NF_NAT":
		return p.tables["nat"], `"nat" in /proc/net/ip_tables_names`, true
	}
	if m := strings.TrimPrefix(name, "NETFILTER_XT_MATCH_"); m != name {
		if p.matches[strings.ToLower(m)] {
			return true, fmt.Sprintf("%q in /proc/net/ip_tables_matches", strings.ToLower(m)), true
		}
	}
	for _, pre := range []string{"NETFILTER_XT_TARGET_", "IP_NF_TARGET_"} {
		if t := strings.TrimPrefix(name, pre); t != name && p.targets[t] {
			return true, fmt.Sprintf("%q in /proc/net/ip_tables_targets", t), true
		}
	}
	return p.module(name)
}

// module probes an option through its module: loaded, built in, or present.
func (p *prober) module(option string) (bool, string, bool) {
	name := moduleForOption(option)
	if name == "" {
		return false, "", false
	}
	switch {
	case p.mods.loaded[name]:
		return true, "module " + name + " loaded (/proc/modules)", true
	case p.mods.sysfs[name]:
		return true, "/sys/module/" + name + " exists", true
	case p.mods.builtin[name]:
		return true, "module " + name + " in " + disp(p.mods.dir+"/modules.builtin"), true
	case p.mods.files[name] != "":
		return true, "module file " + disp(p.mods.files[name]), true
	}
	return false, "module " + name + " not loaded, not in /sys/module, not in the module tree", true
}

func (p *prober) cgroupFile(names ...string) (bool, string, bool) {
	for _, dir := range []string{"sys/fs/cgroup/cpu", "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup"} {
		for _, n := range names {
			if p.h.exists(dir + "/" + n) {
				return true, disp(dir + "/" + n), true
			}
			// cgroup v2 has no cpu.* files in the root: look one level down.
			if matches, _ := globRel(p.h, dir+"/*/"+n); len(matches) > 0 {
				return true, disp(matches[0]), true
			}
		}
	}
	return false, strings.Join(names, " or ") + " in no cgroup under /sys/fs/cgroup", true
}

func (p *prober) statusLine(prefix string) (bool, string, bool) {
	ls, err := p.h.lines("proc/self/status")
	if err != nil {
		return false, "", false
	}
	for _, l := range ls {
		if strings.HasPrefix(l, prefix) {
			return true, fmt.Sprintf("%q in /proc/self/status", prefix), true
		}
	}
	return false, fmt.Sprintf("no %q in /proc/self/status", prefix), true
}

// checkOptionSetByProbing checks a set without a kernel config.
func (p *prober) checkOptionSetByProbing(set OptionSet, cgroupMode string) []Check {
	var out []Check
	var unknown []string
	for _, o := range set.Options {
		if o.Cgroup != "" && cgroupMode != "" && o.Cgroup != cgroupMode {
			continue
		}
		var found bool
		var ev, name string
		var known bool
		for _, n := range append([]string{o.Name}, o.Aliases...) {
			f, e, k := p.probe(n)
			if k && (!known || f) {
				found, ev, known, name = f, e, true, n
			}
			if f {
				break
			}
		}
		if !known {
			unknown = append(unknown, "CONFIG_"+o.Name)
			continue
		}
		c := Check{Area: set.Area, Name: "CONFIG_" + o.Name, Confidence: ConfidenceProbe}
		if set.Area == AreaCNI {
			c.Name += " (" + set.Name + ")"
		}
		if found {
			c.Status = StatusOK
			c.Evidence = fmt.Sprintf("probed CONFIG_%s: %s", name, ev)
		} else {
			c.Status = StatusWarn
			c.Evidence = fmt.Sprintf("probed: %s; needed for: %s (a module not loaded yet looks the same)", ev, o.Why)
			c.Fix = "check CONFIG_" + o.Name + " in the kernel's config; " + missingFix(o)
		}
		out = append(out, c)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		out = append(out, Check{Area: set.Area, Name: set.Name + ": options not probeable", Status: StatusWarn, Confidence: ConfidenceProbe,
			Evidence: "without a kernel config these cannot be seen from /proc or /sys: " + strings.Join(unknown, ", "),
			Fix:      "provide the kernel config (CONFIG_IKCONFIG_PROC=y for /proc/config.gz, or /boot/config-<release>), or run confrun doctor --kernel-config FILE"})
	}
	return out
}
