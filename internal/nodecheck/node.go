package nodecheck

import (
	"context"
	"crypto/tls"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	system "k8s.io/system-validators/validators"
)

// kernelVersionCheck matches the release against the versions kubeadm
// preflight accepts (system-validators KernelSpec.Versions).
func kernelVersionCheck(rel, src string) Check {
	c := Check{Area: AreaKernel, Name: "kernel version"}
	if rel == "" {
		c.Status = StatusWarn
		c.Evidence = "kernel release unknown (" + src + " unreadable)"
		return c
	}
	spec := system.DefaultSysSpec.KernelSpec
	for _, v := range spec.Versions {
		if ok, _ := regexp.MatchString(v, rel); ok {
			c.Status = StatusOK
			c.Evidence = fmt.Sprintf("%s (%s) matches %s, accepted by kubeadm preflight", rel, src, v)
			return c
		}
	}
	c.Status = StatusFail
	c.Evidence = fmt.Sprintf("%s (%s) matches none of %s: %s", rel, src, strings.Join(spec.Versions, " "), spec.VersionsNote)
	c.Fix = "move to a 5.4/5.10/5.15 LTS or any 6.x kernel (or pass --ignore-preflight-errors=SystemVerification to kubeadm at your own risk)"
	return c
}

func (h *host) swapCheck() Check {
	c := Check{Area: AreaNode, Name: "swap"}
	ls, err := h.lines("proc/swaps")
	if err != nil {
		c.Status = StatusWarn
		c.Evidence = "cannot read /proc/swaps: " + err.Error()
		return c
	}
	var devs []string
	for _, l := range ls[min(1, len(ls)):] {
		if f := strings.Fields(l); len(f) > 0 {
			devs = append(devs, f[0])
		}
	}
	if len(devs) == 0 {
		c.Status = StatusOK
		c.Evidence = "no swap in /proc/swaps"
		return c
	}
	c.Status = StatusWarn
	c.Evidence = "swap on " + strings.Join(devs, ", ") + " (/proc/swaps): kubelet refuses to start unless failSwapOn: false"
	c.Fix = "swapoff -a and drop swap from /etc/fstab, or set failSwapOn: false with memorySwap.swapBehavior: NoSwap"
	return c
}

// Resolver looks host names up (net.Resolver does).
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

func hostnameCheck(ctx context.Context, r Resolver, hostname string) Check {
	c := Check{Area: AreaNode, Name: "hostname resolvable"}
	if hostname == "" {
		c.Status = StatusWarn
		c.Evidence = "hostname unknown"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, hostname)
	if err != nil || len(addrs) == 0 {
		c.Status = StatusWarn
		c.Evidence = fmt.Sprintf("%q does not resolve: %v (kubeadm preflight warns; tools that reach the node by name fail)", hostname, err)
		c.Fix = fmt.Sprintf("add \"<node IP> %s\" to /etc/hosts or to DNS", hostname)
		return c
	}
	c.Status = StatusOK
	c.Evidence = fmt.Sprintf("%s resolves to %s", hostname, strings.Join(addrs, ", "))
	loopback := true
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			loopback = false
		}
	}
	if loopback {
		c.Evidence += " (loopback only: kubelet then takes the node IP from the default route unless --node-ip is set)"
	}
	return c
}

// Limits kubelet applies to the resolv.conf it hands to pods
// (k8s.io/kubernetes pkg/apis/core/validation: MaxDNSNameservers,
// MaxDNSSearchPaths, MaxDNSSearchListChars).
const (
	maxNameservers   = 3
	maxSearchPaths   = 32
	maxSearchListLen = 2048
)

