package nodecheck

import (
	"fmt"
	"strings"

	system "k8s.io/system-validators/validators"
)

// Need says how much an option matters.
type Need int

// The needs of an option.
const (
	// Required options fail the check when missing.
	Required Need = iota
	// Optional options warn when missing.
	Optional
)

// Option is one kernel config option a component needs.
type Option struct {
	// Name without the CONFIG_ prefix.
	Name string
	// Aliases are other names of the same option (older kernels); any one
	// of Name and Aliases satisfies the need.
	Aliases []string
	// Why says who needs it for what.
	Why  string
	Need Need
	// Cgroup is "v1" or "v2" when the option is needed only with that
	// cgroup version, empty otherwise.
	Cgroup string
	// Module overrides the module name derived from the option name.
	Module string
	// Hint is added to the fix (a dependency to enable first, say).
	Hint string
}

// OptionSet is the list of options one component needs, with the source of
// the list.
type OptionSet struct {
	// Name of the component: "kubernetes", "kube-proxy", "calico", ...
	Name string
	// Area the checks of this set are reported under.
	Area string
	// Source says where the list comes from.
	Source  string
	Options []Option
}

// hints for options whose Kconfig dependencies are not obvious. A porting
// team enabling CPUSETS on a uniprocessor config will find it greyed out.
func optionHint(name string) string {
	switch name {
	case "CPUSETS":
		return "depends on SMP (General setup > Control Group support > Cpuset controller)"
	case "CGROUP_SCHED":
		return "General setup > Control Group support > CPU controller"
	case "FAIR_GROUP_SCHED":
		return "depends on CGROUP_SCHED (CPU controller > Group scheduling for SCHED_OTHER)"
	case "CFS_BANDWIDTH":
		return "depends on FAIR_GROUP_SCHED"
	case "MEMCG":
		return "General setup > Control Group support > Memory controller"
	case "CGROUP_PIDS":
		return "General setup > Control Group support > PIDs controller"
	case "CGROUP_BPF":
		return "depends on BPF_SYSCALL"
	case "SECCOMP_FILTER":
		return "depends on SECCOMP and HAVE_ARCH_SECCOMP_FILTER (the arch must support it)"
	case "NET_NS":
		return "depends on NAMESPACES"
	case "PID_NS":
		return "depends on NAMESPACES"
	case "IPC_NS":
		return "depends on NAMESPACES and SYSVIPC"
	case "UTS_NS":
		return "depends on NAMESPACES"
	case "BRIDGE_NETFILTER":
		return "depends on BRIDGE and NETFILTER_ADVANCED"
	case "VXLAN":
		return "depends on NET_UDP_TUNNEL and INET"
	case "IP_SET_HASH_IP":
		return "depends on IP_SET"
	case "NETFILTER_XT_SET":
		return "depends on IP_SET"
	}
	return ""
}

// KubernetesOptionSet returns the options kubeadm preflight checks, taken
// from k8s.io/system-validators' DefaultSysSpec (the same list, linked in).
// The storage-driver options (overlayfs, aufs, devicemapper) are listed
// there as optional one by one; they are alternatives, so nodecheck folds
// them into a single check (see storageDrivers).
func KubernetesOptionSet() OptionSet {
	spec := system.DefaultSysSpec.KernelSpec
	set := OptionSet{
		Name:   "kubernetes",
		Area:   AreaKernel,
		Source: "k8s.io/system-validators DefaultSysSpec (the list kubeadm preflight checks)",
	}
	add := func(list []system.KernelConfig, need Need, cgroup string) {
		for _, kc := range list {
			if isStorageDriver(kc.Name) {
				continue
			}
			why := kc.Description
			if why == "" {
				why = "kubeadm preflight (system-validators)"
			}
			set.Options = append(set.Options, Option{Name: kc.Name, Aliases: kc.Aliases, Why: why, Need: need, Cgroup: cgroup})
		}
	}
	add(spec.Required, Required, "")
	add(spec.RequiredCgroupsV1, Required, "v1")
	add(spec.RequiredCgroupsV2, Required, "v2")
	add(spec.Optional, Optional, "")
	add(spec.OptionalCgroupsV1, Optional, "v1")
	add(spec.OptionalCgroupsV2, Optional, "v2")
	set.Options = mergeCgroupVariants(set.Options)
	return set
}

// storageDrivers are the system-validators optional options that are
// alternative container storage drivers; one of them is enough.
func storageDrivers() []string { return []string{"OVERLAY_FS", "AUFS_FS", "BLK_DEV_DM"} }

func isStorageDriver(name string) bool {
	for _, s := range storageDrivers() {
		if s == name {
			return true
		}
	}
	return false
}

// storageDriverAliases returns the aliases system-validators gives the
// storage-driver options (OVERLAYFS_FS for OVERLAY_FS).
func storageDriverAliases() map[string][]string {
	out := map[string][]string{}
	for _, kc := range system.DefaultSysSpec.KernelSpec.Optional {
		if isStorageDriver(kc.Name) {
			out[kc.Name] = kc.Aliases
		}
	}
	return out
}

