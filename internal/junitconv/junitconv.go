// Package junitconv turns an e2e.log into the junit_01.xml Ginkgo would have
// written for the same run: every spec the log shows running, with the name
// and status Ginkgo's JUnit reporter gives it, failure messages and
// locations, durations as printed, and the suite totals of Ginkgo's summary.
// It writes with the types of github.com/jstemmer/go-junit-report/v2/junit,
// streaming: testcases are spooled (in memory up to 2 MiB, then to a
// temporary file) while the log is read, so memory does not grow with the log.
package junitconv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/coverage"
	"github.com/confrun/confrun/internal/e2elog"
	"github.com/confrun/confrun/internal/release"
)

// DefaultSuite is the suite description of the Kubernetes e2e suite, used
// when the log does not print one.
const DefaultSuite = "Kubernetes e2e suite"

// junitReportNode is the ReportAfterSuite node with which the Kubernetes e2e
// framework (v1.25 on) writes junit_01.xml: Ginkgo's report cannot hold the
// node that is writing it, nor the report nodes after it.
const junitReportNode = "Kubernetes e2e JUnit report"

// Options tune a conversion.
type Options struct {
	// Format forces the log format (default: detect).
	Format e2elog.Format
	// Release is the Kubernetes release whose conformance tests are listed
	// as not run and checked; zero takes it from the log's "e2e test
	// version:" line.
	Release release.Release
	// NoNotRunList leaves out the conformance tests that did not run.
	NoNotRunList bool
	// MaxMessageBytes caps each failure message (default 64 KiB).
	MaxMessageBytes int
	// SpoolDir is where the temporary testcase spool goes (default: the
	// system temporary directory).
	SpoolDir string

	spoolLimit int // testcase bytes held in memory (default spoolMemLimit)
}

// Result describes a conversion.
type Result struct {
	Format string `json:"format"`
	Runs   int    `json:"runs"`
	// Totals written on the <testsuites> element.
	Tests    int `json:"tests"`
	Failures int `json:"failures"`
	Errors   int `json:"errors"`
	Skipped  int `json:"skipped"`
	Disabled int `json:"disabled"`
	// Testcases is the number of <testcase> elements written; NotRun of
	// them are conformance tests listed because the log shows them not
	// running.
	Testcases int `json:"testcases"`
	NotRun    int `json:"notRun"`
	// Summary is Ginkgo's "Ran N of M Specs" of the last run.
	Ran   int `json:"ran"`
	Total int `json:"total"`
	// E2EVersion and APIServerVersion are the versions the log names.
	E2EVersion       string `json:"e2eVersion,omitempty"`
	APIServerVersion string `json:"apiServerVersion,omitempty"`
	// Release is the release conformance was checked against and where it
	// came from ("--release" or "e2e test version").
	Release     string `json:"release,omitempty"`
	ReleaseFrom string `json:"releaseFrom,omitempty"`
	// ReleaseNote says why conformance was not checked.
	ReleaseNote string           `json:"releaseNote,omitempty"`
	Coverage    *coverage.Report `json:"coverage,omitempty"`
	// Incomplete says why the JUnit does not hold the whole run.
	Incomplete []string `json:"incomplete,omitempty"`
	// NamesMissing is set when specs ran without being named (no -v).
	NamesMissing bool `json:"namesMissing,omitempty"`
	// Output is the file written (ConvertFile).
	Output string `json:"output,omitempty"`
}

// IsIncomplete reports whether the JUnit is known to be incomplete.
func (r *Result) IsIncomplete() bool { return len(r.Incomplete) > 0 }

// runStats accumulates what was written for one run.
type runStats struct {
	start, end     int64
	suiteNodes     int
	written        int
	itErrors       int
	itFailures     int
	nodeFailures   int
	nodeErrors     int
	skipped        int
	pending        int
	reportNodeSeen bool
	ran            []uint64 // bitset of converter.ids the run shows
}

type converter struct {
	opts  Options
	spool *spool
	runs  []*runStats
	// ids numbers the distinct conformance test names seen; each run
	// records the ones it ran in a bitset.
	ids map[string]int
	// conformance-relevant outcomes by normalized name (bounded by the
	// number of distinct conformance tests).
	outcomes map[string]coverage.Status
	err      error
}

