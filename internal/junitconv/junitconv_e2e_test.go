//go:build e2e

package junitconv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/confrun/confrun/internal/labtest"
)

// TestLabSamplesMatchGinkgo converts every e2e.log the lab's upstream
// e2e.test wrote (`make lab-e2e-sample` puts them under
// lab/.state/samples/<name>/) and compares the result with the
// junit_01.xml Ginkgo wrote in the same run.
func TestLabSamplesMatchGinkgo(t *testing.T) {
	lab := labtest.Require(t)
	dirs, _ := filepath.Glob(filepath.Join(lab.StateDir, "samples", "*"))
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