// resolvConfCheck reads the resolv.conf pods with dnsPolicy Default get and
// that CoreDNS forwards to.
func resolvConfCheck(file string, data []byte, readErr error) Check {
	c := Check{Area: AreaNode, Name: "resolv.conf"}
	if readErr != nil {
		c.Status = StatusWarn
		c.Evidence = fmt.Sprintf("cannot read %s: %v; pods with dnsPolicy: Default and CoreDNS's upstream get no resolver", file, readErr)
		c.Fix = "create " + file + " with a reachable nameserver, or point kubelet's resolvConf at one"
		return c
	}
	var servers, search []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			search = f[1:]
		}
	}
	var problems, fixes []string
	if len(servers) == 0 {
		problems = append(problems, "no nameserver")
		fixes = append(fixes, "add a nameserver line")
	}
	for _, s := range servers {
		if ip := net.ParseIP(s); ip != nil && ip.IsLoopback() {
			problems = append(problems, fmt.Sprintf("nameserver %s is a loopback address: a CoreDNS that forwards to the node's resolv.conf (the default Corefile) would query itself, and its loop plugin stops it", s))
			fixes = append(fixes, "point kubelet's resolvConf at a file with the real upstream (for systemd-resolved: /run/systemd/resolve/resolv.conf)")
			break
		}
	}
	if len(servers) > maxNameservers {
		problems = append(problems, fmt.Sprintf("%d nameservers: kubelet keeps the first %d and warns on every pod", len(servers), maxNameservers))
		fixes = append(fixes, fmt.Sprintf("keep at most %d nameservers", maxNameservers))
	}
	if n := len(strings.Join(search, " ")); len(search) > maxSearchPaths || n > maxSearchListLen {
		problems = append(problems, fmt.Sprintf("%d search domains (%d chars): over kubelet's limit of %d/%d chars", len(search), n, maxSearchPaths, maxSearchListLen))
		fixes = append(fixes, "shorten the search list")
	}
	if len(problems) > 0 {
		c.Status = StatusWarn
		c.Evidence = file + ": " + strings.Join(problems, "; ")
		c.Fix = strings.Join(fixes, "; ")
		return c
	}
	c.Status = StatusOK
	c.Evidence = fmt.Sprintf("%s: nameservers %s", file, strings.Join(servers, ", "))
	if len(search) > 0 {
		c.Evidence += "; search " + strings.Join(search, " ")
	}
	return c
}

// clockCheck compares the local clock with the apiserver's Date header.
// The header has a resolution of one second; the verdict allows for that
// and for the round trip.
func clockCheck(ctx context.Context, client *http.Client, url string, now func() time.Time, bound time.Duration) Check {
	c := Check{Area: AreaNode, Name: "clock vs apiserver"}
	if client == nil {
		// Only the Date header is read and no credentials are sent, so the
		// server certificate does not need verifying.
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // reads the Date header only
			Proxy:           nil,
		}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/version", nil)
	if err != nil {
		c.Status, c.Evidence = StatusWarn, "bad apiserver URL: "+err.Error()
		return c
	}
	t0 := now()
	resp, err := client.Do(req)
	t1 := now()
	if err != nil {
		c.Status = StatusWarn
		c.Evidence = fmt.Sprintf("cannot reach the apiserver at %s to compare clocks: %v", url, err)
		c.Fix = "check that the node reaches the apiserver"
		return c
	}
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		c.Status, c.Evidence = StatusWarn, fmt.Sprintf("the apiserver at %s sent no usable Date header", url)
		return c
	}
	rtt := t1.Sub(t0)
	mid := t0.Add(rtt / 2)
	offset := date.Add(500 * time.Millisecond).Sub(mid)
	slack := rtt/2 + 500*time.Millisecond
	abs := offset
	if abs < 0 {
		abs = -abs
	}
	c.Evidence = fmt.Sprintf("apiserver clock - node clock = %s ± %s (Date header of %s, round trip %s)",
		offset.Round(time.Millisecond), slack.Round(time.Millisecond), url, rtt.Round(time.Millisecond))
	if abs-slack > bound {
		c.Status = StatusFail
		c.Evidence += fmt.Sprintf("; more than the %s allowed", bound)
		c.Fix = "synchronise the node's clock (chrony, systemd-timesyncd or ntpd) with the control plane's"
		return c
	}
	c.Status = StatusOK
	return c
}

// CgroupDrivers is what the cgroup tree says about the cgroup drivers the
// kubelet and the runtime use, found from the checker's own pod.
type CgroupDrivers struct {
	// PodCgroup is the pod's cgroup directory (as the node sees it).
	PodCgroup string `json:"podCgroup"`
	// Kubelet is "systemd" when the pod cgroup is a .slice, "cgroupfs"
	// otherwise.
	Kubelet string `json:"kubelet"`
	// Runtime is "systemd" when container cgroups are .scope units,
	// "cgroupfs" for plain directories, "" when none was seen.
	Runtime string `json:"runtime,omitempty"`
	// Container is one container cgroup seen under the pod's.
	Container string `json:"container,omitempty"`
}

// findPodCgroup looks for the cgroup of the pod with the given UID under
// dir, at most depth levels down.
func (h *host) findPodCgroup(dir, uid string, depth int) (string, bool) {
	if uid == "" || dir == "" {
		return "", false
	}
	dash, under := "pod"+uid, "pod"+strings.ReplaceAll(uid, "-", "_")
	base := h.path(dir)
	var found string
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		if rel != "." && strings.Count(filepath.ToSlash(rel), "/")+1 > depth {
			return fs.SkipDir
		}
		n := d.Name()
		if strings.HasSuffix(n, dash) || strings.Contains(n, under+".slice") {
			found = path.Join(dir, filepath.ToSlash(rel))
			return fs.SkipAll
		}
		return nil
	})
	return found, found != ""
}