// spoolMemLimit is how much testcase XML is held in memory before it
// goes to a temporary file.
const spoolMemLimit = 2 << 20

// spool holds the testcases written while the log is read, until the
// suite totals are known: in memory up to spoolMemLimit, then in a
// temporary file, so that memory stays bounded whatever the log's size.
type spool struct {
	dir   string
	limit int
	mem   []byte
	f     *os.File
	fw    *bufio.Writer
	n     int64
}

func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && len(s.mem)+len(p) <= s.limit {
		if len(s.mem)+len(p) > cap(s.mem) {
			grown := make([]byte, len(s.mem), min(max(2*cap(s.mem), len(s.mem)+len(p), 64<<10), s.limit))
			copy(grown, s.mem)
			s.mem = grown
		}
		s.mem = append(s.mem, p...)
		s.n += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "confrun-junit-*.spool")
		if err != nil {
			return 0, fmt.Errorf("creating a spool file for the testcases: %w", err)
		}
		s.f, s.fw = f, bufio.NewWriterSize(f, 64<<10)
		if _, err := s.fw.Write(s.mem); err != nil {
			return 0, err
		}
		s.mem = nil
	}
	n, err := s.fw.Write(p)
	s.n += int64(n)
	return n, err
}

func (s *spool) WriteString(str string) (int, error) {
	if s.f == nil && len(s.mem)+len(str) <= cap(s.mem) {
		s.mem = append(s.mem, str...)
		s.n += int64(len(str))
		return len(str), nil
	}
	return s.Write([]byte(str))
}

// section returns the bytes written between offsets start and end.
func (s *spool) section(start, end int64) (io.Reader, error) {
	if s.f == nil {
		return bytes.NewReader(s.mem[start:end]), nil
	}
	if err := s.fw.Flush(); err != nil {
		return nil, fmt.Errorf("writing the testcase spool: %w", err)
	}
	return io.NewSectionReader(s.f, start, end-start), nil
}

func (s *spool) close() {
	if s.f != nil {
		_ = s.f.Close()
		_ = os.Remove(s.f.Name())
	}
}

// ConvertFile converts the log at logPath into outPath, atomically and
// never over an existing file unless force. On a log that is not an e2e.log
// nothing is written.
func ConvertFile(ctx context.Context, logPath, outPath string, force bool, opts Options) (*Result, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("opening the e2e log: %w", err)
	}
	defer f.Close()
	var res *Result
	err = atomicfile.Write(outPath, atomicfile.Options{Force: force}, func(w io.Writer) error {
		var cerr error
		res, cerr = Convert(ctx, f, w, opts)
		return cerr
	})
	if err != nil {
		return nil, err
	}
	res.Output = outPath
	return res, nil
}