// mergeCgroupVariants folds an option listed for both cgroup versions
// (CGROUPS, CGROUP_PIDS, ...) into one entry without a cgroup restriction.
func mergeCgroupVariants(opts []Option) []Option {
	type key struct {
		name string
		need Need
	}
	versions := map[key][]string{}
	for _, o := range opts {
		if o.Cgroup != "" {
			k := key{o.Name, o.Need}
			versions[k] = append(versions[k], o.Cgroup)
		}
	}
	var out []Option
	seen := map[key]bool{}
	for _, o := range opts {
		k := key{o.Name, o.Need}
		if o.Cgroup != "" && len(versions[k]) > 1 {
			if seen[k] {
				continue
			}
			o.Cgroup = ""
		}
		seen[k] = true
		out = append(out, o)
	}
	return out
}

// CNINames lists the CNIs whose kernel needs nodecheck knows.
func CNINames() []string {
	return []string{"calico", "cilium", "flannel"}
}

// CNIOptionSet returns the kernel options a CNI needs.
func CNIOptionSet(name string) (OptionSet, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if s, ok := cniSet(n); ok {
		return s, nil
	}
	return OptionSet{}, fmt.Errorf("unknown CNI %q: use one of %s (or none)", name, strings.Join(CNINames(), ", "))
}

// moduleName returns the loadable-module name of a config option, or ""
// when it cannot be derived. Netfilter options follow naming rules; others
// come from a table.
func moduleName(o Option) string {
	if o.Module != "" {
		return o.Module
	}
	return moduleForOption(o.Name)
}

func moduleTable(name string) string {
	switch name {
	case "NETFILTER_XTABLES":
		return "x_tables"
	case "NETFILTER_XT_MARK":
		return "xt_mark"
	case "NETFILTER_XT_CONNMARK":
		return "xt_connmark"
	case "NETFILTER_XT_SET":
		return "xt_set"
	case "NETFILTER_XT_NAT":
		return "xt_nat"
	case "NETFILTER_NETLINK":
		return "nfnetlink"
	case "NF_CONNTRACK":
		return "nf_conntrack"
	case "NF_CT_NETLINK":
		return "nf_conntrack_netlink"
	case "NF_NAT":
		return "nf_nat"
	case "NF_TABLES":
		return "nf_tables"
	case "IP_NF_IPTABLES":
		return "ip_tables"
	case "IP6_NF_IPTABLES":
		return "ip6_tables"
	case "IP_NF_FILTER":
		return "iptable_filter"
	case "IP_NF_NAT":
		return "iptable_nat"
	case "IP_NF_MANGLE":
		return "iptable_mangle"
	case "IP_NF_RAW":
		return "iptable_raw"
	case "IP_SET":
		return "ip_set"
	case "IP_VS":
		return "ip_vs"
	case "VXLAN":
		return "vxlan"
	case "GENEVE":
		return "geneve"
	case "NET_IPIP":
		return "ipip"
	case "WIREGUARD":
		return "wireguard"
	case "BRIDGE":
		return "bridge"
	case "BRIDGE_NETFILTER":
		return "br_netfilter"
	case "VETH":
		return "veth"
	case "OVERLAY_FS":
		return "overlay"
	case "OVERLAYFS_FS":
		return "overlay"
	case "AUFS_FS":
		return "aufs"
	case "BLK_DEV_DM":
		return "dm_mod"
	case "EXT4_FS":
		return "ext4"
	case "NET_CLS_BPF":
		return "cls_bpf"
	case "NET_SCH_INGRESS":
		return "sch_ingress"
	case "NET_SCH_FQ":
		return "sch_fq"
	case "CRYPTO_USER_API_HASH":
		return "algif_hash"
	case "CRYPTO_SHA1":
		return "sha1_generic"
	case "NETFILTER_XT_MATCH_BPF":
		return "xt_bpf"
	}
	return ""
}

func moduleForOption(name string) string {
	if m := moduleTable(name); m != "" {
		return m
	}
	switch {
	case strings.HasPrefix(name, "NETFILTER_XT_MATCH_"):
		return "xt_" + strings.ToLower(strings.TrimPrefix(name, "NETFILTER_XT_MATCH_"))
	case strings.HasPrefix(name, "NETFILTER_XT_TARGET_"):
		return "xt_" + strings.TrimPrefix(name, "NETFILTER_XT_TARGET_")
	case strings.HasPrefix(name, "IP_NF_TARGET_"):
		return "ipt_" + strings.TrimPrefix(name, "IP_NF_TARGET_")
	case strings.HasPrefix(name, "IP_NF_MATCH_"):
		return "ipt_" + strings.ToLower(strings.TrimPrefix(name, "IP_NF_MATCH_"))
	case strings.HasPrefix(name, "IP_SET_"):
		return "ip_set_" + strings.ToLower(strings.TrimPrefix(name, "IP_SET_"))
	}
	return ""
}

// noAutoload lists modules the kernel does not load on first use: a rule
// or mount that needs them does not pull them in, so "built but not
// loaded" is a real problem for them.
func noAutoload(name string) string {
	switch name {
	case "br_netfilter":
		return "bridged pod traffic bypasses iptables (Services break on bridge CNIs) until it is loaded"
	}
	return ""
}
