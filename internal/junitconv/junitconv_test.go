package junitconv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jstemmer/go-junit-report/v2/junit"

	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/coverage"
	"github.com/confrun/confrun/internal/e2elog"
	"github.com/confrun/confrun/internal/e2elog/e2elogtest"
	"github.com/confrun/confrun/internal/release"
)

var samples = filepath.Dir(e2elogtest.SampleDir("x"))

// doc is enough of a JUnit file, Ginkgo's or ours, to compare.
type doc struct {
	XMLName  xml.Name
	Tests    int     `xml:"tests,attr"`
	Failures int     `xml:"failures,attr"`
	Errors   int     `xml:"errors,attr"`
	Disabled int     `xml:"disabled,attr"`
	Suites   []suite `xml:"testsuite"`
}

type suite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Disabled   int        `xml:"disabled,attr"`
	Properties []property `xml:"properties>property"`
	Cases      []tcase    `xml:"testcase"`
}

type property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type tcase struct {
	Name      string  `xml:"name,attr"`
	Classname string  `xml:"classname,attr"`
	Status    string  `xml:"status,attr"`
	Time      float64 `xml:"time,attr"`
	Failure   *result `xml:"failure"`
	Error     *result `xml:"error"`
	Skipped   *result `xml:"skipped"`
}

type result struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

func (s suite) prop(name string) string {
	for _, p := range s.Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func parseDoc(t testing.TB, b []byte) doc {
	t.Helper()
	var d doc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatalf("invalid JUnit XML: %v", err)
	}
	if d.XMLName.Local == "testsuite" { // Ginkgo v1 writes a bare suite
		var s suite
		if err := xml.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		d.Suites = []suite{s}
	}
	return d
}

func convert(t testing.TB, path string, opts Options) (*Result, []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	res, err := Convert(context.Background(), f, &out, opts)
	if err != nil {
		t.Fatalf("converting %s: %v", path, err)
	}
	return res, out.Bytes()
}

func readSampleJUnit(t testing.TB, dir string) []byte { return e2elogtest.JUnit(t, dir) }

