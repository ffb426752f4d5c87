// Package e2elog reads the console log of a Kubernetes e2e run (the
// e2e.log of a conformance run, written by Ginkgo's default reporter and the
// e2e framework) and reports, as a stream, every spec result it holds: name,
// state, duration, failure message and location, suite nodes, the final
// summary, the versions the framework printed, and why the log is
// incomplete when it is.
//
// Both reporter generations are understood: Ginkgo v1 (Kubernetes up to
// v1.24) and Ginkgo v2 (v1.25 on, including the v2.1-v2.4 layout of v1.25
// and v1.26), verbose (-v) and not, serial and parallel. The parser keeps
// no per-line state beyond the current spec, so memory does not grow with
// the log.
package e2elog

import (
	"fmt"
	"strings"
	"time"
)

// Format is the Ginkgo generation that wrote a log.
type Format int

// Formats.
const (
	FormatAuto Format = iota
	GinkgoV1
	GinkgoV2
)

func (f Format) String() string {
	switch f {
	case GinkgoV1:
		return "ginkgo-v1"
	case GinkgoV2:
		return "ginkgo-v2"
	}
	return "auto"
}

// ParseFormat accepts "auto", "v1", "ginkgo-v1", "v2", "ginkgo-v2".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "v1", "ginkgo-v1", "ginkgov1", "1":
		return GinkgoV1, nil
	case "v2", "ginkgo-v2", "ginkgov2", "2":
		return GinkgoV2, nil
	}
	return FormatAuto, fmt.Errorf("unknown log format %q: use auto, ginkgo-v1 (Kubernetes up to v1.24) or ginkgo-v2 (v1.25 on)", s)
}

// State is the outcome of a spec, named as Ginkgo v2 names it.
type State string

// States.
const (
	Passed      State = "passed"
	Failed      State = "failed"
	Skipped     State = "skipped"
	Pending     State = "pending"
	TimedOut    State = "timedout"
	Panicked    State = "panicked"
	Interrupted State = "interrupted"
	Aborted     State = "aborted"
)

// Ran reports whether a spec in this state counts in Ginkgo's "Ran N".
func (s State) Ran() bool {
	switch s {
	case Skipped, Pending, "":
		return false
	}
	return true
}

// IsFailure reports whether the state is one of Ginkgo's failure states.
func (s State) IsFailure() bool { return s.Ran() && s != Passed }

// Failure is what the log says about why a spec did not pass (or, for a
// skipped spec, why it was skipped).
type Failure struct {
	// Message is the failure message as printed, without indentation; it
	// may span lines and is cut at Options.MaxMessageBytes.
	Message string
	// NodeType is the node the failure happened in ("It", "BeforeEach",
	// "SynchronizedBeforeSuite", ...), when the log says.
	NodeType string
	// Location is the file:line of the failure.
	Location string
	// Time is the failure's timestamp as Ginkgo v2 prints it, if any.
	Time string
	// ComponentLocation is, for Ginkgo v1, the location of the failed
	// component (the first line of Ginkgo v1's JUnit failure).
	ComponentLocation string
	// Panic is the forwarded panic value of a panicked spec.
	Panic string
}

// FirstLine is the first non-empty line of the message.
func (f *Failure) FirstLine() string {
	if f == nil {
		return ""
	}
	for line := range strings.SplitSeq(f.Message, "\n") {
		if s := strings.TrimSpace(line); s != "" {
			return s
		}
	}
	return ""
}

// Spec is one spec or suite node result found in the log.
type Spec struct {
	// Run is the index of the run in the log (logs that hold several
	// concatenated runs have more than one).
	Run int
	// Format of the run.
	Format Format
	// Suite is the run's suite description ("Kubernetes e2e suite"), when
	// the log printed its banner.
	Suite string
	// Text is the spec's full text: container texts and leaf text joined
	// by spaces, as in Ginkgo's JUnit name without the leaf node type. For
	// suite nodes it is the node's text, often empty.
	Text string
	// NodeType is "It" for specs, the node type for suite nodes
	// ("SynchronizedBeforeSuite", "ReportAfterSuite", "BeforeSuite", ...).
	NodeType string
	State    State
	// Duration as printed in the log (millisecond precision), when the log
	// prints one (HasDuration).
	Duration    time.Duration
	HasDuration bool
	Failure     *Failure
	// Line is the line of the log where the result was read.
	Line int64
	// Attempts is the number of attempts of a flaky spec that passed on a
	// retry (0 when not reported).
	Attempts int

	slow bool // Ginkgo v2.1-v2.4 "[SLOW TEST]": printed even without -v
}

