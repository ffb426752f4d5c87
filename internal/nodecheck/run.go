package nodecheck

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/confrun/confrun/internal/release"
)

// DefaultMaxClockSkew is how far a node's clock may be from the
// apiserver's before the clock check fails.
const DefaultMaxClockSkew = 5 * time.Second

// Options say what to check and where.
type Options struct {
	// Root is the directory the node's filesystem is seen at: "/" on the
	// node itself, "/host" in a doctor pod. Default "/".
	Root string
	// NodeName names the report; default the hostname.
	NodeName string
	// KernelRelease overrides the release read from
	// <root>/proc/sys/kernel/osrelease.
	KernelRelease string
	// CNI adds the kernel needs of that CNI ("calico", "flannel",
	// "cilium"); empty or "none" for none.
	CNI string
	// Release is the Kubernetes release checked against (cgroup v1 policy);
	// zero means the newest known.
	Release release.Release
	// ResolvConf is the resolv.conf to check, as a path on this machine;
	// default <root>/etc/resolv.conf. A doctor pod with dnsPolicy Default
	// passes its own /etc/resolv.conf, which kubelet copied from the node.
	ResolvConf string
	// Hostname overrides <root>/proc/sys/kernel/hostname.
	Hostname string
	// PodUID is the UID of the pod the checker runs in; when set, the pod's
	// cgroup shows the cgroup drivers of kubelet and runtime.
	PodUID string
	// APIServer is the URL whose Date header the node clock is compared
	// with; empty skips the clock check.
	APIServer    string
	MaxClockSkew time.Duration
	// ImageBytes is how much image data the node must still hold (the
	// images of the map); 0 checks only kubelet's thresholds.
	ImageBytes uint64

	Resolver   Resolver
	HTTPClient *http.Client
	Now        func() time.Time
}

func (o *Options) defaults() error {
	if o.Root == "" {
		o.Root = "/"
	}
	if fi, err := os.Stat(o.Root); err != nil || !fi.IsDir() {
		return fmt.Errorf("root %s is not a directory (it should hold the node's /proc and /sys)", o.Root)
	}
	if o.Release.IsZero() {
		o.Release = release.Latest()
	}
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = DefaultMaxClockSkew
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CNI == "none" {
		o.CNI = ""
	}
	if o.CNI != "" {
		if _, err := CNIOptionSet(o.CNI); err != nil {
			return err
		}
	}
	return nil
}

func uname() (machine, rel, nodename string) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", "", ""
	}
	return unix.ByteSliceToString(u.Machine[:]), unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Nodename[:])
}

// Run checks the node whose filesystem is at o.Root.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	machine, unameRel, unameHost := uname()
	h := &host{root: o.Root}
	relSrc := "/proc/sys/kernel/osrelease"
	h.release = o.KernelRelease
	if h.release == "" {
		h.release = h.readTrim("proc/sys/kernel/osrelease")
	}
	if h.release == "" {
		h.release, relSrc = unameRel, "uname"
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = h.readTrim("proc/sys/kernel/hostname")
	}
	if hostname == "" {
		hostname = unameHost
	}
	r := &Report{Node: o.NodeName, Arch: runtime.GOARCH, Machine: machine, KernelRelease: h.release, Time: o.Now().UTC()}
	if r.Node == "" {
		r.Node = hostname
	}
	r.Add(kernelVersionCheck(h.release, relSrc))

	layout := h.cgroupLayout()
	r.CgroupMode = layout.mode
	cgroupVersion := CgroupV1
	if layout.mode == CgroupV2 {
		cgroupVersion = CgroupV2
	}

	mods := h.loadModules()
	cfg, src, tried := h.findKernelConfig()
	sets := []OptionSet{KubernetesOptionSet(), KubeProxyOptionSet()}
	if o.CNI != "" {
		s, _ := CNIOptionSet(o.CNI)
		sets = append(sets, s)
	}
	if cfg != nil {
		r.KernelConfig = src
		r.Add(kernelConfigFound(src, cfg, mods, h.release))
		in := &kernelInput{cfg: cfg, src: src, mods: mods, cgroup: cgroupVersion, release: h.release}
		for i, s := range sets {
			r.Add(in.checkOptionSet(s)...)
			if i == 0 {
				r.Add(in.checkStorageDriver())
			}
		}
	} else {
		r.Add(kernelConfigMissing(h.release, tried))
		p := newProber(h, mods)
		for _, s := range sets {
			r.Add(p.checkOptionSetByProbing(s, cgroupVersion)...)
		}
	}

	r.Add(h.checkCgroups(layout, o.Release, h.readTrim("proc/cmdline"))...)
	if o.PodUID != "" {
		d, c := h.cgroupDrivers(layout, o.PodUID)
		r.CgroupDrivers = d
		r.Add(c)
	}

	r.Add(h.swapCheck())
	r.Add(hostnameCheck(ctx, o.Resolver, hostname))
	resolv := o.ResolvConf
	if resolv == "" {
		resolv = h.path("etc/resolv.conf")
	}
	data, err := os.ReadFile(resolv)
	r.Add(resolvConfCheck(resolv, data, err))
	if o.APIServer != "" {
		r.Add(clockCheck(ctx, o.HTTPClient, o.APIServer, o.Now, o.MaxClockSkew))
	}
	if c, ok := h.localStorage(o.ImageBytes); ok {
		r.Add(c)
	}
	return r, nil
}

