// Package nodecheck inspects one Linux machine for what stands between it
// and a passing Kubernetes conformance run: kernel options (the lists kubeadm
// preflight uses, kube-proxy's and the common CNIs'), cgroups, swap, DNS
// configuration, the clock and the cgroup driver in use.
//
// Every check reads files below a root directory (Options.Root), never the
// live system directly, so that the same code runs on a bare machine (root
// "/"), inside a doctor pod that mounts the node's /proc, /sys, /boot and
// /lib/modules under /host, and in tests against fixture trees.
package nodecheck

import (
	"time"
)

// Status is the verdict of one check.
type Status string

// The statuses, from best to worst.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

func (s Status) rank() int {
	switch s {
	case StatusFail:
		return 2
	case StatusWarn:
		return 1
	}
	return 0
}

// Worse returns the worse of two statuses.
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Areas group checks in reports.
const (
	AreaKernel  = "kernel"
	AreaProxy   = "kube-proxy"
	AreaCNI     = "cni"
	AreaCgroups = "cgroups"
	AreaRuntime = "runtime"
	AreaNode    = "node"
)

// Confidence levels of a check's evidence.
const (
	// ConfidenceProbe marks a verdict reached by probing /proc and /sys
	// because no kernel config was found: weaker than reading the config
	// (a feature built as a module that is not loaded yet looks absent).
	ConfidenceProbe = "probe"
)

// Check is one finding.
type Check struct {
	Area   string `json:"area"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Evidence says what was read and where (file names below the root).
	Evidence string `json:"evidence"`
	// Fix is one line saying what to do; empty when nothing is to be done.
	Fix string `json:"fix,omitempty"`
	// Confidence is empty for direct evidence, "probe" for inferences.
	Confidence string `json:"confidence,omitempty"`
}

// Report is everything found on one node.
type Report struct {
	// Node is the Kubernetes node name, or the hostname when run locally.
	Node string `json:"node"`
	// Arch is the GOARCH of the checker that ran on the node.
	Arch string `json:"arch,omitempty"`
	// Machine is what uname -m says on the node.
	Machine       string `json:"machine,omitempty"`
	KernelRelease string `json:"kernelRelease,omitempty"`
	// KernelConfig is the file the kernel options were read from, or empty
	// when none was found.
	KernelConfig string `json:"kernelConfig,omitempty"`
	// CgroupMode is "v2", "v1", or "hybrid" (v1 controllers with an extra
	// cgroup2 mount that holds no controllers).
	CgroupMode string `json:"cgroupMode,omitempty"`
	// CgroupDrivers is what the checker's own pod cgroup showed, when it
	// ran in a pod.
	CgroupDrivers *CgroupDrivers `json:"cgroupDrivers,omitempty"`
	Time          time.Time      `json:"time"`
	Checks        []Check        `json:"checks"`
	// Error is set when the node could not be checked at all.
	Error string `json:"error,omitempty"`
}

// Summary counts checks by status.
type Summary struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// Summary counts the report's checks by status.
func (r *Report) Summary() Summary {
	var s Summary
	for _, c := range r.Checks {
		switch c.Status {
		case StatusOK:
			s.OK++
		case StatusWarn:
			s.Warn++
		case StatusFail:
			s.Fail++
		}
	}
	return s
}

// Failed reports whether any check failed or the node could not be checked.
func (r *Report) Failed() bool {
	return r.Error != "" || r.Summary().Fail > 0
}

// Find returns the first check with the given area and name.
func (r *Report) Find(area, name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Area == area && c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Add appends checks to the report.
func (r *Report) Add(cs ...Check) { r.Checks = append(r.Checks, cs...) }

// Result is what `confrun doctor` prints: one report per node.
type Result struct {
	Nodes []Report `json:"nodes"`
}

// Failed reports whether any node has a failed check.
func (r *Result) Failed() bool {
	for i := range r.Nodes {
		if r.Nodes[i].Failed() {
			return true
		}
	}
	return false
}