// Convert reads an e2e.log from in and writes the JUnit XML to out.
func Convert(ctx context.Context, in io.Reader, out io.Writer, opts Options) (*Result, error) {
	c := &converter{opts: opts, outcomes: map[string]coverage.Status{}, ids: map[string]int{}}
	c.spool = &spool{dir: opts.SpoolDir, limit: spoolMemLimit}
	if opts.spoolLimit > 0 {
		c.spool.limit = opts.spoolLimit
	}
	defer c.spool.close()

	log, err := c.parse(ctx, in)
	if err != nil {
		return nil, err
	}
	for len(c.runs) < len(log.Runs) {
		c.runs = append(c.runs, &runStats{start: c.spool.n, end: c.spool.n})
	}
	res := &Result{Format: log.Format.String(), Runs: len(log.Runs)}
	last := log.Runs[len(log.Runs)-1]
	res.E2EVersion, res.APIServerVersion = last.E2EVersion, last.APIServerVersion
	if last.Summary != nil {
		res.Ran, res.Total = last.Summary.Ran, last.Summary.Total
	}

	rel, from := c.release(log)
	var required []string
	if rel.IsZero() && res.E2EVersion != "" {
		if r, err := release.Parse(res.E2EVersion); err != nil || r.Major == 0 {
			res.ReleaseNote = fmt.Sprintf("the log's e2e test version %q names no release (a build from an untagged tree)", res.E2EVersion)
		} else if err := release.Check(r); err != nil {
			res.ReleaseNote = err.Error()
		}
	}
	if !rel.IsZero() {
		res.Release, res.ReleaseFrom = rel.String(), from
		if required, err = coverage.Required(rel); err != nil {
			return nil, err
		}
	}

	bw := bufio.NewWriterSize(out, 64<<10)
	suites := make([]junit.Testsuite, len(log.Runs))
	for i := range log.Runs {
		suites[i] = c.suite(&log.Runs[i], c.runs[i], res)
	}
	// The <testsuites> totals need every suite's counts: list the
	// conformance tests that did not run first.
	notRun := make([][]junit.Testcase, len(log.Runs))
	for i := range log.Runs {
		run := &log.Runs[i]
		if required == nil || opts.NoNotRunList || !listable(run) {
			continue
		}
		for _, code := range required {
			if c.runs[i].has(c.ids, coverage.NormalizeName(code)) {
				continue
			}
			name := code
			if run.Format != e2elog.GinkgoV1 {
				name = "[It] " + code
			}
			notRun[i] = append(notRun[i], junit.Testcase{
				Name: xmlSafe(name), Classname: xmlSafe(suiteName(run)), Time: "0", Status: "skipped",
				Skipped: &junit.Result{Message: fmt.Sprintf("skipped - not run: a conformance test of Kubernetes %s that the e2e.log does not show running (listed by confrun junit)", rel)},
			})
		}
		res.NotRun += len(notRun[i])
	}
	top := junit.Testsuites{}
	for i, s := range suites {
		top.Tests += s.Tests
		top.Failures += s.Failures
		top.Errors += s.Errors
		top.Disabled += s.Skipped + s.Disabled
		res.Tests += s.Tests
		res.Failures += s.Failures
		res.Errors += s.Errors
		res.Skipped += s.Skipped
		res.Disabled += s.Disabled
		res.Testcases += c.runs[i].written + len(notRun[i])
	}
	if _, err := bw.WriteString(xml.Header); err != nil {
		return nil, err
	}
	if err := writeOpen(bw, top, "testsuites", ""); err != nil {
		return nil, err
	}
	for i, s := range suites {
		if err := c.writeSuite(bw, s, c.runs[i], notRun[i]); err != nil {
			return nil, err
		}
	}
	if _, err := bw.WriteString("\n</testsuites>\n"); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing the JUnit XML: %w", err)
	}

	for _, run := range log.Runs {
		for _, why := range run.Incomplete {
			if len(log.Runs) > 1 {
				why = fmt.Sprintf("run %d (line %d): %s", run.Index+1, run.StartLine, why)
			}
			res.Incomplete = append(res.Incomplete, why)
		}
		if run.Summary != nil && run.NamedRan < run.Summary.Ran || run.AnonymousPassed > 0 {
			res.NamesMissing = true
		}
	}
	if !rel.IsZero() {
		tests := make([]coverage.Test, 0, len(c.outcomes))
		for name, st := range c.outcomes {
			tests = append(tests, coverage.Test{Name: name, Status: st})
		}
		rep, err := coverage.Check(rel, tests)
		if err != nil {
			return nil, err
		}
		res.Coverage = &rep
	}
	return res, nil
}

