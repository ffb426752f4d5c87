//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/confrun/confrun/internal/labtest"
)

// confrunBin is the binary under test, built once by TestMain.
var confrunBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "confrun-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	confrunBin = filepath.Join(dir, "confrun")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-o", confrunBin, "./cmd/confrun")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building confrun: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished confrun invocation.
type result struct {
	code           int
	stdout, stderr string
}

// confrun runs the binary with the lab's kubeconfig and returns what it did.
func confrun(t *testing.T, ctx context.Context, lab *labtest.Lab, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, confrunBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+lab.Kubeconfig)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("confrun %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("confrun %s -> exit %d in %s", strings.Join(args, " "), r.code, time.Since(start).Round(time.Second))
	return r
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", r.code, r.stdout, r.stderr)
}