func firstLine(s string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

func ran(status string) bool { return status != "skipped" && status != "pending" }

func isSuiteNode(name string) bool {
	return strings.HasPrefix(name, "[") && !strings.HasPrefix(name, "[It] ")
}

// compareWithGinkgo checks a converted JUnit against the one Ginkgo wrote
// for the same run: every testcase we wrote is in Ginkgo's with the same
// status, failure first line and location, and duration as printed; when
// the log is complete every test Ginkgo ran is in ours and the suite totals
// are equal. It returns the number of ran tests compared.
func compareWithGinkgo(t testing.TB, oursXML, ginkgoXML []byte) int {
	t.Helper()
	ours, theirs := parseDoc(t, oursXML), parseDoc(t, ginkgoXML)
	if len(ours.Suites) != 1 || len(theirs.Suites) != 1 {
		t.Fatalf("suites: ours %d, Ginkgo's %d", len(ours.Suites), len(theirs.Suites))
	}
	os, gs := ours.Suites[0], theirs.Suites[0]
	complete := os.prop("Incomplete") == "false"
	byName := map[string]tcase{}
	for _, c := range gs.Cases {
		byName[c.Name] = c
	}
	mine := map[string]bool{}
	compared := 0
	for _, c := range os.Cases {
		mine[c.Name] = true
		g, ok := byName[c.Name]
		if !ok {
			t.Errorf("we wrote %q, Ginkgo's JUnit has no such test", c.Name)
			continue
		}
		if c.Status != g.Status {
			t.Errorf("%q: status %q, Ginkgo says %q", c.Name, c.Status, g.Status)
		}
		if c.Classname != g.Classname {
			t.Errorf("%q: classname %q, Ginkgo says %q", c.Name, c.Classname, g.Classname)
		}
		if strings.Contains(c.Skippedmsg(), "not run:") {
			continue
		}
		compared++
		if math.Abs(c.Time-g.Time) > 0.0006 {
			t.Errorf("%q: time %v, Ginkgo says %v", c.Name, c.Time, g.Time)
		}
		if g.Failure != nil || g.Error != nil {
			gr, or := g.Failure, c.Failure
			if gr == nil {
				gr, or = g.Error, c.Error
			}
			if or == nil {
				t.Errorf("%q: no failure written", c.Name)
				continue
			}
			want := firstLine(gr.Message)
			if want == "" {
				want = firstLine(gr.Body)
			}
			if got := firstLine(or.Message); got != want && firstLine(or.Body) != want {
				t.Errorf("%q: failure starts %q, Ginkgo's %q", c.Name, got, want)
			}
			if loc := locationLine(or.Body); loc == "" || !strings.Contains(gr.Body, loc) {
				t.Errorf("%q: failure location %q not in Ginkgo's failure %q", c.Name, loc, gr.Body)
			}
		}
	}
	missing := 0
	for _, g := range gs.Cases {
		if !ran(g.Status) || mine[g.Name] {
			continue
		}
		missing++
		if complete || g.Failure != nil || g.Error != nil && !isSuiteNode(g.Name) {
			t.Errorf("Ginkgo ran %q (%s); it is missing from ours", g.Name, g.Status)
		}
	}
	if complete {
		if os.Tests != gs.Tests || os.Failures != gs.Failures || os.Errors != gs.Errors || os.Skipped != gs.Skipped || os.Disabled != gs.Disabled {
			t.Errorf("totals: ours tests=%d failures=%d errors=%d skipped=%d disabled=%d, Ginkgo's %d %d %d %d %d",
				os.Tests, os.Failures, os.Errors, os.Skipped, os.Disabled, gs.Tests, gs.Failures, gs.Errors, gs.Skipped, gs.Disabled)
		}
		if ours.Tests != theirs.Tests || ours.Failures != theirs.Failures || ours.Disabled != theirs.Disabled {
			t.Errorf("<testsuites> totals: ours %d/%d/%d, Ginkgo's %d/%d/%d", ours.Tests, ours.Failures, ours.Disabled, theirs.Tests, theirs.Failures, theirs.Disabled)
		}
	} else {
		// What the log does not name is missing, and only that: passing
		// tests and suite nodes; the failures and skips still add up.
		if os.Failures != gs.Failures || os.Errors != gs.Errors {
			t.Errorf("failures: ours %d/%d, Ginkgo's %d/%d", os.Failures, os.Errors, gs.Failures, gs.Errors)
		}
		if gs.Skipped > 0 && os.Skipped != gs.Skipped {
			t.Errorf("skipped: ours %d, Ginkgo's %d", os.Skipped, gs.Skipped)
		}
		if missing == 0 {
			t.Errorf("marked incomplete but nothing Ginkgo ran is missing")
		}
	}
	return compared
}

func (c tcase) Skippedmsg() string {
	if c.Skipped == nil {
		return ""
	}
	return c.Skipped.Message
}

// locationLine is the "In [X] at: file:line" of a failure, without time.
func locationLine(body string) string {
	for l := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(l, "In [") {
			l, _, _ = strings.Cut(l, " @ ")
			return l
		}
	}
	return ""
}

func TestRealSamplesMatchGinkgo(t *testing.T) {
	for _, c := range []struct {
		name       string
		incomplete bool
	}{
		{"v1.34-node-basic", false},
		{"v1.34-node-basic-succinct", true},
		{"v1.34-beforesuite-failure", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(samples, c.name)
			res, out := convert(t, filepath.Join(dir, "e2e.log"), Options{})
			if res.IsIncomplete() != c.incomplete {
				t.Errorf("incomplete = %v (%q)", res.IsIncomplete(), res.Incomplete)
			}
			n := compareWithGinkgo(t, out, readSampleJUnit(t, dir))
			if n == 0 {
				t.Error("nothing compared")
			}
		})
	}
}

