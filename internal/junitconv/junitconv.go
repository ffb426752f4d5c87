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
	// names and outcomes of the conformance tests seen, by id (bounded by
	// the number of distinct conformance tests).
	names    []string
	outcomes []coverage.Status
	err      error
	// scratch holds a failure text or a test name while it is written.
	scratch []byte
	// badVersions are e2e test versions that name no release with data.
	badVersions map[string]bool
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
		res, cerr = Convert(ctx, f, startWriteback(w), opts)
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
	c := &converter{opts: opts, ids: map[string]int{}}
	limit := spoolMemLimit
	if opts.spoolLimit > 0 {
		limit = opts.spoolLimit
	}
	c.spool = newSpool(opts.SpoolDir, limit)
	defer c.spool.close()

	log, err := c.parse(ctx, in)
	if err != nil {
		return nil, err
	}
	for len(c.runs) < len(log.Runs) {
		c.runs = append(c.runs, &runStats{start: c.spool.size(), end: c.spool.size()})
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
	o := &output{w: out, buf: make([]byte, 0, outputChunk+outputSlack)}
	o.buf = append(o.buf, xml.Header...)
	if o.buf, err = appendOpen(o.buf, top, "testsuites", ""); err != nil {
		return nil, err
	}
	for i, s := range suites {
		if err := c.writeSuite(o, s, c.runs[i], notRun[i]); err != nil {
			return nil, err
		}
	}
	o.buf = append(o.buf, "\n</testsuites>\n"...)
	if o.flush(); o.err != nil {
		return nil, fmt.Errorf("writing the JUnit XML: %w", o.err)
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
		for id, st := range c.outcomes {
			tests = append(tests, coverage.Test{Name: c.names[id], Status: st})
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
	free := make(chan []e2elog.Spec, 6)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		for batch := range batches {
			for i := range batch {
				if err == nil {
					if err = c.spec(&batch[i]); err != nil {
						failed.Store(true)
					}
				}
				batch[i] = e2elog.Spec{} // drop what it holds
			}
			select {
			case free <- batch[:0]:
			default:
			}
		}
		if err == nil {
			err = c.spool.flush()
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
			select {
			case batch = <-free:
			default:
				batch = make([]e2elog.Spec, 0, batchSize)
			}
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
		if v == "" || c.badVersions[v] {
			continue
		}
		r, err := release.Parse(v)
		if err == nil && release.Check(r) == nil {
			return r, "e2e test version"
		}
		if c.badVersions == nil {
			c.badVersions = map[string]bool{}
		}
		c.badVersions[v] = true
	}
	return release.Release{}, ""
}

func (c *converter) stats(run int) *runStats {
	for len(c.runs) <= run {
		c.runs = append(c.runs, &runStats{start: c.spool.size(), end: c.spool.size()})
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
func (c *converter) spec(s *e2elog.Spec) error {
	st := c.stats(s.Run)
	if s.NodeType == "ReportAfterSuite" {
		if st.reportNodeSeen || s.Text == junitReportNode {
			st.reportNodeSeen = true
			return nil
		}
	}
	sp := c.spool
	if st.written > 0 || st.start > 0 {
		sp.buf = append(sp.buf, '\n')
	}
	sp.buf = appendSpec(sp.buf, s, &c.scratch)
	if err := sp.flush(); err != nil {
		return fmt.Errorf("writing testcase %q: %w", xmlSafe(s.JUnitName()), err)
	}
	st.end = sp.size()
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
	name := c.conformanceName(s)
	id, ok := c.ids[string(name)]
	if !ok {
		id = len(c.ids)
		key := string(name)
		c.ids[key] = id
		c.names = append(c.names, key)
		c.outcomes = append(c.outcomes, coverageStatus(s.State))
	}
	st.add(id)
	if status, prev := coverageStatus(s.State), c.outcomes[id]; prev == coverage.Skipped || status == coverage.Failed || status == coverage.Error {
		c.outcomes[id] = status
	}
	return nil
}

// conformanceName is coverage.NormalizeName(s.JUnitName()), built in
// c.scratch.
func (c *converter) conformanceName(s *e2elog.Spec) []byte {
	var n []byte
	if s.Format == e2elog.GinkgoV1 {
		if s.SuiteNode() {
			n = append(c.scratch[:0], s.NodeType...)
		} else {
			n = append(c.scratch[:0], s.Text...)
		}
	} else {
		n = append(append(append(append(c.scratch[:0], '['), s.NodeType...), "] "...), s.Text...)
	}
	c.scratch = n
	n = bytes.TrimSpace(n)
	n = bytes.TrimPrefix(n, []byte("[It] "))
	if bytes.Contains(n, []byte("'cat /tmp/health'")) {
		// What NormalizeName rewrites: let it.
		return []byte(coverage.NormalizeName(s.JUnitName()))
	}
	return bytes.TrimSpace(n)
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
	// As Testsuite.AddProperty, into one slice.
	props := make([]junit.Property, 0, 14)
	add := func(k, v string) { props = append(props, junit.Property{Name: k, Value: xmlSafe(v)}) }
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
	s.Properties = &props
	return s
}

// writeOpen writes the start tag of element name holding v (with its
// attributes and children) without closing it.
func writeOpen(w *bufio.Writer, v any, name, prefix string) error {
	b, err := appendOpen(nil, v, name, prefix)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// appendOpen appends what writeOpen writes.
func appendOpen(dst []byte, v any, name, prefix string) ([]byte, error) {
	var buf strings.Builder
	enc := xml.NewEncoder(&buf)
	enc.Indent(prefix, "\t")
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
		return dst, fmt.Errorf("encoding JUnit XML: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return dst, fmt.Errorf("encoding JUnit XML: %w", err)
	}
	s := buf.String()
	i := strings.LastIndex(s, "</"+name+">")
	if i < 0 {
		return dst, errors.New("encoding JUnit XML: no closing tag")
	}
	return append(dst, strings.TrimRight(s[:i], " \t\n")...), nil
}

// writeSuiteOpen writes the start of a <testsuite> element and its
// properties as encoding/xml would (one tab of indentation), by hand, for
// logs that hold many runs.
func writeSuiteOpen(w *bufio.Writer, s junit.Testsuite) error {
	_, err := w.Write(appendSuiteOpen(nil, s))
	return err
}

// appendSuiteOpen appends what writeSuiteOpen writes.
func appendSuiteOpen(b []byte, s junit.Testsuite) []byte {
	ws := func(x string) { b = append(b, x...) }
	attr := func(name, v string, omitEmpty bool) {
		if omitEmpty && (v == "" || v == "0") {
			return
		}
		b = appendAttr(b, name, v)
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
	return b
}

func (c *converter) writeSuite(o *output, s junit.Testsuite, st *runStats, notRun []junit.Testcase) error {
	o.buf = appendSuiteOpen(append(o.buf, '\n'), s)
	if st.end > st.start {
		o.buf = append(o.buf, '\n')
		// Testcases after the first in the spool start with the
		// newline that separates them.
		if err := c.spool.copySection(o, st.start, st.end); err != nil {
			return fmt.Errorf("copying testcases from the spool: %w", err)
		}
	}
	for _, tc := range notRun {
		o.buf = appendJUnitTestcase(append(o.buf, '\n'), tc)
		o.fill()
	}
	o.buf = append(o.buf, "\n\t</testsuite>"...)
	o.fill()
	return o.err
}

// outputChunk is how much of the JUnit XML is gathered before it is
// written; outputSlack is room for what comes between two checks.
const (
	outputChunk = 256 << 10
	outputSlack = 64 << 10
)

// output gathers the JUnit XML in buf and writes it out in chunks.
type output struct {
	w   io.Writer
	buf []byte
	err error // the first write error
}

// fill writes buf out once it holds a chunk: after it, buf has room for
// outputSlack bytes at least.
func (o *output) fill() {
	if len(o.buf) >= outputChunk {
		o.flush()
	}
}

func (o *output) flush() {
	if o.err == nil && len(o.buf) > 0 {
		_, o.err = o.w.Write(o.buf)
	}
	o.buf = o.buf[:0]
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
