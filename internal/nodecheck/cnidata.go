package nodecheck

// Kernel options of kube-proxy and of the common CNIs. Each list names its
// source; where a project documents modules rather than options, the
// options are the ones that build those modules.

// KubeProxyOptionSet is what kube-proxy's iptables mode (the default on
// Linux) uses: every -m match and -j target its rules contain.
//
// Source: k8s.io/kubernetes v1.34.4 pkg/proxy/iptables/proxier.go (rules
// use -m comment/conntrack/mark/addrtype/statistic/recent, -j
// MASQUERADE/DNAT/MARK/REJECT) and the kernel options that build them;
// BRIDGE_NETFILTER is what makes bridged pod traffic traverse those rules
// (kubeadm preflight checks /proc/sys/net/bridge/bridge-nf-call-iptables).
func KubeProxyOptionSet() OptionSet {
	return OptionSet{
		Name:   "kube-proxy",
		Area:   AreaProxy,
		Source: "k8s.io/kubernetes v1.34.4 pkg/proxy/iptables/proxier.go (iptables mode)",
		Options: []Option{
			{Name: "NETFILTER_XTABLES", Why: "iptables core (x_tables)", Need: Required},
			{Name: "IP_NF_IPTABLES", Why: "iptables for IPv4 (ip_tables)", Need: Required},
			{Name: "IP_NF_FILTER", Why: "the filter table (KUBE-SERVICES, KUBE-FORWARD)", Need: Required},
			{Name: "IP_NF_NAT", Aliases: []string{"NF_NAT_IPV4"}, Why: "the nat table (Service DNAT)", Need: Required},
			{Name: "NF_CONNTRACK", Why: "connection tracking (Service NAT)", Need: Required},
			{Name: "NETFILTER_XT_MATCH_CONNTRACK", Why: "-m conntrack --ctstate", Need: Required},
			{Name: "NETFILTER_XT_MATCH_ADDRTYPE", Why: "-m addrtype --dst-type LOCAL (NodePorts)", Need: Required},
			{Name: "NETFILTER_XT_MATCH_STATISTIC", Why: "-m statistic --mode random (spreading a Service over endpoints)", Need: Required},
			{Name: "NETFILTER_XT_MATCH_RECENT", Why: "-m recent (sessionAffinity: ClientIP)", Need: Required},
			{Name: "NETFILTER_XT_MARK", Aliases: []string{"NETFILTER_XT_MATCH_MARK"}, Why: "-m mark / -j MARK (masquerade marking)", Need: Required},
			{Name: "NETFILTER_XT_TARGET_MASQUERADE", Aliases: []string{"IP_NF_TARGET_MASQUERADE"}, Why: "-j MASQUERADE (traffic leaving via Services)", Need: Required},
			{Name: "NETFILTER_XT_NAT", Why: "-j DNAT to endpoints", Need: Required},
			{Name: "IP_NF_TARGET_REJECT", Aliases: []string{"NETFILTER_XT_TARGET_REJECT"}, Why: "-j REJECT (Services without endpoints)", Need: Required},
			{Name: "BRIDGE_NETFILTER", Why: "bridged pod traffic through iptables (bridge CNIs)", Need: Required},
			{Name: "NETFILTER_XT_MATCH_NFACCT", Why: "-m nfacct (packet counters for metrics only)", Need: Optional},
		},
	}
}

