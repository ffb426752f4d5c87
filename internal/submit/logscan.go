package submit

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/confrun/confrun/internal/coverage"
	"github.com/confrun/confrun/internal/e2elog"
)

// logFacts is what verify needs from an e2e.log, taken from the last run
// internal/e2elog (the parser behind `confrun junit`) finds in it.
type logFacts struct {
	E2EVersion       string
	APIServerVersion string
	// HaveRan is set when the summary "Ran N of M Specs" was seen.
	HaveRan    bool
	Ran, RanOf int
	RanLine    int64
	// Result is "SUCCESS" or "FAIL" from the summary.
	Result string
	// HaveCounts is set when the result line carried the counts.
	HaveCounts     bool
	Passed, Failed int
	// ResultDetail is the result as Ginkgo writes it.
	ResultDetail string
	// Failures are the JUnit names of the specs that did not pass.
	Failures []string
}

// scanLog reads an e2e.log (lines of any length, once).
func scanLog(ctx context.Context, r io.Reader) (*logFacts, error) {
	failures := map[int][]string{}
	log, err := e2elog.Parse(ctx, r, e2elog.Options{}, func(s e2elog.Spec) error {
		if !s.SuiteNode() && s.State.IsFailure() {
			failures[s.Run] = append(failures[s.Run], s.JUnitName())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading e2e.log: %w", err)
	}
	f := &logFacts{}
	if len(log.Runs) == 0 {
		return f, nil
	}
	run := log.Runs[len(log.Runs)-1]
	f.E2EVersion, f.APIServerVersion = run.E2EVersion, run.APIServerVersion
	f.Failures = failures[run.Index]
	if sum := run.Summary; sum != nil {
		f.HaveRan, f.Ran, f.RanOf, f.RanLine = true, sum.Ran, sum.Total, sum.Line
		f.Result = "FAIL"
		if sum.Succeeded {
			f.Result = "SUCCESS"
		}
		f.ResultDetail = f.Result + "!"
		if sum.HasCounts {
			f.HaveCounts, f.Passed, f.Failed = true, sum.Passed, sum.Failed
			f.ResultDetail += fmt.Sprintf(" -- %d Passed | %d Failed | %d Pending | %d Skipped", sum.Passed, sum.Failed, sum.Pending, sum.Skipped)
		}
		if sum.BeforeSuiteFailed {
			f.ResultDetail += " -- A BeforeSuite node failed so all tests were skipped."
		}
		for _, r := range sum.Reasons {
			f.ResultDetail += " (" + r + ")"
		}
	}
	return f, nil
}

var suiteNodeRE = regexp.MustCompile(`^\[(ReportBeforeSuite|BeforeSuite|SynchronizedBeforeSuite|AfterSuite|SynchronizedAfterSuite|ReportAfterSuite|DeferCleanup \(Suite\))\]`)

// isSuiteNode reports whether a Ginkgo report entry is a suite-level node
// rather than a spec.
func isSuiteNode(name string) bool { return suiteNodeRE.MatchString(strings.TrimSpace(name)) }

// sameSpec reports whether two JUnit names (one from e2e.log, one from
// junit_01.xml) name the same spec.
func sameSpec(a, b string) bool { return coverage.NormalizeName(a) == coverage.NormalizeName(b) }