func TestConformanceNotRunListed(t *testing.T) {
	// The verbose fixture names v1.34 (its e2e test version line).
	res, out := convert(t, "../e2elog/testdata/v2/verbose-serial.log", Options{})
	if res.Release != "v1.34" || res.ReleaseFrom != "e2e test version" {
		t.Fatalf("release %q from %q", res.Release, res.ReleaseFrom)
	}
	required, err := coverage.Required(release.MustParse("v1.34"))
	if err != nil {
		t.Fatal(err)
	}
	d := parseDoc(t, out)
	ranNames := map[string]bool{}
	listed := 0
	for _, c := range d.Suites[0].Cases {
		if strings.Contains(c.Skippedmsg(), "not run:") {
			listed++
			if c.Status != "skipped" || !strings.HasPrefix(c.Name, "[It] ") {
				t.Errorf("listed %+v", c)
			}
			continue
		}
		ranNames[coverage.NormalizeName(c.Name)] = true
	}
	want := 0
	for _, r := range required {
		if !ranNames[r] {
			want++
		}
	}
	if listed != want || res.NotRun != want || want == len(required) {
		t.Errorf("listed %d not-run tests, want %d of %d", listed, want, len(required))
	}
	// Listing adds testcases, not totals: tests is still M + suite nodes.
	// Four suite nodes: the JUnit report node is not one of them.
	if s := d.Suites[0]; s.Tests != 100+4 || s.Skipped != 93 || s.Disabled != 1 || s.Failures != 3 || s.Errors != 1 {
		t.Errorf("totals: tests %d skipped %d disabled %d failures %d errors %d", s.Tests, s.Skipped, s.Disabled, s.Failures, s.Errors)
	}
	if res.Coverage == nil || res.Coverage.OK() || res.Coverage.Required != len(required) {
		t.Errorf("coverage %+v", res.Coverage)
	}
	// The JUnit writer node is not in Ginkgo's report, so not in ours.
	if bytes.Contains(out, []byte("Kubernetes e2e JUnit report")) {
		t.Error("wrote the JUnit report node")
	}

	// --no-not-run, and an explicit release.
	res, _ = convert(t, "../e2elog/testdata/v2/verbose-serial.log", Options{NoNotRunList: true, Release: release.MustParse("v1.33")})
	if res.NotRun != 0 || res.Release != "v1.33" || res.ReleaseFrom != "--release" {
		t.Errorf("%+v", res)
	}
}

func TestNotListedWhenNamesMissing(t *testing.T) {
	res, _ := convert(t, filepath.Join(samples, "v1.34-node-basic-succinct", "e2e.log"), Options{Release: release.MustParse("v1.34")})
	if res.NotRun != 0 || !res.NamesMissing || !res.IsIncomplete() {
		t.Errorf("%+v", res)
	}
}

func TestGinkgoV1Totals(t *testing.T) {
	res, out := convert(t, "../e2elog/testdata/v1/verbose-serial.log", Options{NoNotRunList: true})
	s := parseDoc(t, out).Suites[0]
	// Ginkgo v1: tests = specs that ran, failures = its failed count.
	if s.Tests != 6 || s.Failures != 4 || s.Skipped != 5226 || res.IsIncomplete() || s.prop("LogFormat") != "ginkgo-v1" {
		t.Errorf("suite %+v", s)
	}
	var pods tcase
	for _, c := range s.Cases {
		if strings.HasPrefix(c.Name, "[k8s.io] [sig-node] Pods") {
			pods = c
		}
	}
	if pods.Failure == nil || pods.Failure.Type != "Failure" || !strings.HasSuffix(strings.Split(pods.Failure.Body, "\n")[0], "framework/framework.go:597") ||
		!strings.HasSuffix(strings.TrimSpace(pods.Failure.Body), "framework/pods.go:103") {
		t.Errorf("v1 failure %+v", pods.Failure)
	}
	if res.Release != "v1.19" || res.Coverage == nil {
		t.Errorf("release %q", res.Release)
	}
}