// isContainerID reports whether a cgroup name is a bare container ID, as
// runtimes name container cgroups with the cgroupfs driver.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

func (h *host) cgroupDrivers(l cgroupLayout, uid string) (*CgroupDrivers, Check) {
	c := Check{Area: AreaRuntime, Name: "cgroup driver (observed)"}
	var roots []string
	if l.mode == CgroupV2 {
		roots = []string{l.unified}
	} else {
		for _, ctrl := range []string{"pids", "memory", "cpu"} {
			if d, ok := l.v1[ctrl]; ok {
				roots = append(roots, d)
			}
		}
	}
	for _, r := range roots {
		dir, ok := h.findPodCgroup(r, uid, 8)
		if !ok {
			continue
		}
		d := &CgroupDrivers{PodCgroup: disp(dir), Kubelet: "cgroupfs"}
		if strings.HasSuffix(dir, ".slice") {
			d.Kubelet = "systemd"
		}
		ents, _ := globRel(h, dir+"/*/cgroup.procs")
		for _, e := range ents {
			n := path.Base(path.Dir(e))
			switch {
			case strings.HasSuffix(n, ".scope"):
				d.Runtime, d.Container = "systemd", disp(path.Dir(e))
			case isContainerID(n):
				d.Runtime, d.Container = "cgroupfs", disp(path.Dir(e))
			}
			if d.Runtime != "" {
				break
			}
		}
		c.Evidence = fmt.Sprintf("this pod's cgroup %s is laid out by the %s driver", d.PodCgroup, d.Kubelet)
		switch {
		case d.Runtime == "":
			c.Status = StatusOK
			c.Evidence += "; no container cgroup seen below it (the runtime's driver could not be observed)"
			c.Confidence = ConfidenceProbe
		case d.Runtime == d.Kubelet:
			c.Status = StatusOK
			c.Evidence += fmt.Sprintf("; the runtime created %s with the same driver", d.Container)
		default:
			c.Status = StatusFail
			c.Evidence += fmt.Sprintf("; but the runtime created %s with the %s driver", d.Container, d.Runtime)
			c.Fix = fmt.Sprintf("make kubelet's cgroupDriver and the runtime's agree (containerd: SystemdCgroup = %v in the runc options)", d.Kubelet == "systemd")
		}
		return d, c
	}
	c.Status = StatusWarn
	c.Evidence = fmt.Sprintf("no cgroup of pod %s found under %s", uid, strings.Join(roots, ", "))
	c.Confidence = ConfidenceProbe
	return nil, c
}

// StorageCheck grades the room left on a filesystem that holds images:
// after need more bytes, usage must stay below the kubelet's image GC
// threshold (it deletes images above it) and free space above its eviction
// threshold. gcHigh and evictionFree are percentages; zero means the
// kubelet defaults (85 and 15).
func StorageCheck(name, where string, capacity, available, need uint64, gcHigh, evictionFree float64) Check {
	c := Check{Area: AreaNode, Name: name}
	if gcHigh <= 0 {
		gcHigh = 85
	}
	if evictionFree <= 0 {
		evictionFree = 15
	}
	if capacity == 0 {
		c.Status = StatusWarn
		c.Evidence = "capacity of " + where + " unknown"
		return c
	}
	usedPct := func(avail uint64) float64 { return 100 * float64(capacity-min(avail, capacity)) / float64(capacity) }
	after := uint64(0)
	if available > need {
		after = available - need
	}
	roomBeforeGC := int64(available) - int64(float64(capacity)*(100-gcHigh)/100)
	c.Evidence = fmt.Sprintf("%s: %s free of %s (%.0f%% used); kubelet deletes images above %.0f%% used, evicts pods below %.0f%% free; room for images before GC: %s",
		where, BytesString(available), BytesString(capacity), usedPct(available), gcHigh, evictionFree, BytesString(uint64(max(roomBeforeGC, 0))))
	if need > 0 {
		c.Evidence += fmt.Sprintf("; the images need %s", BytesString(need))
	}
	switch {
	case need > 0 && available < need:
		c.Status = StatusFail
		c.Fix = fmt.Sprintf("free %s on %s", BytesString(need-available), where)
	case usedPct(after) > gcHigh:
		c.Status = StatusFail
		c.Evidence += "; pre-pulled images would be garbage-collected and pulled again"
		c.Fix = fmt.Sprintf("free space on %s or raise imageGCHighThresholdPercent", where)
	case 100-usedPct(after) < evictionFree:
		c.Status = StatusFail
		c.Fix = fmt.Sprintf("free space on %s: pods would be evicted", where)
	default:
		c.Status = StatusOK
	}
	return c
}

// BytesString prints a byte count in binary units (12.3 MiB).
func BytesString(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
