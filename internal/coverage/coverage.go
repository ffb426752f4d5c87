// Package coverage reads a junit_01.xml and checks it against the
// conformance tests of a Kubernetes release the way the k8s-conformance
// review bot (kubernetes-sigs/verify-conformance) does.
package coverage

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/confrun/confrun/internal/release"
)

// Status is the outcome of one testcase.
type Status string

// Test outcomes. Ginkgo's pending specs count as skipped; panicked and
// interrupted specs (written as <error>) as error.
const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
	Error   Status = "error"
)

// Test is one testcase of a JUnit report.
type Test struct {
	Name    string
	Status  Status
	Message string
}

// NormalizeName strips Ginkgo v2's leading "[It] " and trims space, so junit
// names compare to conformance.yaml codenames. Like the review bot it also
// accepts the single-quoted 'cat /tmp/health' some reports carry for the
// probe tests whose codename double-quotes it.
func NormalizeName(junitName string) string {
	n := strings.TrimSpace(junitName)
	n = strings.TrimPrefix(n, "[It] ")
	n = strings.ReplaceAll(n, "'cat /tmp/health'", `"cat /tmp/health"`)
	return strings.TrimSpace(n)
}

type xmlMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

type xmlTestcase struct {
	Name    string      `xml:"name,attr"`
	Status  string      `xml:"status,attr"`
	Failure *xmlMessage `xml:"failure"`
	Error   *xmlMessage `xml:"error"`
	Skipped *xmlMessage `xml:"skipped"`
}

// ReadJUnit reads a junit_01.xml (Ginkgo v1 or v2, <testsuites> or bare
// <testsuite>) streaming, returning every testcase.
func ReadJUnit(r io.Reader) ([]Test, error) {
	dec := xml.NewDecoder(r)
	var tests []Test
	sawSuite := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parsing JUnit XML: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "testsuites", "testsuite":
			sawSuite = true
		case "testcase":
			var tc xmlTestcase
			if err := dec.DecodeElement(&tc, &se); err != nil {
				return nil, fmt.Errorf("parsing JUnit testcase: %w", err)
			}
			tests = append(tests, tc.test())
		}
	}
	if !sawSuite {
		return nil, errors.New("not a JUnit report: no <testsuites> or <testsuite> element")
	}
	return tests, nil
}

func (tc xmlTestcase) test() Test {
	t := Test{Name: tc.Name}
	switch {
	case tc.Failure != nil:
		t.Status, t.Message = Failed, tc.Failure.text()
	case tc.Error != nil:
		t.Status, t.Message = Error, tc.Error.text()
	case tc.Skipped != nil:
		t.Status, t.Message = Skipped, tc.Skipped.text()
	default:
		// Ginkgo v2 always writes a child for these, but be lenient with
		// reports that only carry the status attribute.
		switch tc.Status {
		case "failed", "timedout", "aborted":
			t.Status = Failed
		case "panicked", "interrupted", "errored", "error":
			t.Status = Error
		case "skipped", "pending", "disabled":
			t.Status = Skipped
		default:
			t.Status = Passed
		}
	}
	return t
}

// text is the message attribute, or the first non-empty line of the body
// (Ginkgo v2 leaves the attribute empty).
func (m *xmlMessage) text() string {
	if s := strings.TrimSpace(m.Message); s != "" {
		return s
	}
	for line := range strings.SplitSeq(m.Body, "\n") {
		if s := strings.TrimSpace(line); s != "" {
			return s
		}
	}
	return ""
}

// Report is the conformance coverage of a JUnit report for one release.
type Report struct {
	Release  string `json:"release"`
	Required int    `json:"required"` // conformance tests of that release
	Passed   int    `json:"passed"`
	// Failed holds the codenames of [Conformance] tests that failed or
	// errored, required or not: the review bot rejects any such failure.
	Failed []string `json:"failed,omitempty"`
	// Missing holds required codenames that did not run (absent or
	// skipped) and did not fail.
	Missing []string `json:"missing,omitempty"`
}

// OK reports whether every required test passed and none failed.
func (r Report) OK() bool {
	return len(r.Failed) == 0 && len(r.Missing) == 0 && r.Passed == r.Required
}

// Required returns the codenames of the conformance tests release r
// requires: tests promoted in a release newer than r do not count.
func Required(r release.Release) ([]string, error) {
	all, err := release.ConformanceTests(r)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range all {
		since, err := earliest(t.Release)
		if err != nil {
			return nil, fmt.Errorf("conformance.yaml of %s, test %q: %w", r, t.CodeName, err)
		}
		if (!since.IsZero() && r.Less(since)) || seen[t.CodeName] {
			continue
		}
		seen[t.CodeName] = true
		out = append(out, t.CodeName)
	}
	return out, nil
}

// earliest is the oldest release of a conformance.yaml release field such
// as "v1.9, v1.18". A few old entries leave it empty: they are required by
// the release whose list holds them.
func earliest(field string) (release.Release, error) {
	var min release.Release
	if strings.TrimSpace(field) == "" {
		return min, nil
	}
	for part := range strings.SplitSeq(field, ",") {
		r, err := release.Parse(part)
		if err != nil {
			return release.Release{}, err
		}
		if min.IsZero() || r.Less(min) {
			min = r
		}
	}
	return min, nil
}

// Check compares tests against release r's conformance.yaml (tests newer
// than r don't count) by codename.
func Check(r release.Release, tests []Test) (Report, error) {
	required, err := Required(r)
	if err != nil {
		return Report{}, err
	}
	passed := map[string]bool{}
	failed := map[string]bool{}
	for _, t := range tests {
		name := NormalizeName(t.Name)
		switch t.Status {
		case Passed:
			passed[name] = true
		case Failed, Error:
			if strings.Contains(name, "[Conformance]") {
				failed[name] = true
			}
		}
	}
	rep := Report{Release: r.String(), Required: len(required)}
	for _, name := range required {
		switch {
		case failed[name]:
		case passed[name]:
			rep.Passed++
		default:
			rep.Missing = append(rep.Missing, name)
		}
	}
	for name := range failed {
		rep.Failed = append(rep.Failed, name)
	}
	sort.Strings(rep.Failed)
	sort.Strings(rep.Missing)
	return rep, nil
}

// Write prints the summary line, "conformance: 424/424 required tests
// passed", and when something is wrong the failed and missing codenames, at
// most maxList of each (0 or less: all).
func (r Report) Write(w io.Writer, maxList int) error {
	ew := &errWriter{w: w}
	ew.printf("conformance: %d/%d required tests passed", r.Passed, r.Required)
	if n := len(r.Failed); n > 0 {
		ew.printf(", %d failed", n)
	}
	if n := len(r.Missing); n > 0 {
		ew.printf(", %d missing", n)
	}
	ew.printf("\n")
	writeList(ew, "failed", r.Failed, maxList)
	writeList(ew, "missing (did not run, or skipped)", r.Missing, maxList)
	return ew.err
}

func writeList(ew *errWriter, title string, names []string, maxList int) {
	if len(names) == 0 {
		return
	}
	ew.printf("  %s:\n", title)
	shown := names
	if maxList > 0 && len(names) > maxList {
		shown = names[:maxList]
	}
	for _, n := range shown {
		ew.printf("    - %s\n", n)
	}
	if rest := len(names) - len(shown); rest > 0 {
		ew.printf("    ... and %d more\n", rest)
	}
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
