package submit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// logFacts is what verify needs from an e2e.log. This is a small dedicated
// scanner; once internal/e2elog (the full e2e.log parser behind `confrun
// junit`) has landed, verify should take these facts from it instead.
type logFacts struct {
	E2EVersion       string `json:"e2eVersion,omitempty"`
	E2EVersionLine   int    `json:"e2eVersionLine,omitempty"`
	APIServerVersion string `json:"apiServerVersion,omitempty"`
	APIServerLine    int    `json:"apiServerLine,omitempty"`

	// WillRun and WillRunOf are "Will run N of M specs" near the top.
	WillRun, WillRunOf int
	// HaveRan is set when "Ran N of M Specs" was seen.
	HaveRan    bool
	Ran, RanOf int
	RanLine    int
	// Result is "SUCCESS" or "FAIL" from the line after "Ran N of M".
	Result string
	// HaveCounts is set when the result line carried the counts.
	HaveCounts                       bool
	Passed, Failed, Pending, Skipped int
	// ResultDetail is the result line as written.
	ResultDetail string
	// Failures are the spec names of the "Summarizing N Failures" block.
	Failures []string
}

var (
	e2eVersionRE = regexp.MustCompile(`e2e test version: (\S+)\s*$`)
	apiVersionRE = regexp.MustCompile(`kube-apiserver version: (\S+)\s*$`)
	willRunRE    = regexp.MustCompile(`^Will run (\d+) of (\d+) specs`)
	ranRE        = regexp.MustCompile(`^Ran (\d+) of (\d+) Specs? in `)
	resultRE     = regexp.MustCompile(`^(SUCCESS|FAIL)! -- (.*)$`)
	countsRE     = regexp.MustCompile(`^(\d+) Passed \| (\d+) Failed \| (?:(\d+) Flaked \| )?(\d+) Pending \| (\d+) Skipped`)
	summarizeRE  = regexp.MustCompile(`^Summarizing \d+ Failures?:`)
	failTagRE    = regexp.MustCompile(`^\[(FAIL|Fail|PANICKED|Panic!|TIMEDOUT|INTERRUPTED|ABORTED)\] (.+)$`)
)

// scanLog reads an e2e.log line by line (lines of any length).
func scanLog(r io.Reader) (*logFacts, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	f := &logFacts{}
	inSummary := false
	afterRan := false
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			if errors.Is(err, io.EOF) {
				return f, nil
			}
			return nil, fmt.Errorf("reading e2e.log: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimSpace(line)
		if afterRan {
			afterRan = false
			if m := resultRE.FindStringSubmatch(trimmed); m != nil {
				f.Result, f.ResultDetail = m[1], trimmed
				if c := countsRE.FindStringSubmatch(m[2]); c != nil {
					f.HaveCounts = true
					f.Passed, _ = strconv.Atoi(c[1])
					f.Failed, _ = strconv.Atoi(c[2])
					f.Pending, _ = strconv.Atoi(c[4])
					f.Skipped, _ = strconv.Atoi(c[5])
				}
				continue
			}
		}
		switch {
		case f.E2EVersion == "" && strings.Contains(line, "e2e test version: "):
			if m := e2eVersionRE.FindStringSubmatch(line); m != nil {
				f.E2EVersion, f.E2EVersionLine = m[1], n
			}
		case f.APIServerVersion == "" && strings.Contains(line, "kube-apiserver version: "):
			if m := apiVersionRE.FindStringSubmatch(line); m != nil {
				f.APIServerVersion, f.APIServerLine = m[1], n
			}
		case f.WillRunOf == 0 && strings.HasPrefix(trimmed, "Will run "):
			if m := willRunRE.FindStringSubmatch(trimmed); m != nil {
				f.WillRun, _ = strconv.Atoi(m[1])
				f.WillRunOf, _ = strconv.Atoi(m[2])
			}
		case summarizeRE.MatchString(trimmed):
			// A later summary (a re-run in the same log) replaces an earlier one.
			inSummary, f.Failures = true, nil
		case strings.HasPrefix(trimmed, "Ran "):
			if m := ranRE.FindStringSubmatch(trimmed); m != nil {
				inSummary, afterRan = false, true
				f.HaveRan, f.RanLine = true, n
				f.Ran, _ = strconv.Atoi(m[1])
				f.RanOf, _ = strconv.Atoi(m[2])
				f.Result, f.HaveCounts = "", false
			}
		case inSummary:
			if m := failTagRE.FindStringSubmatch(trimmed); m != nil && !isSuiteNode(m[2]) {
				f.Failures = append(f.Failures, strings.TrimSpace(m[2]))
			}
		}
	}
}

var suiteNodeRE = regexp.MustCompile(`^\[(ReportBeforeSuite|BeforeSuite|SynchronizedBeforeSuite|AfterSuite|SynchronizedAfterSuite|ReportAfterSuite|DeferCleanup \(Suite\))\]`)

// isSuiteNode reports whether a Ginkgo report entry is a suite-level node
// rather than a spec.
func isSuiteNode(name string) bool { return suiteNodeRE.MatchString(strings.TrimSpace(name)) }

var itRE = regexp.MustCompile(`\s*\[It\]\s*`)

// specKey makes a log name and a JUnit name of the same spec comparable:
// Ginkgo v2 writes "[It] " before the spec text in JUnit and in the middle
// of the name in the log, and appends the labels ("[sig-node, Conformance]")
// in the log only.
func specKey(name string) string {
	n := itRE.ReplaceAllString(strings.TrimSpace(name), " ")
	return strings.Join(strings.Fields(n), " ")
}

// sameSpec reports whether a name from the log's failure summary names the
// JUnit spec junitName.
func sameSpec(logName, junitName string) bool {
	l, j := specKey(logName), specKey(junitName)
	return l == j || strings.HasPrefix(l, j+" [")
}
