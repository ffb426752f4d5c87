package submit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/confrun/confrun/internal/e2elog/e2elogtest"
	"github.com/confrun/confrun/internal/submit/submittest"
)

func goodFolder(t *testing.T, o submittest.Options) string {
	t.Helper()
	if o == (submittest.Options{}) {
		// Generated once per test binary; each test edits its own copy.
		shared, _ := sharedFolder(t)
		return copyFolder(t, shared)
	}
	dir, err := submittest.Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func verify(t *testing.T, opts VerifyOptions) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func editFile(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := edit(string(b))
	if out == string(b) {
		t.Fatalf("edit of %s changed nothing", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceLine(t *testing.T, path, re, repl string) {
	t.Helper()
	editFile(t, path, func(s string) string { return regexp.MustCompile(`(?m)`+re).ReplaceAllString(s, repl) })
}

func TestVerifyGoodFolderPassesEveryRule(t *testing.T) {
	dir := goodFolder(t, submittest.Options{})
	rep := verify(t, VerifyOptions{Dir: dir})
	if !rep.OK {
		var buf bytes.Buffer
		_ = rep.WriteTable(&buf)
		t.Fatalf("good folder fails:\n%s", buf.String())
	}
	if len(rep.Rules) != len(Rules()) {
		t.Fatalf("report has %d rules, want %d", len(rep.Rules), len(Rules()))
	}
	for _, r := range rep.Rules {
		want := StatusPass
		if r.ID == RuleProductURLsOnline {
			want = StatusSkip // offline by default
		}
		if r.Status != want {
			t.Errorf("%s: status %s (%s), want %s", r.ID, r.Status, r.Detail, want)
		}
	}
	if rep.Title != "Conformance results for v1.34/acme-mips" {
		t.Errorf("title %q", rep.Title)
	}
}

// TestVerifyEachRuleFails derives one failing folder per rule from the good
// one and checks that exactly the expected rules fail and that the table
// names the rule.
func TestVerifyEachRuleFails(t *testing.T) {
	cases := []struct {
		rule string
		// also lists the other rules the change rightly breaks.
		also   []string
		opts   submittest.Options
		mutate func(t *testing.T, dir string, o *VerifyOptions)
	}{
		{rule: RuleFolderLayout, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			moved := filepath.Join(filepath.Dir(filepath.Dir(dir)), "results", "acme mips")
			if err := os.MkdirAll(filepath.Dir(moved), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(dir, moved); err != nil {
				t.Fatal(err)
			}
			o.Dir = moved
		}, also: []string{RuleTitleFormat}},
		{rule: RuleRequiredFiles, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			if err := os.WriteFile(filepath.Join(dir, FileReadme), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{rule: RuleReleaseAccepted, mutate: func(t *testing.T, dir string, o *VerifyOptions) { o.Latest = "v1.37" }},
		{rule: RuleTitleFormat, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			o.Title = "Conformance results for v1.33/acme-mips"
		}},
		{rule: RuleReadme, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			editFile(t, filepath.Join(dir, FileReadme), func(s string) string { return s + "\n## Install\n" + ReadmePlaceholder + "\n" })
		}},
		{rule: RuleProductFields, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			replaceLine(t, filepath.Join(dir, FileProduct), `^vendor: .*\n`, "")
		}},
		{rule: RuleProductType, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			replaceLine(t, filepath.Join(dir, FileProduct), `^type: .*$`, "type: appliance")
		}},
		{rule: RuleProductURLs, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			replaceLine(t, filepath.Join(dir, FileProduct), `^documentation_url: .*$`, "documentation_url: example.com/acme/docs")
		}},
		{rule: RuleProductEmail, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			replaceLine(t, filepath.Join(dir, FileProduct), `^contact_email_address: .*$`, "contact_email_address: certification at example.com")
		}},
		{rule: RuleProductURLsOnline, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			srv := siteServer(t, "application/json")
			pointURLsAt(t, dir, srv.URL)
			o.Online, o.HTTPClient = true, srv.Client()
		}},
		{rule: RuleJUnitCoverage, also: []string{RuleLogJUnitSameRun}, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			// Drop one passed conformance test from the report.
			replaceLine(t, filepath.Join(dir, FileJUnit), `^.*<testcase name="\[It\] \[sig-apps\] Deployment deployment should support rollover \[Conformance\]".*\n`, "")
		}},
		{rule: RuleJUnitNoFailures, also: []string{RuleLogSummary}, opts: submittest.Options{Failed: 2}},
		{rule: RuleRunFocus, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			replaceLine(t, filepath.Join(dir, FileJUnit), `name="SkipStrings" value=""`, `name="SkipStrings" value="\[Serial\]"`)
		}},
		{rule: RuleE2EVersion, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			replaceLine(t, filepath.Join(dir, FileE2ELog), `e2e test version: .*$`, "e2e test version: v1.33.2")
		}},
		{rule: RuleAPIServerVersion, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			replaceLine(t, filepath.Join(dir, FileE2ELog), `kube-apiserver version: .*$`, "kube-apiserver version: v1.35.0")
		}},
		{rule: RuleLogSummary, also: []string{}, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			// A log cut before the summary.
			editFile(t, filepath.Join(dir, FileE2ELog), func(s string) string { return s[:strings.Index(s, "\nRan ")] })
		}},
		{rule: RuleLogJUnitSameRun, mutate: func(t *testing.T, dir string, o *VerifyOptions) {
			// A JUnit whose suite has one more spec than the log's.
			editFile(t, filepath.Join(dir, FileJUnit), func(s string) string {
				return strings.Replace(s, "      </testsuite>", `          <testcase name="[It] [sig-cli] Kubectl extra spec from another run" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
      </testsuite>`, 1)
			})
		}},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.rule] = true
		t.Run(tc.rule, func(t *testing.T) {
			dir := goodFolder(t, tc.opts)
			opts := VerifyOptions{Dir: dir}
			if tc.mutate != nil {
				tc.mutate(t, dir, &opts)
			}
			rep := verify(t, opts)
			want := append([]string{tc.rule}, tc.also...)
			slices.Sort(want)
			got := slices.Clone(rep.Failed)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("failed rules %v, want %v", got, want)
			}
			r, _ := rep.Rule(tc.rule)
			if r.Detail == "" || r.Fix == "" {
				t.Errorf("%s fails without detail or fix: %+v", tc.rule, r)
			}
			if rep.OK {
				t.Error("report OK with a failing rule")
			}
			var buf bytes.Buffer
			if err := rep.WriteTable(&buf); err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(tc.rule) + `\s+FAIL\s+\S`).MatchString(buf.String()) {
				t.Errorf("table does not show %s failing:\n%s", tc.rule, buf.String())
			}
			if !strings.Contains(buf.String(), "fix: ") {
				t.Errorf("table shows no fix:\n%s", buf.String())
			}
		})
	}
	for _, r := range Rules() {
		if !covered[r.ID] {
			t.Errorf("rule %s has no failing fixture", r.ID)
		}
	}
}