func TestSuiteTotalsWithoutSummary(t *testing.T) {
	res, out := convert(t, "../e2elog/testdata/v2/truncated.log", Options{})
	s := parseDoc(t, out).Suites[0]
	if !res.IsIncomplete() || s.prop("Incomplete") != "true" || !strings.Contains(s.prop("IncompleteReason"), "final summary") {
		t.Errorf("%+v", s.Properties)
	}
	if s.Tests != len(s.Cases)-res.NotRun+6 { // 6 skipped denoters
		t.Errorf("tests %d with %d cases", s.Tests, len(s.Cases))
	}
}

func TestXMLSafe(t *testing.T) {
	log := strings.Replace(mustRead(t, "../e2elog/testdata/v2/verbose-serial.log"), "timed out waiting for the condition", "timed out \x01\x1f waiting ]]> for \xff the condition", 1)
	var out bytes.Buffer
	if _, err := Convert(context.Background(), strings.NewReader(log), &out, Options{}); err != nil {
		t.Fatal(err)
	}
	d := parseDoc(t, out.Bytes())
	found := false
	for _, c := range d.Suites[0].Cases {
		if c.Failure != nil && strings.Contains(c.Failure.Body, "waiting ]]> for \uFFFD the condition") {
			found = true
		}
	}
	if !found {
		t.Error("failure text with ]]> and invalid characters did not survive")
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConvertFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "junit_01.xml")
	logPath := filepath.Join(samples, "v1.34-node-basic", "e2e.log")
	res, err := ConvertFile(context.Background(), logPath, out, false, Options{})
	if err != nil || res.Output != out {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out)
	if _, err := ConvertFile(context.Background(), logPath, out, false, Options{}); !errors.Is(err, atomicfile.ErrExists) {
		t.Errorf("second write: %v", err)
	}
	if _, err := ConvertFile(context.Background(), logPath, out, true, Options{}); err != nil {
		t.Errorf("forced write: %v", err)
	}
	again, _ := os.ReadFile(out)
	if !bytes.Equal(first, again) {
		t.Error("conversion is not deterministic")
	}

	garbage := filepath.Join(dir, "garbage.log")
	if err := os.WriteFile(garbage, []byte("\x00\x01\x02binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.xml")
	var ne *e2elog.NotE2ELogError
	if _, err := ConvertFile(context.Background(), garbage, bad, false, Options{}); !errors.As(err, &ne) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("output written for garbage input: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("leftover files: %v", ents)
	}
}

func TestPropertiesLikeGinkgo(t *testing.T) {
	_, out := convert(t, filepath.Join(samples, "v1.34-node-basic", "e2e.log"), Options{})
	s := parseDoc(t, out).Suites[0]
	g := parseDoc(t, readSampleJUnit(t, filepath.Join(samples, "v1.34-node-basic"))).Suites[0]
	for _, p := range []string{"SuiteSucceeded", "RandomSeed", "RandomizeAllSpecs", "ParallelTotal", "SpecialSuiteFailureReason"} {
		if s.prop(p) != g.prop(p) {
			t.Errorf("property %s = %q, Ginkgo's %q", p, s.prop(p), g.prop(p))
		}
	}
	if s.prop("E2ETestVersion") == "" || s.prop("Incomplete") != "false" {
		t.Errorf("properties %+v", s.Properties)
	}
	if _, err := strconv.ParseBool(s.prop("Incomplete")); err != nil {
		t.Error(err)
	}
}

func TestWriteTestcaseMatchesEncodingXML(t *testing.T) {
	for _, tc := range []junit.Testcase{
		{Name: "[SynchronizedBeforeSuite]", Classname: "Kubernetes e2e suite", Time: "0.019", Status: "passed"},
		{Name: `[It] a "quoted" <b> & 'c'` + "\t\n", Classname: "x", Time: "1.000", Status: "failed",
			Failure: &junit.Result{Message: "[FAILED] boom\u00e9", Type: "failed", Data: "line 1\n]]> and <![CDATA[x]]>\nIn [It] at: a.go:1\n"}},
		{Name: "p", Classname: "x", Status: "panicked", Error: &junit.Result{Message: "nil", Type: "panicked"}},
		{Name: "s", Classname: "x", Time: "0", Status: "skipped", Skipped: &junit.Result{Message: "skipped - why"}},
		{Name: "", Classname: ""},
	} {
		var want bytes.Buffer
		enc := xml.NewEncoder(&want)
		enc.Indent("\t\t", "\t")
		if err := enc.EncodeElement(tc, xml.StartElement{Name: xml.Name{Local: "testcase"}}); err != nil {
			t.Fatal(err)
		}
		_ = enc.Flush()
		var got bytes.Buffer
		if err := writeTestcase(&got, tc); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("writeTestcase:\n%s\nencoding/xml:\n%s", got.String(), want.String())
		}
	}
}

