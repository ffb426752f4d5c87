//go:build e2e

package junitconv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/confrun/confrun/internal/labtest"
)

// TestLabSamplesMatchGinkgo converts every e2e.log the lab's upstream
// e2e.test wrote (`make lab-e2e-sample` puts them under
// lab/.state/samples/<name>/) and compares the result with the
// junit_01.xml Ginkgo wrote in the same run.
func TestLabSamplesMatchGinkgo(t *testing.T) {
	lab := labtest.Require(t)
	dirs, _ := filepath.Glob(filepath.Join(lab.StateDir, "samples", "*", "e2e.log"))
	if len(dirs) == 0 {
		// No run yet: make one, as `make lab-e2e-sample` does.
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "make", "-C", root, "lab-e2e-sample")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t.Logf("no lab samples under %s/samples: running make lab-e2e-sample", lab.StateDir)
		if err := cmd.Run(); err != nil {
			tail := out.Bytes()
			if len(tail) > 4000 {
				tail = tail[len(tail)-4000:]
			}
			t.Fatalf("make lab-e2e-sample: %v\n%s", err, tail)
		}
	}
	dirs, _ = filepath.Glob(filepath.Join(lab.StateDir, "samples", "*"))
	n := 0
	for _, dir := range dirs {
		logPath := filepath.Join(dir, "e2e.log")
		if _, err := os.Stat(logPath); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "junit_01.xml")); err != nil {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, out := convert(t, logPath, Options{})
			compared := compareWithGinkgo(t, out, readSampleJUnit(t, dir))
			t.Logf("%s: %s, %d tests compared with Ginkgo's JUnit, %d listed as not run, incomplete: %q",
				filepath.Base(dir), res.Format, compared, res.NotRun, res.Incomplete)
			if compared == 0 {
				t.Error("no test compared")
			}
		})
	}
	if n == 0 {
		t.Fatalf("no e2e.log/junit_01.xml pair under %s/samples: run `make lab-e2e-sample`", lab.StateDir)
	}
}