// siteServer answers every path with contentType (SVG for .svg paths when
// contentType is text/html, as a real site would).
func siteServer(t *testing.T, contentType string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := contentType
		if strings.HasSuffix(r.URL.Path, ".svg") && ct == "text/html" {
			ct = "image/svg+xml"
		}
		w.Header().Set("Content-Type", ct+"; charset=utf-8")
		fmt.Fprintln(w, "<html></html>")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func pointURLsAt(t *testing.T, dir, base string) {
	editFile(t, filepath.Join(dir, FileProduct), func(s string) string {
		return strings.ReplaceAll(s, "https://example.com", base)
	})
}

func TestVerifyOnlinePasses(t *testing.T) {
	dir := goodFolder(t, submittest.Options{})
	srv := siteServer(t, "text/html")
	pointURLsAt(t, dir, srv.URL)
	rep := verify(t, VerifyOptions{Dir: dir, Online: true, HTTPClient: srv.Client()})
	r, _ := rep.Rule(RuleProductURLsOnline)
	if r.Status != StatusPass || !rep.OK {
		t.Fatalf("online rule %+v, failed %v", r, rep.Failed)
	}
	if !strings.Contains(r.Detail, "product_logo_url") {
		t.Errorf("logo not fetched: %s", r.Detail)
	}
}

func TestVerifyReleaseReference(t *testing.T) {
	dir := goodFolder(t, submittest.Options{})
	stable := filepath.Join(t.TempDir(), "stable.txt")
	if err := os.WriteFile(stable, []byte("v1.36.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "v1.37.0") }))
	defer srv.Close()
	for _, tc := range []struct {
		name           string
		opts           VerifyOptions
		status         Status
		detailContains string
	}{
		{"stable file v1.36 accepts v1.34", VerifyOptions{StableTxt: stable}, StatusPass, "v1.36, v1.35, v1.34"},
		{"stable URL v1.37 rejects v1.34", VerifyOptions{StableTxt: srv.URL, HTTPClient: srv.Client()}, StatusFail, "older than the accepted releases v1.37, v1.36, v1.35"},
		{"explicit latest v1.33 rejects newer v1.34", VerifyOptions{Latest: "v1.33"}, StatusFail, "newer than"},
		{"default reference names its source", VerifyOptions{}, StatusPass, "embedded data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Dir = dir
			rep := verify(t, tc.opts)
			r, _ := rep.Rule(RuleReleaseAccepted)
			if r.Status != tc.status || !strings.Contains(r.Detail, tc.detailContains) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Detail, tc.status, tc.detailContains)
			}
		})
	}
	if _, err := Verify(context.Background(), VerifyOptions{Dir: dir, Latest: "latest"}); err == nil {
		t.Error("--latest latest accepted")
	}
}

