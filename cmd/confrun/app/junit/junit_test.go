package junit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confrun/confrun/cmd/confrun/app"
	"github.com/confrun/confrun/internal/cliutil"
)

const samples = "../../../../internal/e2elog/testdata/samples"

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = app.Main(context.Background(), append([]string{"junit"}, args...), cliutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func copyLog(t *testing.T, sample string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samples, sample, "e2e.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "e2e.log")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConvertBesideTheLog(t *testing.T) {
	logPath := copyLog(t, "v1.34-node-basic")
	code, out, errOut := run(t, logPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := filepath.Join(filepath.Dir(logPath), "junit_01.xml")
	b, err := os.ReadFile(want)
	if err != nil || !bytes.Contains(b, []byte(`name="[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]"`)) {
		t.Fatalf("junit not written beside the log: %v", err)
	}
	if !strings.Contains(out, "wrote "+want) || !strings.Contains(out, "Ginkgo ran 54 of 7144 specs") {
		t.Errorf("report: %s", out)
	}
	// Never over an existing file without --force.
	if code, _, errOut := run(t, logPath); code != cliutil.ExitUsage || !strings.Contains(errOut, "--force") {
		t.Errorf("second run: exit %d, %s", code, errOut)
	}
	if code, _, _ := run(t, "--force", logPath); code != 0 {
		t.Errorf("--force: exit %d", code)
	}
}

func TestIncompleteExits3(t *testing.T) {
	logPath := copyLog(t, "v1.34-node-basic-succinct")
	outPath := filepath.Join(t.TempDir(), "out.xml")
	code, _, errOut := run(t, "-o", outPath, "--release", "v1.34", logPath)
	if code != cliutil.ExitIncomplete {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "E2E_EXTRA_GINKGO_ARGS=-v") || !strings.Contains(errOut, "not named") {
		t.Errorf("stderr: %s", errOut)
	}
	b, err := os.ReadFile(outPath)
	if err != nil || !bytes.Contains(b, []byte(`<property name="Incomplete" value="true">`)) {
		t.Errorf("incomplete JUnit not written or not marked: %v", err)
	}
}

func TestBadInputExits2(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty.log":   "",
		"garbage.log": "\x00\x01\x02\x03 binary garbage",
		"other.log":   "just some\nlines of text\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".xml")
		code, _, errOut := run(t, "-o", out, p)
		if code != cliutil.ExitUsage || !strings.Contains(errOut, "is not an e2e.log") {
			t.Errorf("%s: exit %d, %s", name, code, errOut)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: output written", name)
		}
	}
	for _, args := range [][]string{
		{filepath.Join(dir, "missing.log")},
		{},
		{"a", "b"},
		{"--format", "v3", filepath.Join(dir, "other.log")},
		{"--release", "banana", filepath.Join(dir, "other.log")},
		{"--release", "v1.2", filepath.Join(dir, "other.log")},
		{"--report", "xml", filepath.Join(dir, "other.log")},
		{dir},
	} {
		if code, _, errOut := run(t, args...); code != cliutil.ExitUsage {
			t.Errorf("%q: exit %d, %s", args, code, errOut)
		}
	}
}

func TestReportJSON(t *testing.T) {
	logPath := copyLog(t, "v1.34-node-basic")
	code, out, errOut := run(t, "--report", "json", "--release", "v1.34", logPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Tests    int `json:"tests"`
		Failures int `json:"failures"`
		Coverage struct {
			Required int      `json:"required"`
			Passed   int      `json:"passed"`
			Failed   []string `json:"failed"`
		} `json:"coverage"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Tests != 7148 || res.Failures != 6 || res.Coverage.Required == 0 || len(res.Coverage.Failed) != 6 || res.Coverage.Passed != 48 {
		t.Errorf("%+v", res)
	}
}

func TestHelpHasExamples(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--force") {
		t.Errorf("help: %s", out)
	}
}