// cniSet returns the kernel needs of a CNI by its --cni name.
func cniSet(name string) (OptionSet, bool) {
	switch name {
	// Source: projectcalico/calico calicoctl/calicoctl/commands/node/checksystem.go
	// (requiredModules: ip_set, ip_tables, ip6_tables, ipt_ipvs, ipt_REJECT,
	// ipt_rpfilter/xt_rpfilter, ipt_set/xt_set, nf_conntrack_netlink,
	// xt_addrtype, xt_conntrack, xt_icmp, xt_icmp6, xt_mark, xt_multiport,
	// xt_u32) and docs.tigera.io "System requirements > Kernel dependencies"
	// (IP-in-IP for the default encapsulation, VXLAN, ipset hash types).
	case "calico":
		return OptionSet{
			Name:   "calico",
			Area:   AreaCNI,
			Source: "projectcalico/calico calicoctl node checksystem requiredModules; docs.tigera.io System requirements (kernel dependencies)",
			Options: []Option{
				{Name: "IP_SET", Why: "Calico keeps policy IP sets in ipsets", Need: Required},
				{Name: "IP_SET_HASH_IP", Why: "ipset hash:ip sets", Need: Required},
				{Name: "IP_SET_HASH_NET", Why: "ipset hash:net sets (CIDRs in policy)", Need: Required},
				{Name: "NETFILTER_XT_SET", Why: "-m set / xt_set (policy matches on IP sets)", Need: Required},
				{Name: "IP_NF_IPTABLES", Why: "ip_tables", Need: Required},
				{Name: "IP6_NF_IPTABLES", Why: "ip6_tables (IPv6 clusters)", Need: Optional},
				{Name: "NETFILTER_XT_MATCH_IPVS", Why: "ipt_ipvs/xt_ipvs (kube-proxy IPVS mode interop)", Need: Required},
				{Name: "IP_NF_TARGET_REJECT", Aliases: []string{"NETFILTER_XT_TARGET_REJECT", "NFT_REJECT"}, Why: "-j REJECT (policy deny)", Need: Required},
				{Name: "IP_NF_MATCH_RPFILTER", Aliases: []string{"NETFILTER_XT_MATCH_RPFILTER"}, Why: "-m rpfilter (anti-spoofing)", Need: Required},
				{Name: "NF_CT_NETLINK", Why: "nf_conntrack_netlink (Felix flushes conntrack entries)", Need: Required},
				{Name: "NETFILTER_XT_MATCH_ADDRTYPE", Why: "-m addrtype", Need: Required},
				{Name: "NETFILTER_XT_MATCH_CONNTRACK", Why: "-m conntrack", Need: Required},
				{Name: "NETFILTER_XT_MARK", Aliases: []string{"IP_NF_TARGET_MARK", "NETFILTER_XT_TARGET_MARK"}, Why: "-m mark / -j MARK", Need: Required},
				{Name: "NETFILTER_XT_MATCH_MULTIPORT", Aliases: []string{"IP_NF_MATCH_MULTIPORT"}, Why: "-m multiport", Need: Required},
				{Name: "NETFILTER_XT_MATCH_U32", Why: "-m u32 (not needed for standard operation)", Need: Optional},
				{Name: "NET_IPIP", Why: "IP-in-IP, Calico's default encapsulation (tunl0)", Need: Required, Hint: "or switch the IPPool to VXLAN (encapsulation: VXLAN)"},
				{Name: "VXLAN", Why: "VXLAN encapsulation (vxlan.calico)", Need: Optional},
				{Name: "WIREGUARD", Why: "WireGuard encryption (optional feature)", Need: Optional},
				{Name: "BPF_SYSCALL", Why: "the eBPF dataplane (optional)", Need: Optional},
			},
		}, true
	// Source: flannel-io/flannel Documentation/backends.md (VXLAN is the
	// default and recommended backend), Documentation/kubernetes.md and
	// Documentation/troubleshooting.md (br_netfilter,
	// net.bridge.bridge-nf-call-iptables), and the flannel CNI plugin, which
	// delegates to the CNI "bridge" plugin (bridge + veth, ipMasq via
	// iptables MASQUERADE).
	case "flannel":
		return OptionSet{
			Name:   "flannel",
			Area:   AreaCNI,
			Source: "flannel-io/flannel Documentation/backends.md, kubernetes.md, troubleshooting.md; CNI bridge plugin used by flannel's CNI",
			Options: []Option{
				{Name: "VXLAN", Why: "the vxlan backend (flannel's default, flannel.1)", Need: Required, Hint: "or use the host-gw backend when all nodes share an L2 network"},
				{Name: "BRIDGE", Why: "cni0 bridge created by the bridge plugin flannel delegates to", Need: Required},
				{Name: "VETH", Why: "pod veth pairs", Need: Required},
				{Name: "BRIDGE_NETFILTER", Why: "br_netfilter: bridged traffic through iptables", Need: Required},
				{Name: "NETFILTER_XT_TARGET_MASQUERADE", Aliases: []string{"IP_NF_TARGET_MASQUERADE"}, Why: "flannel's ipMasq rules (-j MASQUERADE)", Need: Required},
				{Name: "NETFILTER_XT_MATCH_COMMENT", Why: "flannel's iptables rules carry comments", Need: Required},
				{Name: "NF_NAT", Why: "NAT for masquerading", Need: Required},
				{Name: "WIREGUARD", Why: "the wireguard backend (optional)", Need: Optional},
			},
		}, true
	// Source: cilium/cilium Documentation/operations/system_requirements.rst
	// ("Base Requirements", "Requirements for Iptables-based Masquerading",
	// "Requirements for Tunneling and Routing", "Requirements for L7 and
	// FQDN Policies").
	case "cilium":
		return OptionSet{
			Name:   "cilium",
			Area:   AreaCNI,
			Source: "cilium/cilium Documentation/operations/system_requirements.rst (Linux kernel requirements)",
			Options: []Option{
				{Name: "BPF", Why: "eBPF (base requirement)", Need: Required},
				{Name: "BPF_SYSCALL", Why: "bpf() syscall (base requirement)", Need: Required},
				{Name: "NET_CLS_BPF", Why: "tc BPF classifier (base requirement)", Need: Required},
				{Name: "BPF_JIT", Why: "BPF JIT (base requirement)", Need: Required, Hint: "the arch must have a BPF JIT (HAVE_EBPF_JIT)"},
				{Name: "NET_CLS_ACT", Why: "tc actions (base requirement)", Need: Required},
				{Name: "NET_SCH_INGRESS", Why: "ingress qdisc (base requirement)", Need: Required},
				{Name: "CRYPTO_SHA1", Why: "base requirement", Need: Required},
				{Name: "CRYPTO_USER_API_HASH", Why: "base requirement", Need: Required},
				{Name: "CGROUPS", Why: "base requirement", Need: Required},
				{Name: "CGROUP_BPF", Why: "socket-level load balancing (base requirement)", Need: Required},
				{Name: "PERF_EVENTS", Why: "monitor events (base requirement)", Need: Required},
				{Name: "SCHEDSTATS", Why: "base requirement", Need: Required},
				{Name: "NETFILTER_XT_SET", Why: "iptables-based masquerading (the default)", Need: Required},
				{Name: "IP_SET", Why: "iptables-based masquerading (the default)", Need: Required},
				{Name: "IP_SET_HASH_IP", Why: "iptables-based masquerading (the default)", Need: Required},
				{Name: "NETFILTER_XT_MATCH_COMMENT", Why: "iptables-based masquerading (the default)", Need: Required},
				{Name: "VXLAN", Why: "VXLAN tunnelling (the default routing mode)", Need: Required},
				{Name: "GENEVE", Why: "Geneve tunnelling", Need: Optional},
				{Name: "FIB_RULES", Why: "policy routing", Need: Required},
				{Name: "NETFILTER_XT_TARGET_TPROXY", Why: "L7 and FQDN policies", Need: Optional},
				{Name: "NETFILTER_XT_TARGET_CT", Why: "L7 and FQDN policies", Need: Optional},
				{Name: "NETFILTER_XT_MATCH_MARK", Why: "L7 and FQDN policies", Need: Optional},
				{Name: "NETFILTER_XT_MATCH_SOCKET", Why: "L7 and FQDN policies", Need: Optional},
			},
		}, true
	}
	return OptionSet{}, false
}