func TestWriteSuiteOpenMatchesEncodingXML(t *testing.T) {
	for _, s := range []junit.Testsuite{
		{Name: "Kubernetes e2e suite", Tests: 7148, Failures: 6, ID: 0, Package: "/usr/local/bin", Skipped: 7090, Disabled: 1, Time: "161.249"},
		{Name: `a "b" <c>`, Time: "0"},
	} {
		s.AddProperty("SuiteSucceeded", "false")
		s.AddProperty("IncompleteReason", "a\nb & 'c'")
		var want, got bytes.Buffer
		bw := bufio.NewWriter(&want)
		if err := writeOpen(bw, s, "testsuite", "\t"); err != nil {
			t.Fatal(err)
		}
		_ = bw.Flush()
		gw := bufio.NewWriter(&got)
		if err := writeSuiteOpen(gw, s); err != nil {
			t.Fatal(err)
		}
		_ = gw.Flush()
		if got.String() != want.String() {
			t.Errorf("writeSuiteOpen:\n%s\nencoding/xml:\n%s", got.String(), want.String())
		}
	}
}

func TestUnknownReleaseIsExplained(t *testing.T) {
	// A Kubernetes v1.16 log: converted, but there is no v1.16 conformance
	// list to check it against, and the result says so.
	res, _ := convert(t, "../e2elog/testdata/v1/normal-serial.log", Options{})
	if res.Coverage != nil || res.Release != "" || !strings.Contains(res.ReleaseNote, "v1.16") || res.IsIncomplete() {
		t.Errorf("%+v", res)
	}
	res, _ = convert(t, filepath.Join(samples, "v1.34-node-basic", "e2e.log"), Options{})
	if res.Coverage != nil || !strings.Contains(res.ReleaseNote, "names no release") {
		t.Errorf("%+v", res)
	}
}

func TestSpoolToFileGivesTheSameXML(t *testing.T) {
	// Several runs, so that suites read their testcases from the middle
	// of the spool.
	var in []byte
	for _, p := range []string{"../e2elog/testdata/v2/verbose-serial.log", filepath.Join(samples, "v1.34-node-basic", "e2e.log"), "../e2elog/testdata/v1/verbose-serial.log"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, b...)
	}
	var inMem, onDisk bytes.Buffer
	dir := t.TempDir()
	if _, err := Convert(context.Background(), bytes.NewReader(in), &inMem, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(context.Background(), bytes.NewReader(in), &onDisk, Options{spoolLimit: 1024, SpoolDir: dir}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inMem.Bytes(), onDisk.Bytes()) {
		t.Error("the file spool changes the output")
	}
	if d := parseDoc(t, onDisk.Bytes()); len(d.Suites) != 3 {
		t.Errorf("%d suites", len(d.Suites))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("spool left behind: %v", ents)
	}
}
