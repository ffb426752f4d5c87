// Package junit implements `confrun junit`.
package junit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/e2elog"
	"github.com/confrun/confrun/internal/junitconv"
	"github.com/confrun/confrun/internal/release"
)

type options struct {
	output   string
	force    bool
	format   string
	release  string
	noNotRun bool
	report   string
	maxList  int
}

// NewCommand returns `confrun junit`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "junit [flags] E2E_LOG",
		Short: "Turn an e2e.log into the junit_01.xml Ginkgo would have written",
		Long: `junit reads the console log of a Kubernetes e2e run (e2e.log, Ginkgo v1 or v2,
serial or parallel) and writes the junit_01.xml Ginkgo would have written for
the same run: every spec the log shows running, with Ginkgo's name and status,
failure message and location, durations as printed, and the totals of Ginkgo's
final summary. Skipped specs are not named in a log; the conformance tests of
the release (--release, or the log's "e2e test version:") that did not run are
listed as skipped with a message saying so. After converting it prints the
conformance coverage.

A log written without Ginkgo's -v names only failed specs: the JUnit then holds
what the log holds, is marked incomplete, and the command exits 3. So do a
truncated or interrupted run and a failed BeforeSuite.

Exit status: 0 converted, 2 bad input (nothing written), 3 written but incomplete.`,
		Example: `  # Write junit_01.xml beside the log
  confrun junit results/v1.34/acme-mips/e2e.log

  # Choose the output file, replace it if it exists
  confrun junit -o /tmp/junit_01.xml --force e2e.log

  # A Ginkgo v1 log (Kubernetes v1.24 and older) without a version line
  confrun junit --release v1.24 --format ginkgo-v1 e2e.log

  # Machine-readable report of the conversion
  confrun junit --report json e2e.log`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cliutil.UsageError("junit needs exactly one argument, the e2e.log to convert (got %d)\nSee 'confrun junit --help'.", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, streams, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.output, "output", "o", "", "JUnit file to write (default: junit_01.xml beside the log)")
	fs.BoolVar(&o.force, "force", false, "overwrite the output file if it exists")
	fs.StringVar(&o.format, "format", "auto", "log format: auto, ginkgo-v1 (Kubernetes up to v1.24) or ginkgo-v2 (v1.25 on)")
	fs.StringVar(&o.release, "release", "", "Kubernetes release whose conformance tests to list and check, e.g. v1.34 (default: the log's e2e test version)")
	fs.BoolVar(&o.noNotRun, "no-not-run", false, "do not list the conformance tests that did not run")
	fs.StringVar(&o.report, "report", cliutil.FormatTable, "format of the conversion report on stdout: table|json|yaml")
	fs.IntVar(&o.maxList, "max-list", 20, "how many missing or failed conformance tests to name (0: all)")
	return cmd
}

func (o *options) run(cmd *cobra.Command, streams cliutil.IOStreams, logPath string) error {
	switch o.report {
	case cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML:
	default:
		return cliutil.UsageError("unknown --report format %q: use table, json or yaml", o.report)
	}
	format, err := e2elog.ParseFormat(o.format)
	if err != nil {
		return cliutil.UsageError("%v", err)
	}
	opts := junitconv.Options{Format: format, NoNotRunList: o.noNotRun}
	if o.release != "" {
		r, err := release.Parse(o.release)
		if err != nil {
			return cliutil.UsageError("--release: %v", err)
		}
		if err := release.Check(r); err != nil {
			return cliutil.UsageError("--release: %v", err)
		}
		opts.Release = r
	}
	if st, err := os.Stat(logPath); err != nil {
		return cliutil.UsageError("cannot read the e2e log: %v", err)
	} else if st.IsDir() {
		return cliutil.UsageError("%s is a directory: give the e2e.log file inside it", logPath)
	}
	out := o.output
	if out == "" {
		out = filepath.Join(filepath.Dir(logPath), "junit_01.xml")
	}
	defer collectLess()()
	res, err := junitconv.ConvertFile(cmd.Context(), logPath, out, o.force, opts)
	var notLog *e2elog.NotE2ELogError
	switch {
	case errors.As(err, &notLog):
		return cliutil.UsageError("%s is not an e2e.log: %s; nothing written", logPath, notLog.Reason)
	case errors.Is(err, atomicfile.ErrExists):
		return cliutil.UsageError("%v", err)
	case err != nil:
		return fmt.Errorf("converting %s: %w", logPath, err)
	}
	if err := cliutil.PrintData(streams.Out, o.report, res, func(w io.Writer) error { return o.table(w, res) }); err != nil {
		return err
	}
	if res.IsIncomplete() {
		// One write: a log of many runs has many reasons.
		ew := bufio.NewWriter(streams.ErrOut)
		fmt.Fprintf(ew, "warning: %s is incomplete: it holds what the log holds, and says so in its Incomplete property:\n", out)
		for _, why := range res.Incomplete {
			fmt.Fprintf(ew, "  - %s\n", why)
		}
		if res.NamesMissing {
			fmt.Fprintln(ew, "To get a complete log, run the suite with Ginkgo's -v: E2E_EXTRA_GINKGO_ARGS=-v for the conformance image (sonobuoy: --plugin-env=e2e.E2E_EXTRA_GINKGO_ARGS=-v; sonobuoy's own logs are verbose).")
		}
		_ = ew.Flush()
		return &cliutil.ExitError{Code: cliutil.ExitIncomplete}
	}
	return nil
}

func (o *options) table(w io.Writer, res *junitconv.Result) error {
	fmt.Fprintf(w, "wrote %s (%s): %d testcases; suite totals %d tests, %d failures, %d errors, %d skipped\n",
		res.Output, res.Format, res.Testcases, res.Tests, res.Failures, res.Errors, res.Skipped+res.Disabled)
	if res.Total > 0 || res.Ran > 0 {
		fmt.Fprintf(w, "Ginkgo ran %d of %d specs\n", res.Ran, res.Total)
	}
	if res.E2EVersion != "" {
		fmt.Fprintf(w, "e2e test version %s, kube-apiserver version %s\n", res.E2EVersion, res.APIServerVersion)
	}
	if res.NotRun > 0 {
		fmt.Fprintf(w, "listed %d conformance tests of %s that did not run as skipped\n", res.NotRun, res.Release)
	}
	if res.Coverage == nil {
		why := "the log names no release"
		if res.ReleaseNote != "" {
			why = res.ReleaseNote
		}
		_, err := fmt.Fprintf(w, "conformance: not checked (%s; pass --release vX.Y)\n", why)
		return err
	}
	return res.Coverage.Write(w, o.maxList)
}

// gcBudget is the Go memory the conversion may use before the garbage
// collector runs. A conversion streams: its live heap stays at a few MB
// whatever the log's size, so this keeps peak memory where Go's default
// (collect whenever the heap doubles) puts it, with fewer collections (a
// 100 MB log: one instead of four).
const gcBudget = 20 << 20

// collectLess lets the garbage collector run when the Go memory reaches
// gcBudget instead of whenever the heap doubles, unless GOGC or GOMEMLIMIT
// say otherwise, and returns what restores the settings. Should the live
// heap grow past half the budget (a log of tens of thousands of runs keeps
// each run's summary), the settings are restored at once: near its limit
// the collector would run all the time.
func collectLess() func() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(gcBudget)
	percent := debug.SetGCPercent(-1)
	restore := func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if metrics.Read(live); live[0].Value.Kind() == metrics.KindUint64 && live[0].Value.Uint64() > gcBudget/2 {
				restore()
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		restore()
	}
}
