package e2elog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type result struct {
	name  string
	state State
}

func parseFile(t *testing.T, path string, opts Options) (*Log, []Spec) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var specs []Spec
	log, err := Parse(context.Background(), f, opts, func(s Spec) error {
		specs = append(specs, s)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return log, specs
}

func results(specs []Spec) []result {
	var out []result
	for _, s := range specs {
		out = append(out, result{s.JUnitName(), s.State})
	}
	return out
}

func sameResults(t *testing.T, got []Spec, want []result) {
	t.Helper()
	g := results(got)
	if len(g) != len(want) {
		t.Errorf("got %d results, want %d:\n got %q\nwant %q", len(g), len(want), g, want)
		return
	}
	for i := range want {
		if g[i] != want[i] {
			t.Errorf("result %d = %q, want %q", i, g[i], want[i])
		}
	}
}

func TestGinkgoV2VerboseSerial(t *testing.T) {
	log, specs := parseFile(t, "testdata/v2/verbose-serial.log", Options{})
	sameResults(t, specs, []result{
		{"[ReportBeforeSuite]", Passed},
		{"[SynchronizedBeforeSuite]", Passed},
		{"[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Passed},
		{"[It] [sig-apps] Job should run a job to completion when tasks succeed [Conformance]", Failed},
		{"[It] [sig-network] DNS should provide DNS for the cluster [Conformance]", Failed},
		{"[It] [sig-cli] Kubectl client Simple pod should panic nicely", Panicked},
		{"[It] [sig-storage] CSI mock volume should wait forever [Slow]", TimedOut},
		{"[It] [sig-node] Kubelet should be flaky", Passed},
		{"[It] [sig-cloud-provider-gcp] Nodes should be resizable", Skipped},
		{"[It] [sig-node] Pending things should one day work", Pending},
		{"[SynchronizedAfterSuite]", Passed},
		{"[ReportAfterSuite] Kubernetes e2e suite report", Passed},
		{"[ReportAfterSuite] Kubernetes e2e JUnit report", Passed},
	})
	if log.Format != GinkgoV2 || len(log.Runs) != 1 {
		t.Fatalf("format %v, %d runs", log.Format, len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Incomplete) != 0 {
		t.Errorf("complete log reported incomplete: %q", run.Incomplete)
	}
	if run.E2EVersion != "v1.34.4" || run.APIServerVersion != "v1.34.4-mips64el" {
		t.Errorf("versions %q %q", run.E2EVersion, run.APIServerVersion)
	}
	if run.Suite != "Kubernetes e2e suite" || run.SuitePath != "/usr/local/bin" || run.RandomSeed != 42 || !run.RandomizeAll || run.WillRun != 9 || run.TotalSpecs != 100 || !run.Verbose {
		t.Errorf("banner: %+v", run)
	}
	want := Summary{Ran: 6, Total: 100, Seconds: 640, HasCounts: true, Passed: 2, Failed: 4, Flaked: 1, Pending: 1, Skipped: 93}
	got := *run.Summary
	got.Line = 0
	if got.Ran != want.Ran || got.Total != want.Total || got.Seconds != want.Seconds || got.Succeeded || got.Passed != 2 || got.Failed != 4 || got.Flaked != 1 || got.Pending != 1 || got.Skipped != 93 {
		t.Errorf("summary %+v, want %+v", got, want)
	}
	job := specs[3]
	if job.Duration != 10012*time.Millisecond || !job.HasDuration {
		t.Errorf("duration %v", job.Duration)
	}
	f := job.Failure
	if f.FirstLine() != "[FAILED] failed to ensure job completion in namespace: job-1: timed out waiting for the condition" ||
		f.Location != "k8s.io/kubernetes/test/e2e/apps/job.go:95" || f.NodeType != "It" || f.Time != "11/21/26 10:00:13.000" {
		t.Errorf("failure %+v", f)
	}
	if !strings.Contains(f.Message, "\n    <bool>: false\nto be true") {
		t.Errorf("message lost its lines or indentation: %q", f.Message)
	}
	if dns := specs[4].Failure; dns.NodeType != "BeforeEach" || dns.Location != "k8s.io/kubernetes/test/e2e/framework/framework.go:251" {
		t.Errorf("BeforeEach failure %+v", dns)
	}
	if p := specs[5].Failure; p.Panic != "runtime error: invalid memory address or nil pointer dereference" {
		t.Errorf("panic %q", p.Panic)
	}
	if strings.Contains(specs[6].Failure.Message, "Progress Report") {
		t.Errorf("timeout message holds the progress report: %q", specs[6].Failure.Message)
	}
	if specs[8].Failure.FirstLine() != "[SKIPPED] Only supported for providers [gce gke] (not skeleton)" {
		t.Errorf("skip reason %q", specs[8].Failure.FirstLine())
	}
}

func TestGinkgoV2NormalSerial(t *testing.T) {
	log, specs := parseFile(t, "testdata/v2/normal-serial.log", Options{})
	sameResults(t, specs, []result{
		{"[It] [sig-node] ConfigMap should be consumable via the environment [NodeConformance] [Conformance]", Failed},
	})
	run := log.Runs[0]
	if run.AnonymousPassed != 3 || run.NamedRan != 1 || run.Verbose {
		t.Errorf("counts: %+v", run)
	}
	if !hasReason(run, "3 of the 4 specs that ran are not named") || !hasReason(run, "suite nodes that pass") {
		t.Errorf("reasons %q", run.Incomplete)
	}
	f := specs[0].Failure
	if f.FirstLine() != `[FAILED] expected "data-1=value-1" in container output: Expected` || strings.Contains(f.Message, "STEP:") {
		t.Errorf("failure took the timeline: %q", f.Message)
	}
}

func hasReason(run Run, s string) bool {
	for _, r := range run.Incomplete {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

func TestGinkgoV2ParallelVerbose(t *testing.T) {
	log, specs := parseFile(t, "testdata/v2/parallel-verbose.log", Options{})
	sameResults(t, specs, []result{
		{"[SynchronizedBeforeSuite]", Passed},
		{"[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Passed},
		{"[It] [sig-apps] Job should run a job to completion when tasks succeed [Conformance]", Failed},
		{"[It] [sig-apps] ReplicaSet should serve a basic image on each replica with a public image [Conformance]", Passed},
		{"[SynchronizedAfterSuite]", Passed},
		{"[ReportAfterSuite] Kubernetes e2e suite report", Passed},
		{"[ReportAfterSuite] Kubernetes e2e JUnit report", Passed},
	})
	run := log.Runs[0]
	if run.Parallel != 4 || run.E2EVersion != "v1.33.1" || len(run.Incomplete) != 0 {
		t.Errorf("run %+v", run)
	}
	if m := specs[2].Failure.Message; strings.Contains(m, "stray output") {
		t.Errorf("failure took captured output: %q", m)
	}
}

func TestGinkgoV2OldLayout(t *testing.T) {
	// Ginkgo v2.1-v2.4 (Kubernetes v1.25, v1.26) with -v, and the
	// framework's progress JSON.
	log, specs := parseFile(t, "testdata/v2/old-verbose.log", Options{})
	sameResults(t, specs, []result{
		{"[SynchronizedBeforeSuite]", Passed},
		{"[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Passed},
		{"[It] [sig-apps] Job should run a job to completion when tasks succeed [Conformance]", Failed},
		{"[It] [sig-apps] Deployment deployment should support rollover [Conformance]", Passed},
	})
	run := log.Runs[0]
	if run.E2EVersion != "v1.25.0" || len(run.Incomplete) != 0 {
		t.Errorf("run %+v", run)
	}
	f := specs[2].Failure
	if f.FirstLine() != "failed to ensure job completion: timed out waiting for the condition" || f.Location != "test/e2e/apps/job.go:95" || f.Time != "" {
		t.Errorf("failure %+v", f)
	}

	// Without -v the progress JSON still names every passing spec, but
	// passing suite nodes are not printed.
	log, specs = parseFile(t, "testdata/v2/old-normal-json.log", Options{})
	sameResults(t, specs, []result{
		{"[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Passed},
		{"[It] [sig-apps] ReplicaSet should serve a basic image on each replica with a public image  [Conformance]", Passed},
		{"[It] [sig-apps] Job should run a job to completion when tasks succeed [Conformance]", Failed},
	})
	run = log.Runs[0]
	if hasReason(run, "not named") || !hasReason(run, "suite nodes") {
		t.Errorf("reasons %q", run.Incomplete)
	}
}

func TestGinkgoV2Interrupted(t *testing.T) {
	log, specs := parseFile(t, "testdata/v2/interrupted.log", Options{})
	sameResults(t, specs, []result{
		{"[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Passed},
		{"[It] [sig-apps] Deployment should roll [Conformance]", Interrupted},
	})
	run := log.Runs[0]
	if !hasReason(run, "Interrupted by User") {
		t.Errorf("reasons %q", run.Incomplete)
	}
	if len(run.Summary.Reasons) != 1 || run.Summary.Reasons[0] != "Interrupted by User" || run.Summary.Skipped != 68 {
		t.Errorf("summary %+v", run.Summary)
	}
}

func TestTruncated(t *testing.T) {
	log, specs := parseFile(t, "testdata/v2/truncated.log", Options{})
	if len(specs) != 3 {
		t.Errorf("got %q", results(specs))
	}
	run := log.Runs[0]
	if run.Summary != nil || !hasReason(run, "final summary") || !strings.Contains(run.Unfinished, "[sig-apps] Job should run a job") {
		t.Errorf("run %+v", run)
	}
}

func TestBeforeSuiteFailure(t *testing.T) {
	log, specs := parseFile(t, "testdata/v1/beforesuite-failure.log", Options{})
	sameResults(t, specs, []result{{"BeforeSuite", Failed}})
	run := log.Runs[0]
	if !hasReason(run, "BeforeSuite") || hasReason(run, "not named") {
		t.Errorf("reasons %q", run.Incomplete)
	}
	if f := specs[0].Failure; f.FirstLine() != "Unexpected error:" || !strings.HasSuffix(f.Location, "test/e2e/e2e.go:70") || !strings.HasSuffix(f.ComponentLocation, "test/e2e/e2e.go:67") {
		t.Errorf("failure %+v", f)
	}
}

func TestGinkgoV1VerboseSerial(t *testing.T) {
	log, specs := parseFile(t, "testdata/v1/verbose-serial.log", Options{})
	sameResults(t, specs, []result{
		{"[sig-storage] Projected downwardAPI should provide container's memory request [NodeConformance] [Conformance]", Passed},
		{"[sig-apps] Deployment deployment should support rollover [Conformance]", Passed},
		{"[k8s.io] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Failed},
		{"[sig-network] DNS should provide DNS for the cluster [Conformance]", Failed},
		{"[sig-cloud-provider-gcp] Nodes [Disruptive] should be resizable", Skipped},
		{"[sig-cli] Kubectl client should panic", Panicked},
		{"[sig-storage] CSI mock volume should wait forever", TimedOut},
	})
	run := log.Runs[0]
	if log.Format != GinkgoV1 || len(run.Incomplete) != 0 || run.E2EVersion != "v1.19.0" || run.Summary.Skipped != 5226 {
		t.Errorf("run %+v", run)
	}
	if specs[1].Duration != 30342*time.Millisecond {
		t.Errorf("slow spec duration %v", specs[1].Duration)
	}
	f := specs[2].Failure
	if f.FirstLine() != "Expected error:" || !strings.HasSuffix(f.Location, "framework/pods.go:103") || !strings.HasSuffix(f.ComponentLocation, "framework/framework.go:597") {
		t.Errorf("failure %+v", f)
	}
	if !strings.Contains(f.Message, "\n    <*errors.errorString | 0xc0002e1b80>: {") {
		t.Errorf("message lost indentation: %q", f.Message)
	}
	if d := specs[3].Failure; d.NodeType != "BeforeEach" || !strings.HasSuffix(d.ComponentLocation, "network/framework.go:23") {
		t.Errorf("BeforeEach failure %+v", d)
	}
	if p := specs[5].Failure; p.Panic != "runtime error: invalid memory address or nil pointer dereference" || !strings.HasSuffix(p.Location, "panic.go:212") {
		t.Errorf("panic %+v", p)
	}
}

func TestGinkgoV1NormalSerialNamedByProgressJSON(t *testing.T) {
	log, specs := parseFile(t, "testdata/v1/normal-serial.log", Options{})
	sameResults(t, specs, []result{
		{"[k8s.io] Pods should get a host IP [NodeConformance] [Conformance]", Passed},
		{"[sig-apps] Deployment deployment should support rollover [Conformance]", Passed},
		{"[sig-network] Services should serve a basic endpoint from pods  [Conformance]", Passed},
	})
	run := log.Runs[0]
	if len(run.Incomplete) != 0 || !run.Summary.Succeeded || run.E2EVersion != "v1.16.15" {
		t.Errorf("run %+v", run)
	}
}

func TestGinkgoV1Parallel(t *testing.T) {
	log, specs := parseFile(t, "testdata/v1/parallel.log", Options{})
	sameResults(t, specs, []result{
		{"[sig-apps] Job should run a job to completion when tasks succeed [Conformance]", Failed},
	})
	run := log.Runs[0]
	if run.Parallel != 4 || run.WillRun != 3 || run.AnonymousPassed != 2 || !hasReason(run, "2 of the 3 specs") {
		t.Errorf("run %+v", run)
	}
}

func TestFormatOverride(t *testing.T) {
	// Forcing the wrong format finds no results but does not crash.
	log, specs := parseFile(t, "testdata/v1/verbose-serial.log", Options{Format: GinkgoV2})
	if log.Format != GinkgoV2 {
		t.Errorf("format %v", log.Format)
	}
	for _, s := range specs {
		if s.State == Passed && s.HasDuration && s.Duration == 30342*time.Millisecond {
			t.Errorf("v1 slow spec read as v2: %+v", s)
		}
	}
}

func TestConcatenatedRuns(t *testing.T) {
	a, _ := os.ReadFile("testdata/v2/normal-serial.log")
	b, _ := os.ReadFile("testdata/v1/verbose-serial.log")
	var specs []Spec
	log, err := Parse(context.Background(), bytes.NewReader(append(append(a, b...), a...)), Options{}, func(s Spec) error {
		specs = append(specs, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 3 || log.Runs[0].Format != GinkgoV2 || log.Runs[1].Format != GinkgoV1 || log.Runs[2].Format != GinkgoV2 {
		t.Fatalf("runs: %d", len(log.Runs))
	}
	if len(specs) != 1+7+1 || specs[1].Run != 1 || specs[8].Run != 2 || specs[1].Format != GinkgoV1 {
		t.Errorf("specs %q", results(specs))
	}
}

func TestNotAnE2ELog(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":      nil,
		"blank":      []byte("\n\n   \n"),
		"binary":     {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0},
		"not utf8":   bytes.Repeat([]byte{0xff, 0xfe, 0x80, 0x81}, 100),
		"other text": []byte("hello\nworld\n--- PASS: TestFoo (0.00s)\nok  \tpkg\t0.1s\n"),
		"junit":      []byte(`<?xml version="1.0"?><testsuites><testsuite name="x"></testsuite></testsuites>`),
	} {
		_, err := Parse(context.Background(), bytes.NewReader(in), Options{}, nil)
		var ne *NotE2ELogError
		if !errors.As(err, &ne) {
			t.Errorf("%s: error %v, want NotE2ELogError", name, err)
		}
	}
}

func TestLongLines(t *testing.T) {
	// A line far longer than the buffer is skipped past, not loaded.
	a, _ := os.ReadFile("testdata/v2/verbose-serial.log")
	long := "  I1121 " + strings.Repeat("x", 3<<20) + "\n"
	in := strings.Replace(string(a), "  STEP: Creating a job @", long+"  STEP: Creating a job @", 1)
	var specs []Spec
	log, err := Parse(context.Background(), strings.NewReader(in), Options{BufferSize: 64 << 10}, func(s Spec) error {
		specs = append(specs, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if log.LongLines != 1 || len(specs) != 13 || len(log.Runs[0].Incomplete) != 0 {
		t.Errorf("long lines %d, %d specs, %q", log.LongLines, len(specs), log.Runs[0].Incomplete)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	f, _ := os.Open("testdata/v2/verbose-serial.log")
	defer f.Close()
	boom := errors.New("disk full")
	_, err := Parse(context.Background(), f, Options{}, func(Spec) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("error %v", err)
	}
}

func TestCRLFAndColors(t *testing.T) {
	a, _ := os.ReadFile("testdata/v2/verbose-serial.log")
	in := strings.ReplaceAll(string(a), "\n", "\r\n")
	in = strings.ReplaceAll(in, "• [FAILED]", "\x1b[38;5;9m• [FAILED]\x1b[0m")
	var n int
	log, err := Parse(context.Background(), strings.NewReader(in), Options{}, func(Spec) error { n++; return nil })
	if err != nil || n != 13 || len(log.Runs[0].Incomplete) != 0 {
		t.Errorf("err %v, %d specs", err, n)
	}
}

func TestStripLabels(t *testing.T) {
	for _, c := range []struct {
		in, want string
		single   bool
	}{
		{"[sig-node] Pods x [Conformance] [sig-node, Conformance]", "[sig-node] Pods x [Conformance]", true},
		{"[sig-node] Pods x [Conformance]", "[sig-node] Pods x [Conformance]", true},
		{"[sig-node] Pods x [sig-node]", "[sig-node] Pods x", true},
		{"[sig-node] Pods x [sig-node]", "[sig-node] Pods x [sig-node]", false},
		{"x [a [b]]", "x [a [b]]", true},
	} {
		if got := stripLabels(c.in, c.single); got != c.want {
			t.Errorf("stripLabels(%q, %v) = %q, want %q", c.in, c.single, got, c.want)
		}
	}
}

func TestSamplesParse(t *testing.T) {
	// The real logs (the JUnit comparison is in junitconv's tests).
	for _, name := range []string{"v1.34-node-basic", "v1.34-node-basic-succinct", "v1.34-beforesuite-failure"} {
		log, specs := parseFile(t, filepath.Join("testdata/samples", name, "e2e.log"), Options{})
		if len(specs) == 0 || log.Format != GinkgoV2 || log.Runs[0].Summary == nil {
			t.Errorf("%s: %d specs, %+v", name, len(specs), log.Runs[0])
		}
	}
}

func TestTrimBlankBytes(t *testing.T) {
	for in, want := range map[string]string{
		"\n  \nfirst  \nsecond \n\n \n": "first  \nsecond ",
		"only\n":                        "only",
		" \n\n":                         "",
		"":                              "",
	} {
		if got := string(trimBlankBytes([]byte(in))); got != want {
			t.Errorf("trimBlankBytes(%q) = %q, want %q", in, got, want)
		}
	}
}
