package sonorun

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/confrun/confrun/internal/arch"
)

// Options are everything `confrun run` needs.
type Options struct {
	Spec Spec
	// Dir is the results folder results/vX.Y/<product>/; when empty it is
	// derived from the cluster's release with ResultsDir.
	Dir        string
	ResultsDir func(release string) string
	Product    string
	Context    string
	Force      bool
	// Prepull reports pre-pulled images; nil when no report exists.
	Prepull        PrepullStatus
	RequirePrepull bool
	// Images are the other images of the run (the e2e images of the map),
	// recorded in run.json.
	Images []ImageRecord
	// Wait bounds the whole run (0: no bound).
	Wait time.Duration
	// ConvertJUnit writes a JUnit from an e2e.log when the tarball has none.
	ConvertJUnit func(ctx context.Context, e2eLog, junit string) error
	// Version is confrun's version for run.json; SonobuoyVersion the library's.
	Version, SonobuoyVersion string
	Now                      func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// ErrPreflight is returned (wrapped) when preflight found errors; the
// findings were printed.
var ErrPreflight = errors.New("preflight checks failed")

// Run performs a whole run: preflight, start, follow, collect. If ctx is
// cancelled while following, the run goes on in the cluster and the error
// says how to resume.
func (r *Runner) Run(ctx context.Context, o Options) (Record, error) {
	cluster, findings := Preflight(ctx, r.Client, PreflightOptions{
		Arch: o.Spec.Arch, Namespace: o.Spec.Namespace, Prepull: o.Prepull, RequirePrepull: o.RequirePrepull,
	})
	for _, f := range findings {
		fmt.Fprintln(r.ErrOut, f)
	}
	if HasErrors(findings) {
		return Record{}, ErrPreflight
	}
	o.Spec.KubeVersion = cluster.ServerVersion
	if err := o.Spec.Validate(); err != nil {
		return Record{}, err
	}
	dir := o.Dir
	if dir == "" {
		dir = o.ResultsDir(cluster.Release.String())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Record{}, fmt.Errorf("creating results folder: %w", err)
	}
	if _, err := ReadState(dir); err == nil {
		return Record{}, fmt.Errorf("%s records a run in progress: reattach with `confrun run --resume` or remove it with `confrun run --cleanup`", dir)
	}
	rec := Record{
		ConfrunVersion: o.Version, SonobuoyVersion: o.SonobuoyVersion,
		Arch: o.Spec.Arch.GOARCH, Platform: o.Spec.Arch.Platform(),
		Release: cluster.Release.String(), ServerVersion: cluster.ServerVersion, Product: o.Product,
		Mode: o.Spec.Mode(), Focus: o.Spec.Focus, Skip: o.Spec.Skip, Parallel: o.Spec.Parallel,
		Namespace: o.Spec.Namespace, Context: o.Context, Nodes: cluster.Nodes, Started: o.now().UTC(), Status: "running",
		Images: []ImageRecord{
			{Role: "conformance", Ref: o.Spec.ConformanceImage},
			{Role: "sonobuoy", Ref: o.Spec.SonobuoyImage},
		},
	}
	rec.Images = append(rec.Images, o.Images...)
	if err := WriteState(dir, rec); err != nil {
		return rec, err
	}
	fmt.Fprintf(r.ErrOut, "starting %s run of Kubernetes %s on %d %s node(s) in namespace %s\n", rec.Mode, rec.ServerVersion, len(rec.Nodes), rec.Arch, rec.Namespace)
	if err := r.Start(ctx, o.Spec); err != nil {
		_ = ClearState(dir)
		return rec, fmt.Errorf("%w (remove anything it created with `confrun run --cleanup`)", err)
	}
	return r.finish(ctx, o, dir, rec)
}

// Resume reattaches to the run recorded in dir (or, without a record, the
// run in spec's namespace) and finishes it.
func (r *Runner) Resume(ctx context.Context, o Options, dir string) (Record, error) {
	rec, err := ReadState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return rec, fmt.Errorf("no run in progress is recorded in %s: start one with `confrun run`, or pass the results folder of the interrupted run with --dir", dir)
	}
	if err != nil {
		return rec, err
	}
	if o.Spec.Arch.GOARCH == "" {
		a, err := arch.Parse(rec.Arch)
		if err != nil {
			return rec, err
		}
		o.Spec.Arch = a
	}
	fmt.Fprintf(r.ErrOut, "reattaching to the run started %s in namespace %s\n", rec.Started.Local().Format(time.RFC1123), rec.Namespace)
	return r.finish(ctx, o, dir, rec)
}

func (r *Runner) finish(ctx context.Context, o Options, dir string, rec Record) (Record, error) {
	wctx := ctx
	if o.Wait > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, o.Wait)
		defer cancel()
	}
	u, err := r.Follow(wctx, rec.Namespace, rec.Started)
	rec.AddDigests(u.Images)
	if len(rec.Nodes) == 0 { // preflight's list of the run's nodes wins
		rec.Nodes = u.Nodes
	}
	if err != nil {
		if ctx.Err() != nil {
			rec.Status = "interrupted"
			_ = WriteState(dir, rec)
			return rec, fmt.Errorf("stopped following the run; it goes on in the cluster: `confrun run --resume` reattaches, `confrun run --cleanup` deletes it: %w", ctx.Err())
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return rec, fmt.Errorf("the run did not finish within --timeout %s; it goes on in the cluster (`confrun run --resume` or `--cleanup`)", o.Wait)
		}
		return rec, err
	}
	rec.Result = u.ResultStatus
	kept, err := "", error(nil)
	if !o.Force {
		if kept, err = KeepEarlier(dir, rec.Started); err != nil {
			return rec, err
		}
		if kept != "" {
			fmt.Fprintf(r.ErrOut, "kept the earlier run's results in %s\n", kept)
		}
	}
	fmt.Fprintln(r.ErrOut, "retrieving results...")
	files, err := Retrieve(ctx, r.Sonobuoy, rec.Namespace, dir, o.Force)
	rec.Files = files
	if err != nil {
		return rec, err
	}
	if files.JUnit == "" && o.ConvertJUnit != nil {
		files.JUnit = dir + "/" + JUnitFile
		fmt.Fprintf(r.ErrOut, "the results hold no %s: converting %s with `confrun junit`\n", JUnitFile, E2ELogFile)
		if err := o.ConvertJUnit(ctx, files.E2ELog, files.JUnit); err != nil {
			return rec, fmt.Errorf("converting e2e.log to JUnit: %w", err)
		}
		rec.JUnitConverted = true
		rec.Files = files
	}
	now := o.now().UTC()
	rec.Finished = &now
	rec.Status = u.Phase
	if err := WriteRecord(dir, rec, true); err != nil {
		return rec, err
	}
	if err := ClearState(dir); err != nil {
		return rec, fmt.Errorf("removing the in-progress record: %w", err)
	}
	return rec, nil
}