// parse reads the log in this goroutine and turns specs into testcases in
// another, so that a two-core machine converts at close to the speed of
// the parser alone.
func (c *converter) parse(ctx context.Context, in io.Reader) (*e2elog.Log, error) {
	const batchSize = 256
	batches := make(chan []e2elog.Spec, 4)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		for batch := range batches {
			for _, s := range batch {
				if err == nil {
					if err = c.spec(s); err != nil {
						failed.Store(true)
					}
				}
			}
		}
		done <- err
	}()
	batch := make([]e2elog.Spec, 0, batchSize)
	log, err := e2elog.Parse(ctx, in, e2elog.Options{Format: c.opts.Format, MaxMessageBytes: c.opts.MaxMessageBytes}, func(s e2elog.Spec) error {
		if failed.Load() {
			return errors.New("writing testcases failed")
		}
		batch = append(batch, s)
		if len(batch) == batchSize {
			batches <- batch
			batch = make([]e2elog.Spec, 0, batchSize)
		}
		return nil
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	if werr := <-done; werr != nil {
		return nil, werr
	}
	return log, err
}

// listable reports whether the conformance tests missing from a run can be
// listed as not run: only when every spec that ran is named, and specs were
// reached at all.
func listable(run *e2elog.Run) bool {
	if run.AnonymousPassed > 0 {
		return false
	}
	if s := run.Summary; s != nil && (s.BeforeSuiteFailed || (s.HasCounts && run.NamedRan < s.Ran)) {
		return false
	}
	return true
}

// release picks the release to check conformance against.
func (c *converter) release(log *e2elog.Log) (release.Release, string) {
	if !c.opts.Release.IsZero() {
		return c.opts.Release, "--release"
	}
	for i := len(log.Runs) - 1; i >= 0; i-- {
		v := log.Runs[i].E2EVersion
		if v == "" {
			continue
		}
		r, err := release.Parse(v)
		if err == nil && release.Check(r) == nil {
			return r, "e2e test version"
		}
	}
	return release.Release{}, ""
}

func (c *converter) stats(run int) *runStats {
	for len(c.runs) <= run {
		c.runs = append(c.runs, &runStats{start: c.spool.n, end: c.spool.n})
	}
	return c.runs[run]
}

func (st *runStats) has(ids map[string]int, name string) bool {
	id, ok := ids[name]
	return ok && id/64 < len(st.ran) && st.ran[id/64]&(1<<(id%64)) != 0
}

func (st *runStats) add(id int) {
	for len(st.ran) <= id/64 {
		st.ran = append(st.ran, 0)
	}
	st.ran[id/64] |= 1 << (id % 64)
}

// spec writes one testcase to the spool.
func (c *converter) spec(s e2elog.Spec) error {
	st := c.stats(s.Run)
	if s.NodeType == "ReportAfterSuite" {
		if st.reportNodeSeen || s.Text == junitReportNode {
			st.reportNodeSeen = true
			return nil
		}
	}
	tc := testcase(s)
	if tc.Classname == "" {
		tc.Classname = DefaultSuite
	}
	if st.written > 0 || st.start > 0 {
		if _, err := c.spool.WriteString("\n"); err != nil {
			return fmt.Errorf("writing testcase %q: %w", tc.Name, err)
		}
	}
	if err := writeTestcase(c.spool, tc); err != nil {
		return fmt.Errorf("writing testcase %q: %w", tc.Name, err)
	}
	st.end = c.spool.n
	st.written++
	if s.SuiteNode() {
		st.suiteNodes++
		switch s.State {
		case e2elog.Failed, e2elog.TimedOut:
			st.nodeFailures++
		case e2elog.Panicked, e2elog.Interrupted, e2elog.Aborted:
			st.nodeErrors++
		}
		return nil
	}
	switch s.State {
	case e2elog.Skipped:
		st.skipped++
	case e2elog.Pending:
		st.pending++
	case e2elog.Failed, e2elog.TimedOut:
		st.itFailures++
	case e2elog.Panicked, e2elog.Interrupted, e2elog.Aborted:
		st.itErrors++
	}
	if !strings.Contains(s.Text, "[Conformance]") {
		return nil
	}
	name := coverage.NormalizeName(s.JUnitName())
	id, ok := c.ids[name]
	if !ok {
		id = len(c.ids)
		c.ids[name] = id
	}
	st.add(id)
	status := coverageStatus(s.State)
	if prev, ok := c.outcomes[name]; !ok || prev == coverage.Skipped || status == coverage.Failed || status == coverage.Error {
		c.outcomes[name] = status
	}
	return nil
}

func coverageStatus(s e2elog.State) coverage.Status {
	switch s {
	case e2elog.Passed:
		return coverage.Passed
	case e2elog.Skipped, e2elog.Pending:
		return coverage.Skipped
	case e2elog.Panicked, e2elog.Interrupted:
		return coverage.Error
	}
	return coverage.Failed
}

func suiteName(run *e2elog.Run) string {
	if run.Suite != "" {
		return run.Suite
	}
	return DefaultSuite
}

// testcase maps a spec to JUnit the way Ginkgo's reporter of that
// generation does.
func testcase(s e2elog.Spec) junit.Testcase {
	tc := junit.Testcase{
		Name:      xmlSafe(s.JUnitName()),
		Classname: xmlSafe(s.Suite),
		Status:    string(s.State),
		Time:      "0",
	}
	if s.HasDuration {
		tc.Time = strconv.FormatFloat(s.Duration.Seconds(), 'f', 3, 64)
	}
	f := s.Failure
	first := xmlSafe(f.FirstLine())
	if s.Format == e2elog.GinkgoV1 {
		switch s.State {
		case e2elog.Skipped, e2elog.Pending:
			tc.Skipped = &junit.Result{Message: first}
		case e2elog.Failed, e2elog.TimedOut, e2elog.Panicked:
			typ := map[e2elog.State]string{e2elog.Failed: "Failure", e2elog.TimedOut: "Timeout", e2elog.Panicked: "Panic"}[s.State]
			tc.Failure = &junit.Result{Message: first, Type: typ, Data: xmlSafe(v1FailureText(f))}
		}
		return tc
	}
	switch s.State {
	case e2elog.Skipped:
		msg := "skipped"
		if r := strings.TrimSpace(strings.TrimPrefix(first, "[SKIPPED]")); r != "" {
			msg += " - " + r
		}
		tc.Skipped = &junit.Result{Message: msg}
	case e2elog.Pending:
		tc.Skipped = &junit.Result{Message: "pending"}
	case e2elog.Failed, e2elog.TimedOut, e2elog.Aborted:
		tc.Failure = &junit.Result{Message: first, Type: string(s.State), Data: xmlSafe(v2FailureText(f))}
	case e2elog.Panicked, e2elog.Interrupted:
		msg := first
		if s.State == e2elog.Panicked && f != nil && f.Panic != "" {
			msg = xmlSafe(f.Panic)
		}
		tc.Error = &junit.Result{Message: msg, Type: string(s.State), Data: xmlSafe(v2FailureText(f))}
	}
	return tc
}

// v2FailureText is the failure as Ginkgo v2's JUnit description starts:
// the message, then "In [It] at: location @ time".
func v2FailureText(f *e2elog.Failure) string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(f.Message)
	if f.Location != "" {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "In [%s] at: %s", f.NodeType, f.Location)
		if f.Time != "" {
			b.WriteString(" @ " + f.Time)
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// v1FailureText is Ginkgo v1's JUnit failure: component location,
// message, failure location.
func v1FailureText(f *e2elog.Failure) string {
	if f == nil {
		return ""
	}
	return f.ComponentLocation + "\n" + f.Message + "\n" + f.Location
}

// suite builds the <testsuite> element (without testcases) of one run with
// Ginkgo's totals and properties.
func (c *converter) suite(run *e2elog.Run, st *runStats, res *Result) junit.Testsuite {
	s := junit.Testsuite{Name: xmlSafe(suiteName(run)), ID: run.Index, Package: xmlSafe(run.SuitePath)}
	sum := run.Summary
	switch {
	case run.Format == e2elog.GinkgoV1 && sum != nil && sum.HasCounts:
		// Ginkgo v1: tests is the number of specs that ran.
		s.Tests, s.Failures = sum.Ran, sum.Failed
		s.Skipped = max(sum.Total-sum.Ran, 0)
	case run.Format == e2elog.GinkgoV1:
		s.Tests = st.written - st.skipped - st.pending + run.AnonymousPassed
		s.Failures = st.itFailures + st.itErrors
		s.Skipped = st.skipped + run.AnonymousSkipped
	case sum != nil && sum.BeforeSuiteFailed:
		// Specs get no report when a BeforeSuite node fails.
		s.Tests = st.suiteNodes
		s.Failures, s.Errors = st.nodeFailures, st.nodeErrors
	case sum != nil && sum.HasCounts:
		s.Tests = sum.Total + st.suiteNodes
		s.Failures = max(sum.Failed-st.itErrors, st.itFailures) + st.nodeFailures
		s.Errors = st.itErrors + st.nodeErrors
		s.Skipped, s.Disabled = sum.Skipped, sum.Pending
	default:
		s.Tests = st.written + run.AnonymousPassed + run.AnonymousSkipped
		s.Failures = st.itFailures + st.nodeFailures
		s.Errors = st.itErrors + st.nodeErrors
		s.Skipped, s.Disabled = st.skipped+run.AnonymousSkipped, st.pending
	}
	if sum != nil {
		s.Time = strconv.FormatFloat(sum.Seconds, 'f', 3, 64)
	} else {
		s.Time = "0"
	}
	add := func(k, v string) { s.AddProperty(k, xmlSafe(v)) }
	if sum != nil {
		add("SuiteSucceeded", strconv.FormatBool(sum.Succeeded && len(run.Incomplete) == 0))
		add("SpecialSuiteFailureReason", strings.Join(sum.Reasons, ","))
	} else {
		add("SuiteSucceeded", "false")
	}
	if run.RandomSeed != 0 {
		add("RandomSeed", strconv.FormatInt(run.RandomSeed, 10))
		add("RandomizeAllSpecs", strconv.FormatBool(run.RandomizeAll))
	}
	if run.Focus != "" || run.Skip != "" {
		add("FocusStrings", run.Focus)
		add("SkipStrings", run.Skip)
	}
	add("ParallelTotal", strconv.Itoa(max(run.Parallel, 1)))
	add("ConvertedBy", "confrun junit")
	add("LogFormat", run.Format.String())
	if run.E2EVersion != "" {
		add("E2ETestVersion", run.E2EVersion)
	}
	if run.APIServerVersion != "" {
		add("KubeAPIServerVersion", run.APIServerVersion)
	}
	add("Incomplete", strconv.FormatBool(len(run.Incomplete) > 0))
	if len(run.Incomplete) > 0 {
		add("IncompleteReason", strings.Join(run.Incomplete, "; "))
	}
	if res.Release != "" {
		add("ConformanceRelease", res.Release)
	}
	return s
}

// writeOpen writes the start tag of element name holding v (with its
// attributes and children) without closing it.
func writeOpen(w *bufio.Writer, v any, name, prefix string) error {
	var buf strings.Builder
	enc := xml.NewEncoder(&buf)
	enc.Indent(prefix, "\t")
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
		return fmt.Errorf("encoding JUnit XML: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return fmt.Errorf("encoding JUnit XML: %w", err)
	}
	s := buf.String()
	i := strings.LastIndex(s, "</"+name+">")
	if i < 0 {
		return errors.New("encoding JUnit XML: no closing tag")
	}
	_, err := w.WriteString(strings.TrimRight(s[:i], " \t\n"))
	return err
}

// writeSuiteOpen writes the start of a <testsuite> element and its
// properties as encoding/xml would (one tab of indentation), by hand, for
// logs that hold many runs.
func writeSuiteOpen(w *bufio.Writer, s junit.Testsuite) error {
	ws := func(x string) { _, _ = w.WriteString(x) }
	attr := func(name, v string, omitEmpty bool) {
		if omitEmpty && (v == "" || v == "0") {
			return
		}
		ws(" ")
		ws(name)
		ws(`="`)
		_ = escapeAttr(w, v)
		ws(`"`)
	}
	itoa := strconv.Itoa
	ws("\t<testsuite")
	attr("name", s.Name, false)
	attr("tests", itoa(s.Tests), false)
	attr("failures", itoa(s.Failures), false)
	attr("errors", itoa(s.Errors), false)
	attr("id", itoa(s.ID), false)
	attr("disabled", itoa(s.Disabled), true)
	attr("hostname", s.Hostname, true)
	attr("package", s.Package, true)
	attr("skipped", itoa(s.Skipped), true)
	attr("time", s.Time, false)
	attr("timestamp", s.Timestamp, true)
	attr("file", s.File, true)
	ws(">")
	if s.Properties != nil && len(*s.Properties) > 0 {
		ws("\n\t\t<properties>")
		for _, p := range *s.Properties {
			ws("\n\t\t\t<property")
			attr("name", p.Name, false)
			attr("value", p.Value, false)
			ws("></property>")
		}
		ws("\n\t\t</properties>")
	}
	return nil
}

// writeTestcase writes tc as encoding/xml would with the junit package's
// field tags (two tabs of indentation), by hand: a log with tens of
// thousands of specs spends most of its time here otherwise.
func writeTestcase(w io.Writer, tc junit.Testcase) error {
	bw, ok := w.(interface {
		io.Writer
		io.StringWriter
	})
	if !ok {
		bw = bufio.NewWriter(w)
	}
	var err error
	ws := func(s string) {
		if err == nil {
			_, err = bw.WriteString(s)
		}
	}
	attr := func(name, v string) {
		ws(" ")
		ws(name)
		ws(`="`)
		if err == nil {
			err = escapeAttr(bw, v)
		}
		ws(`"`)
	}
	ws("\t\t<testcase")
	attr("name", tc.Name)
	attr("classname", tc.Classname)
	if tc.Time != "" {
		attr("time", tc.Time)
	}
	if tc.Status != "" {
		attr("status", tc.Status)
	}
	children := 0
	for _, r := range []struct {
		tag string
		res *junit.Result
	}{{"skipped", tc.Skipped}, {"error", tc.Error}, {"failure", tc.Failure}} {
		if r.res == nil {
			continue
		}
		if children == 0 {
			ws(">")
		}
		children++
		ws("\n\t\t\t<")
		ws(r.tag)
		attr("message", r.res.Message)
		if r.res.Type != "" {
			attr("type", r.res.Type)
		}
		ws(">")
		if d := r.res.Data; d != "" {
			ws("<![CDATA[")
			for {
				i := strings.Index(d, "]]>")
				if i < 0 {
					break
				}
				ws(d[:i])
				ws("]]]]><![CDATA[>")
				d = d[i+3:]
			}
			ws(d)
			ws("]]>")
		}
		ws("</")
		ws(r.tag)
		ws(">")
	}
	if children == 0 {
		ws("></testcase>")
	} else {
		ws("\n\t\t</testcase>")
	}
	if f, ok := bw.(*bufio.Writer); ok && f != w {
		if ferr := f.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// escapeAttr writes s escaped as encoding/xml escapes attribute values
// (xml.EscapeText), without converting it to a byte slice first.
func escapeAttr(w io.StringWriter, s string) error {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\'' && c != '&' && c != '<' && c != '>' {
			i++
			continue
		}
		var esc string
		width := 1
		switch c {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			var r rune
			r, width = utf8.DecodeRuneInString(s[i:])
			if xmlChar(r) && !(r == utf8.RuneError && width == 1) {
				i += width
				continue
			}
			esc = "\uFFFD"
		}
		if _, err := w.WriteString(s[last:i]); err != nil {
			return err
		}
		if _, err := w.WriteString(esc); err != nil {
			return err
		}
		i += width
		last = i
	}
	_, err := w.WriteString(s[last:])
	return err
}

func (c *converter) writeSuite(w *bufio.Writer, s junit.Testsuite, st *runStats, notRun []junit.Testcase) error {
	if _, err := w.WriteString("\n"); err != nil {
		return err
	}
	if err := writeSuiteOpen(w, s); err != nil {
		return err
	}
	if st.end > st.start {
		if _, err := w.WriteString("\n"); err != nil {
			return err
		}
		sec, err := c.spool.section(st.start, st.end)
		if err != nil {
			return err
		}
		// Testcases after the first in the spool start with the
		// newline that separates them.
		r := bufio.NewReader(sec)
		if b, err := r.Peek(1); err == nil && b[0] == '\n' {
			_, _ = r.Discard(1)
		}
		if _, err := io.Copy(w, r); err != nil {
			return fmt.Errorf("copying testcases from the spool: %w", err)
		}
	}
	for _, tc := range notRun {
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
		if err := writeTestcase(w, tc); err != nil {
			return err
		}
	}
	_, err := w.WriteString("\n\t</testsuite>")
	return err
}

// xmlSafe replaces invalid UTF-8 and characters XML 1.0 forbids with U+FFFD
// (the encoder writes character data verbatim into CDATA sections).
func xmlSafe(s string) string {
	i := 0
	for i < len(s) && (s[i] >= 0x20 && s[i] < utf8.RuneSelf || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	if i == len(s) {
		return s
	}
	ok := utf8.ValidString(s)
	for _, r := range s {
		if !xmlChar(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !xmlChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func xmlChar(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true // already the replacement
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return r <= 0x10FFFF
}