func TestVerifyProductYAMLNumberVersion(t *testing.T) {
	dir := goodFolder(t, submittest.Options{})
	replaceLine(t, filepath.Join(dir, FileProduct), `^version: .*$`, "version: 2.10")
	rep := verify(t, VerifyOptions{Dir: dir})
	r, _ := rep.Rule(RuleProductFields)
	if r.Status != StatusFail || !strings.Contains(r.Detail, "version") || !strings.Contains(r.Detail, "not a string") {
		t.Errorf("unquoted number version: %+v", r)
	}
}

func TestVerifyExtraFileWarns(t *testing.T) {
	dir := goodFolder(t, submittest.Options{})
	if err := os.WriteFile(filepath.Join(dir, "sonobuoy.tar.gz"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, VerifyOptions{Dir: dir})
	r, _ := rep.Rule(RuleRequiredFiles)
	if r.Status != StatusWarn || !strings.Contains(r.Detail, "sonobuoy.tar.gz") || !rep.OK {
		t.Errorf("extra file: %+v, OK=%v", r, rep.OK)
	}
}

func TestVerifyMissingFilesSkipDependentRules(t *testing.T) {
	dir := goodFolder(t, submittest.Options{})
	for _, f := range []string{FileE2ELog, FileJUnit, FileProduct} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	rep := verify(t, VerifyOptions{Dir: dir})
	if !slices.Equal(rep.Failed, []string{RuleRequiredFiles}) {
		t.Errorf("failed %v, want only required-files (the rest skip)", rep.Failed)
	}
	r, _ := rep.Rule(RuleRequiredFiles)
	for _, f := range []string{FileE2ELog, FileJUnit, FileProduct} {
		if !strings.Contains(r.Detail, f) {
			t.Errorf("required-files does not name %s: %s", f, r.Detail)
		}
	}
}

// realSample copies a real sample pair (internal/e2elog/testdata/samples) into root/v1.34/<product>/ with the
// good README.md and PRODUCT.yaml.
func realSample(t *testing.T, logFrom, junitFrom string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "v1.34", "sample")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(filepath.Join(e2elogtest.SampleDir(logFrom), FileE2ELog))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		FileE2ELog: string(log), FileJUnit: string(e2elogtest.JUnit(t, e2elogtest.SampleDir(junitFrom))),
		FileReadme: submittest.Readme("sample"), FileProduct: submittest.ProductYAML("sample"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestVerifyRealRun(t *testing.T) {
	dir := realSample(t, "v1.34-node-basic", "v1.34-node-basic")
	rep := verify(t, VerifyOptions{Dir: dir})
	want := []string{RuleAPIServerVersion, RuleE2EVersion, RuleJUnitCoverage, RuleJUnitNoFailures, RuleLogSummary, RuleRunFocus}
	got := slices.Clone(rep.Failed)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("failed %v, want %v", got, want)
	}
	same, _ := rep.Rule(RuleLogJUnitSameRun)
	if same.Status != StatusPass || !strings.Contains(same.Detail, "54 of 7144") {
		t.Errorf("same-run on a real pair: %+v", same)
	}
	v, _ := rep.Rule(RuleE2EVersion)
	if !strings.Contains(v.Detail, "v0.0.0-master") || !strings.Contains(v.Detail, "without version information") {
		t.Errorf("e2e-version detail: %s", v.Detail)
	}
	nf, _ := rep.Rule(RuleJUnitNoFailures)
	if !strings.HasPrefix(nf.Detail, "6 conformance tests failed") {
		t.Errorf("no-failures detail: %s", nf.Detail)
	}
	focus, _ := rep.Rule(RuleRunFocus)
	if !strings.Contains(focus.Detail, "focus was `\\[sig-node\\]") {
		t.Errorf("run-focus detail: %s", focus.Detail)
	}
	js, err := json.Marshal(rep)
	if err != nil || !bytes.Contains(js, []byte(`"id":"run-focus","description"`)) {
		t.Errorf("JSON: %v %s", err, js[:min(len(js), 200)])
	}
}

func TestVerifyRealRunsMixed(t *testing.T) {
	dir := realSample(t, "v1.34-beforesuite-failure", "v1.34-node-basic")
	rep := verify(t, VerifyOptions{Dir: dir})
	r, _ := rep.Rule(RuleLogJUnitSameRun)
	if r.Status != StatusFail || !strings.Contains(r.Detail, "e2e.log ran 0 specs, junit_01.xml 54") {
		t.Errorf("mixed runs: %+v", r)
	}
	dir = realSample(t, "v1.34-beforesuite-failure", "v1.34-beforesuite-failure")
	rep = verify(t, VerifyOptions{Dir: dir})
	if r, _ := rep.Rule(RuleLogJUnitSameRun); r.Status != StatusPass {
		t.Errorf("beforesuite pair: %+v", r)
	}
	if r, _ := rep.Rule(RuleLogSummary); r.Status != StatusFail || !strings.Contains(r.Detail, "BeforeSuite") {
		t.Errorf("beforesuite summary: %+v", r)
	}
}