// SuiteNode reports whether the spec is a suite-level node
// (BeforeSuite, ReportAfterSuite, ...) rather than an It.
func (s Spec) SuiteNode() bool { return s.NodeType != "It" }

// JUnitName is the name Ginkgo's own JUnit reporter gives the spec: Ginkgo
// v2 writes "[It] <text>" and "[<NodeType>] <text>" for suite nodes; Ginkgo
// v1 writes the text alone and "BeforeSuite"/"AfterSuite" for suite nodes.
func (s Spec) JUnitName() string {
	if s.Format == GinkgoV1 {
		if s.SuiteNode() {
			return s.NodeType
		}
		return strings.TrimSpace(s.Text)
	}
	return strings.TrimSpace("[" + s.NodeType + "] " + s.Text)
}

// Summary is Ginkgo's final summary of a run.
type Summary struct {
	// Ran and Total are N and M of "Ran N of M Specs in T seconds".
	Ran, Total int
	Seconds    float64
	// Succeeded is true for SUCCESS!, false for FAIL!.
	Succeeded bool
	// Reasons are Ginkgo's special suite failure reasons, such as
	// "Interrupted by User".
	Reasons []string
	// Counts from "N Passed | N Failed | ... | N Skipped" (HasCounts).
	HasCounts                                          bool
	Passed, Failed, Flaked, Repeated, Pending, Skipped int
	// BeforeSuiteFailed is set by "A BeforeSuite node failed so all tests
	// were skipped."
	BeforeSuiteFailed bool
	// Line of "Ran N of M Specs".
	Line int64
}

// Run is what the log says about one run of the suite.
type Run struct {
	Index  int
	Format Format
	// Suite is the suite description ("Kubernetes e2e suite"), SuitePath
	// the path Ginkgo v2 prints beside it.
	Suite, SuitePath string
	RandomSeed       int64
	RandomizeAll     bool
	// WillRun and TotalSpecs come from "Will run N of M specs".
	WillRun, TotalSpecs int
	// Parallel is the number of parallel processes (0 when serial).
	Parallel int
	// Verbose is set when the log names specs before they run (-v).
	Verbose bool
	// E2EVersion and APIServerVersion are the values of the framework's
	// "e2e test version:" and "kube-apiserver version:" lines.
	E2EVersion, APIServerVersion string
	// Focus and Skip are the --focus/--skip values when the log shows the
	// command line.
	Focus, Skip string
	// Summary is nil when the log ends before Ginkgo's summary.
	Summary *Summary
	// Interrupted holds the interrupt or timeout the log reports.
	Interrupted string
	// Named counts the results the log names; Anonymous counts the results
	// printed as bare denoters (•, S, P) without a name.
	NamedRan, NamedPassed, NamedFailed         int
	AnonymousPassed, AnonymousSkipped, Pending int
	// Unfinished is the name of a spec the log shows starting but not
	// finishing.
	Unfinished string
	// Incomplete lists why the run's results are incomplete, empty when
	// the log holds a complete run.
	Incomplete []string
	// StartLine is the line the run starts at.
	StartLine int64
}

// Log is the result of parsing a whole log.
type Log struct {
	Format Format
	Runs   []Run
	// Lines and Bytes read; LongLines counts lines longer than the read
	// buffer, whose tails were not examined.
	Lines, Bytes int64
	LongLines    int64
}

// Incomplete reports whether any run is incomplete.
func (l *Log) Incomplete() bool {
	for _, r := range l.Runs {
		if len(r.Incomplete) > 0 {
			return true
		}
	}
	return false
}
