package coverage

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/e2elog/e2elogtest"
	"github.com/confrun/confrun/internal/release"
)

func openSample(t *testing.T, name string) []byte {
	return e2elogtest.JUnit(t, e2elogtest.SampleDir(name))
}

// suiteCounts reads the counts Ginkgo itself wrote on <testsuite>.
func suiteCounts(t *testing.T, data []byte) (tests, failures, errs, skipped int) {
	t.Helper()
	var doc struct {
		Suite struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Errors   int `xml:"errors,attr"`
			Skipped  int `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Suite.Tests, doc.Suite.Failures, doc.Suite.Errors, doc.Suite.Skipped
}

func count(tests []Test, s Status) int {
	n := 0
	for _, t := range tests {
		if t.Status == s {
			n++
		}
	}
	return n
}

func TestReadJUnitRealSamples(t *testing.T) {
	for _, name := range []string{"v1.34-node-basic", "v1.34-node-basic-succinct", "v1.34-beforesuite-failure"} {
		t.Run(name, func(t *testing.T) {
			data := openSample(t, name)
			tests, err := ReadJUnit(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			total, failures, errs, skipped := suiteCounts(t, data)
			if len(tests) != total {
				t.Errorf("read %d testcases, the suite says %d", len(tests), total)
			}
			if got := count(tests, Failed); got != failures {
				t.Errorf("failed = %d, the suite says %d", got, failures)
			}
			if got := count(tests, Error); got != errs {
				t.Errorf("error = %d, the suite says %d", got, errs)
			}
			if got := count(tests, Skipped); got != skipped {
				t.Errorf("skipped = %d, the suite says %d", got, skipped)
			}
			for _, tc := range tests {
				if tc.Status == Failed && !strings.HasPrefix(tc.Message, "[FAILED]") {
					t.Errorf("%s: message %q is not the first line of Ginkgo's failure", tc.Name, tc.Message)
				}
			}
		})
	}
}

func TestReadJUnitGinkgoV1(t *testing.T) {
	// What Ginkgo v1's JUnit reporter writes: a bare <testsuite>, no status
	// attribute, the failure in the message attribute.
	const doc = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Kubernetes e2e suite" tests="4" failures="1" errors="0" time="31.2">
  <testcase name="[k8s.io] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" time="5.1"></testcase>
  <testcase name="[sig-apps] Job should run a job to completion when tasks succeed [Conformance]" classname="Kubernetes e2e suite" time="12.3">
    <failure type="Failure">/go/src/k8s.io/kubernetes/test/e2e/apps/job.go:95&#xA;Expected error:&#xA;    timed out</failure>
  </testcase>
  <testcase name="[sig-storage] Flexvolume should be mountable" classname="Kubernetes e2e suite" time="0">
    <skipped></skipped>
  </testcase>
  <testcase name="[sig-network] DNS should panic" classname="Kubernetes e2e suite" time="1">
    <error message="Test Panicked" type="Panic">runtime error</error>
  </testcase>
</testsuite>`
	tests, err := ReadJUnit(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []Test{
		{Name: "[k8s.io] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Status: Passed},
		{Name: "[sig-apps] Job should run a job to completion when tasks succeed [Conformance]", Status: Failed, Message: "/go/src/k8s.io/kubernetes/test/e2e/apps/job.go:95"},
		{Name: "[sig-storage] Flexvolume should be mountable", Status: Skipped},
		{Name: "[sig-network] DNS should panic", Status: Error, Message: "Test Panicked"},
	}
	if !slices.Equal(tests, want) {
		t.Errorf("got %+v\nwant %+v", tests, want)
	}
}

func TestReadJUnitStatusAttributeOnly(t *testing.T) {
	const doc = `<testsuites><testsuite>
<testcase name="a" status="timedout"></testcase>
<testcase name="b" status="pending"></testcase>
<testcase name="c" status="panicked"></testcase>
<testcase name="d" status="passed"></testcase>
</testsuite></testsuites>`
	tests, err := ReadJUnit(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var got []Status
	for _, tc := range tests {
		got = append(got, tc.Status)
	}
	if want := []Status{Failed, Skipped, Error, Passed}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func TestReadJUnitRejectsGarbage(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "",
		"not xml":   "I1121 23:48:50.573152 2412 util.go:454] >>> kubeConfig",
		"other xml": `<?xml version="1.0"?><project><name>x</name></project>`,
		"truncated": `<testsuites><testsuite><testcase name="a"><failure>`,
	} {
		if _, err := ReadJUnit(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"[It] [sig-node] Pods should get a host IP [Conformance]": "[sig-node] Pods should get a host IP [Conformance]",
		"  [k8s.io] Pods should get a host IP [Conformance] ":     "[k8s.io] Pods should get a host IP [Conformance]",
		"[SynchronizedBeforeSuite]":                               "[SynchronizedBeforeSuite]",
		`[It] [sig-node] Probing container should be restarted with a exec 'cat /tmp/health' liveness probe [NodeConformance] [Conformance]`: `[sig-node] Probing container should be restarted with a exec "cat /tmp/health" liveness probe [NodeConformance] [Conformance]`,
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// allPassed returns a passing Ginkgo v2 testcase for every codename.
func allPassed(t *testing.T, r release.Release, prefix string) []Test {
	t.Helper()
	ct, err := release.ConformanceTests(r)
	if err != nil {
		t.Fatal(err)
	}
	var tests []Test
	for _, c := range ct {
		tests = append(tests, Test{Name: prefix + c.CodeName, Status: Passed})
	}
	return tests
}

func TestCheckEveryRelease(t *testing.T) {
	for _, r := range release.Supported() {
		prefix := "[It] "
		if r.Less(release.MustParse("v1.25")) {
			prefix = "" // Ginkgo v1 names carry no leaf type
		}
		rep, err := Check(r, allPassed(t, r, prefix))
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Required == 0 {
			t.Errorf("%s: all passed but %+v", r, rep)
		}
	}
}

func TestCheckFindsFailedAndMissing(t *testing.T) {
	r := release.MustParse("v1.34")
	tests := allPassed(t, r, "[It] ")
	missing := NormalizeName(tests[3].Name)
	failed := NormalizeName(tests[7].Name)
	tests = slices.Delete(tests, 3, 4)
	tests[6].Status = Failed // was index 7
	tests = append(tests,
		Test{Name: "[SynchronizedBeforeSuite]", Status: Passed},
		Test{Name: "[It] [sig-foo] not conformance", Status: Failed},
		Test{Name: "[It] [sig-foo] newer test [Conformance]", Status: Failed})
	rep, err := Check(r, tests)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("report OK with a failed and a missing test")
	}
	if !slices.Equal(rep.Missing, []string{missing}) {
		t.Errorf("missing = %q, want %q", rep.Missing, missing)
	}
	if want := []string{"[sig-foo] newer test [Conformance]", failed}; !slices.Equal(rep.Failed, sortedCopy(want)) {
		t.Errorf("failed = %q, want %q", rep.Failed, want)
	}
	if rep.Passed != rep.Required-2 {
		t.Errorf("passed = %d of %d, want 2 fewer", rep.Passed, rep.Required)
	}
	var b bytes.Buffer
	if err := rep.Write(&b, 1); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{"conformance: ", "2 failed, 1 missing", "    - " + missing, "... and 1 more"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestCheckSkippedIsMissing(t *testing.T) {
	r := release.MustParse("v1.30")
	tests := allPassed(t, r, "[It] ")
	tests[0].Status = Skipped
	rep, err := Check(r, tests)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 1 || rep.Missing[0] != NormalizeName(tests[0].Name) {
		t.Errorf("missing = %q", rep.Missing)
	}
}

func TestCheckRealSample(t *testing.T) {
	data := openSample(t, "v1.34-node-basic")
	tests, err := ReadJUnit(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Check(release.MustParse("v1.34"), tests)
	if err != nil {
		t.Fatal(err)
	}
	// Every failed [Conformance] testcase of the real run is reported failed.
	var want []string
	for _, tc := range tests {
		if tc.Status == Failed {
			want = append(want, NormalizeName(tc.Name))
		}
	}
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(rep.Failed, want) {
		t.Errorf("failed = %q, want %q", rep.Failed, want)
	}
	if rep.Passed != count(tests, Passed)-4 { // four suite nodes passed too
		t.Errorf("passed %d, junit has %d passing specs", rep.Passed, count(tests, Passed)-4)
	}
	if rep.Passed+len(rep.Failed)+len(rep.Missing) != rep.Required {
		t.Errorf("counts do not add up: %+v", rep)
	}
}

func TestWriteOK(t *testing.T) {
	var b bytes.Buffer
	if err := (Report{Release: "v1.34", Required: 424, Passed: 424}).Write(&b, 10); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "conformance: 424/424 required tests passed\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
