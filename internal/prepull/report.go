package prepull

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/confrun/confrun/internal/cliutil"
)

// ReportFile is the report's name in the results folder.
const ReportFile = "prepull.json"

// Report identification.
const (
	ReportAPIVersion = "confrun.dev/v1alpha1"
	ReportKind       = "PrepullReport"
)

// Report is prepull.json: what is on each selected node. `confrun run` and
// `confrun verify` read it to refuse or warn when the run's images were not
// pre-pulled.
type Report struct {
	APIVersion   string `json:"apiVersion"`
	Kind         string `json:"kind"`
	Mode         Mode   `json:"mode"`
	Arch         string `json:"arch,omitempty"`
	NodeSelector string `json:"nodeSelector,omitempty"`
	ImageMap     string `json:"imageMap,omitempty"`
	// Verify is the verification asked for (node-status, cri, pods).
	Verify      Verify    `json:"verify"`
	HelperImage string    `json:"helperImage,omitempty"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	// Complete is true when every image is on every selected node and
	// that was verified: the only state in which a run can rely on
	// imagePullPolicy IfNotPresent.
	Complete bool         `json:"complete"`
	Summary  Summary      `json:"summary"`
	Images   []PlanImage  `json:"images"`
	Nodes    []NodeReport `json:"nodes"`
	Warnings []string     `json:"warnings,omitempty"`
	Stats    Stats        `json:"stats"`
}

// NodeReport is one node and its images (in the order of Report.Images).
type NodeReport struct {
	PlanNode
	// Blocked says what kept the node's pods from starting, and what to do.
	Blocked []Blocked     `json:"blocked,omitempty"`
	Images  []ImageResult `json:"images,omitempty"`
}

// Summary counts node x image cells by status.
type Summary struct {
	Nodes        int `json:"nodes"`
	SkippedNodes int `json:"skippedNodes,omitempty"`
	Images       int `json:"images"`
	Present      int `json:"present"`
	Pulled       int `json:"pulled"`
	Failed       int `json:"failed"`
	Timeout      int `json:"timeout,omitempty"`
	NodeNotReady int `json:"nodeNotReady,omitempty"`
	Pending      int `json:"pending,omitempty"`
	// Unverified counts present/pulled cells no source could confirm.
	Unverified int `json:"unverified"`
}

// Stats are figures about the run itself.
type Stats struct {
	// APIRequests counts the HTTP requests to the apiserver (a watch is
	// one request however long it streams).
	APIRequests       int            `json:"apiRequests"`
	APIRequestsByKind map[string]int `json:"apiRequestsByKind,omitempty"`
	// LastPodReady is the latest Ready transition of the run's pods (the
	// apiserver's clock, second precision).
	LastPodReady *time.Time `json:"lastPodReady,omitempty"`
	// PullsDone is when confrun saw the last image of the last node.
	PullsDone *time.Time `json:"pullsDone,omitempty"`
	// VerifyDone is when verification ended.
	VerifyDone *time.Time `json:"verifyDone,omitempty"`
	// CleanupSeconds is how long removing the run's objects took.
	CleanupSeconds float64 `json:"cleanupSeconds,omitempty"`
	// ReadyToTrackedSeconds and ReadyToReportSeconds run from LastPodReady
	// to PullsDone and to the report (Finished): how far confrun's view
	// lags the cluster, and the whole tail including verification and
	// cleanup.
	ReadyToTrackedSeconds float64 `json:"readyToTrackedSeconds,omitempty"`
	ReadyToReportSeconds  float64 `json:"readyToReportSeconds,omitempty"`
}

// summarize fills Summary and Complete from the nodes.
func (r *Report) summarize() {
	s := Summary{Images: len(r.Images)}
	complete := true
	for _, n := range r.Nodes {
		if n.Skipped != "" {
			s.SkippedNodes++
			continue
		}
		s.Nodes++
		for _, c := range n.Images {
			switch c.Status {
			case StatusPresent:
				s.Present++
			case StatusPulled:
				s.Pulled++
			case StatusFailed:
				s.Failed++
			case StatusTimeout:
				s.Timeout++
			case StatusNodeNotReady:
				s.NodeNotReady++
			default:
				s.Pending++
			}
			if c.OnNode() && c.Verified == "" {
				s.Unverified++
			}
			if !c.OnNode() || c.Verified == "" {
				complete = false
			}
		}
	}
	r.Summary = s
	r.Complete = complete && s.Nodes > 0
}

// ExitCode is the command's exit code for this report: 0 when complete,
// 3 (incomplete) when every image is there but some could not be
// verified, 1 otherwise.
func (r *Report) ExitCode() int {
	switch {
	case r.Complete:
		return cliutil.ExitOK
	case r.Summary.Failed+r.Summary.Timeout+r.Summary.NodeNotReady+r.Summary.Pending == 0 && r.Summary.Unverified > 0:
		return cliutil.ExitIncomplete
	}
	return cliutil.ExitFailure
}

// Problems lists, one line each, what keeps the report from being
// complete, at most max lines (0: all). Images of a node with the same
// problem share a line, and a node's blocks add their fix.
func (r *Report) Problems(max int) []string {
	var out []string
	for _, n := range r.Nodes {
		if n.Skipped != "" {
			continue
		}
		var order []string
		lines := map[string]*problemLine{}
		for _, c := range n.Images {
			var key string
			switch {
			case c.OnNode() && c.Verified == "":
				key = c.Status + " but unverified: " + c.Note
			case !c.OnNode():
				key = c.Status
				if c.Reason != "" {
					key += " (" + c.Reason + ")"
				}
				if c.Message != "" {
					key += ": " + c.Message
				}
			default:
				continue
			}
			if p := lines[key]; p != nil {
				p.count++
				continue
			}
			lines[key] = &problemLine{target: c.Target, count: 1}
			order = append(order, key)
		}
		for _, key := range order {
			p := lines[key]
			what := p.target
			if p.count > 1 {
				what = fmt.Sprintf("%d images", p.count)
			}
			out = append(out, fmt.Sprintf("%s: %s %s", n.Name, what, key))
		}
		for _, b := range n.Blocked {
			if b.Fix != "" && len(order) > 0 {
				out = append(out, fmt.Sprintf("  fix (%s): %s", b.Reason, b.Fix))
			}
		}
	}
	if max > 0 && len(out) > max {
		more := len(out) - max
		out = append(out[:max], fmt.Sprintf("... and %d more (see the report)", more))
	}
	return out
}

type problemLine struct {
	target string
	count  int
}

// Missing checks that every image is on every selected node of the
// report, for `confrun run` and `confrun verify`. It returns one line per
// image and node where it is not known to be.
func (r *Report) Missing(images []Image) []string {
	var out []string
	want := DedupImages(images)
	var nodes []NodeReport
	for _, n := range r.Nodes {
		if n.Skipped == "" {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return []string{"the prepull report lists no node"}
	}
	for _, im := range want {
		for _, n := range nodes {
			found := false
			for _, c := range n.Images {
				if normalize(c.Target) == normalize(im.Target) {
					found = c.OnNode() && c.Verified != ""
					if !found {
						out = append(out, fmt.Sprintf("%s on %s: %s", im.Target, n.Name, describe(c)))
					}
					break
				}
			}
			if !found && !hasTarget(n, im.Target) {
				out = append(out, fmt.Sprintf("%s on %s: not in the prepull report", im.Target, n.Name))
			}
		}
	}
	return out
}

func hasTarget(n NodeReport, target string) bool {
	for _, c := range n.Images {
		if normalize(c.Target) == normalize(target) {
			return true
		}
	}
	return false
}

func describe(c ImageResult) string {
	if c.OnNode() {
		return c.Status + " but unverified"
	}
	if c.Reason != "" {
		return c.Status + " (" + c.Reason + ")"
	}
	return c.Status
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encoding the prepull report: %w", err)
	}
	return nil
}

// ReadReport reads a prepull.json.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the prepull report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parsing the prepull report %s: %w", path, err)
	}
	if r.Kind != ReportKind {
		return nil, fmt.Errorf("%s is not a prepull report (kind %q, want %q)", path, r.Kind, ReportKind)
	}
	return &r, nil
}

// PrintTable writes the human summary: a line per node, then the problems.
func (r *Report) PrintTable(w io.Writer) error {
	t := cliutil.NewTable(w)
	fmt.Fprintln(t, "NODE\tARCH\tREADY\tPRESENT\tPULLED\tFAILED\tOTHER\tVERIFIED\tNOTE")
	for _, n := range r.Nodes {
		var present, pulled, failed, other, verified int
		for _, c := range n.Images {
			switch c.Status {
			case StatusPresent:
				present++
			case StatusPulled:
				pulled++
			case StatusFailed:
				failed++
			default:
				other++
			}
			if c.Verified != "" {
				verified++
			}
		}
		note := n.Skipped
		switch {
		case note == "" && !n.Ready:
			note = "not Ready"
		case note == "" && len(n.Blocked) > 0:
			note = n.Blocked[0].Reason
		}
		fmt.Fprintf(t, "%s\t%s\t%v\t%d\t%d\t%d\t%d\t%d/%d\t%s\n", n.Name, n.Arch, n.Ready, present, pulled, failed, other,
			verified, len(n.Images), note)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	s := r.Summary
	state := "complete: every image is on every selected node"
	if !r.Complete {
		state = "INCOMPLETE"
	}
	fmt.Fprintf(w, "\n%d images x %d nodes: %d present, %d pulled, %d failed", s.Images, s.Nodes, s.Present, s.Pulled, s.Failed)
	if s.Timeout+s.NodeNotReady+s.Pending > 0 {
		fmt.Fprintf(w, ", %d timed out, %d on not-ready nodes, %d pending", s.Timeout, s.NodeNotReady, s.Pending)
	}
	fmt.Fprintf(w, ", %d unverified: %s\n", s.Unverified, state)
	for _, p := range r.Problems(20) {
		fmt.Fprintln(w, "  "+p)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintln(w, "warning: "+wn)
	}
	return nil
}

// sortNodes orders the nodes by name.
func (r *Report) sortNodes() {
	sort.Slice(r.Nodes, func(i, j int) bool { return r.Nodes[i].Name < r.Nodes[j].Name })
}

// requestKinds renders the request counts in a stable order (tests, logs).
func requestKinds(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}