func kernelConfigFound(src string, cfg KernelConfig, mods *modules, rel string) Check {
	c := Check{Area: AreaKernel, Name: "kernel config", Status: StatusOK, Evidence: "read " + src}
	if st, _ := cfg.state("MODULES"); st == optMissing {
		c.Evidence += "; CONFIG_MODULES is not set: every option must be built in (=y)"
		return c
	}
	switch {
	case mods.dir != "":
		c.Evidence += fmt.Sprintf("; module tree %s (%d modules)", disp(mods.dir), mods.moduleCount())
	default:
		c.Evidence += fmt.Sprintf("; no module tree /lib/modules/%s: options built as modules (=m) cannot load", rel)
	}
	if mods.loaded != nil {
		c.Evidence += fmt.Sprintf("; %d modules loaded", len(mods.loaded))
	}
	return c
}

func kernelConfigMissing(rel string, tried []string) Check {
	c := Check{Area: AreaKernel, Name: "kernel config", Status: StatusWarn, Confidence: ConfidenceProbe,
		Evidence: fmt.Sprintf("no kernel config found (looked for /%s); falling back to probing /proc/filesystems, /proc/cgroups, /proc/net and the module list, with lower confidence",
			strings.Join(KernelConfigPaths(rel), ", /")),
		Fix: "enable CONFIG_IKCONFIG_PROC (/proc/config.gz) or install /boot/config-" + rel + "; or check the build config with confrun doctor --kernel-config FILE"}
	if len(tried) > 0 {
		c.Evidence += "; unusable: " + strings.Join(tried, "; ")
	}
	return c
}

// localStorage checks the filesystem the container runtime keeps images on,
// when it is visible below the root.
func (h *host) localStorage(need uint64) (Check, bool) {
	for _, d := range []string{"var/lib/containerd", "var/lib/containers", "var/lib"} {
		if !h.isDir(d) {
			continue
		}
		var st unix.Statfs_t
		if err := unix.Statfs(h.path(d), &st); err != nil {
			continue
		}
		bs := uint64(st.Bsize) //nolint:unconvert // Bsize's type differs between architectures
		return StorageCheck("image storage", disp(d), st.Blocks*bs, st.Bavail*bs, need, 0, 0), true
	}
	return Check{}, false
}

// CheckKernelConfigFile checks a kernel config file offline, before the
// kernel is built or booted: the options Kubernetes, kube-proxy and the CNI
// need, and what to enable. Module presence cannot be checked offline.
func CheckKernelConfigFile(file, cni string) (*Report, error) {
	if cni == "none" {
		cni = ""
	}
	cfg, version, err := LoadKernelConfigFile(file)
	if err != nil {
		return nil, err
	}
	sets := []OptionSet{KubernetesOptionSet(), KubeProxyOptionSet()}
	if cni != "" {
		s, err := CNIOptionSet(cni)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	r := &Report{Node: "kernel config " + file, KernelConfig: file, Time: time.Now().UTC()}
	if v := version; v != "" {
		r.KernelRelease = v
		r.Add(kernelVersionCheck(v, "the config's header"))
	}
	in := &kernelInput{cfg: cfg, src: file}
	for i, s := range sets {
		r.Add(in.checkOptionSet(s)...)
		if i == 0 {
			r.Add(in.checkStorageDriver())
		}
	}
	return r, nil
}

// configKernelVersion reads the version from a config's header comment,
// "# Linux/x86 6.1.0 Kernel Configuration".
func configKernelVersion(data []byte) string {
	rd, err := configReader(data)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(rd)
	for i := 0; i < 10 && sc.Scan(); i++ {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 && f[0] == "#" && strings.HasPrefix(f[1], "Linux/") && f[3] == "Kernel" {
			return f[2]
		}
	}
	return ""
}
