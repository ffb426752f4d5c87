// Package run implements `confrun run`.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/vmware-tanzu/sonobuoy/pkg/client"
	sonodynamic "github.com/vmware-tanzu/sonobuoy/pkg/dynamic"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/buildinfo"
	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/coverage"
	"github.com/confrun/confrun/internal/junitconv"
	"github.com/confrun/confrun/internal/release"
	"github.com/confrun/confrun/internal/sonorun"
)

type flagpole struct {
	kube             cliutil.KubeFlags
	out              *cliutil.OutputFlag
	arch             string
	release          string
	product          string
	resultsRoot      string
	dir              string
	focus            string
	skip             string
	parallel         bool
	timeout          time.Duration
	conformanceImage string
	sonobuoyImage    string
	repoList         string
	requirePrepull   bool
	imagemap         string
	prepullReport    string
	resume           bool
	cleanup          bool
	rerunFailed      bool
	force            bool
}

// NewCommand returns `confrun run`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "run --arch ARCH",
		Short: "Run the certified-conformance suite through sonobuoy and collect the results",
		Long: `Run the Kubernetes conformance suite on the nodes of one architecture through
sonobuoy (as a library: no sonobuoy binary needed), watch it, and leave the
results ready to verify and submit:

  results/vX.Y/<product>/sonobuoy.tar.gz   the whole results tarball
  results/vX.Y/<product>/e2e.log           from plugins/e2e/results/global/
  results/vX.Y/<product>/junit_01.xml      likewise (converted from e2e.log if missing)
  results/vX.Y/<product>/run.json          arch, release, images with digests, nodes, times

The aggregator, its worker sidecar and the e2e pod use your architecture's
images with imagePullPolicy IfNotPresent and are pinned to kubernetes.io/arch
nodes. Without --focus/--skip the run is certified-conformance: every
[Conformance] test, nothing skipped, the only kind k8s-conformance accepts.

If confrun is interrupted the run goes on in the cluster: --resume reattaches
and finishes it, --cleanup deletes everything the run created. Earlier results
in the folder are kept under previous/<time>/ unless --force.`,
		Example: `  # A certification run on mips64el nodes with images from an image map
  confrun run --arch mips64el --product acme-mips --imagemap results/v1.34/acme-mips/imagemap.yaml

  # A quick check with a small focus and explicit images
  confrun run --arch amd64 --product lab --focus 'Pods should be submitted and removed' \
    --conformance-image 127.0.0.1:5000/cke/kubernetes/conformance-amd64:v1.34.4 \
    --sonobuoy-image 127.0.0.1:5000/cke/sonobuoy-amd64:v0.57.3

  # Reattach after Ctrl-C, or delete an interrupted run
  confrun run --resume --product acme-mips
  confrun run --cleanup`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runE(cmd.Context(), streams, f, cmd.Flags().Changed("focus") || cmd.Flags().Changed("skip"))
		},
	}
	fs := cmd.Flags()
	f.kube.AddFlags(fs, sonorun.DefaultNamespace)
	f.out = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	fs.StringVar(&f.arch, "arch", "", "architecture of the nodes to test (mips64el, loong64, riscv64, amd64, ...; Debian, uname and Go names accepted)")
	fs.StringVar(&f.release, "release", "", "expected Kubernetes release (vX.Y); default: the cluster's")
	fs.StringVar(&f.product, "product", "", "product name: results go to <results>/vX.Y/<product>/ (default: the kubeconfig context name)")
	fs.StringVar(&f.resultsRoot, "results", "results", "the results root folder")
	fs.StringVar(&f.dir, "dir", "", "the results folder itself (overrides --results/--product)")
	fs.StringVar(&f.focus, "focus", sonorun.ConformanceFocus, "ginkgo focus regular expression (changing it makes the run unfit for certification)")
	fs.StringVar(&f.skip, "skip", "", "ginkgo skip regular expression (certification needs none)")
	fs.BoolVar(&f.parallel, "parallel", false, "run specs in parallel (E2E_PARALLEL=true); serial specs still run serially")
	fs.DurationVar(&f.timeout, "timeout", 0, "give up waiting after this long (0: no limit); the run goes on in the cluster")
	fs.StringVar(&f.conformanceImage, "conformance-image", "", "the conformance image for ARCH (overrides the image map)")
	fs.StringVar(&f.sonobuoyImage, "sonobuoy-image", "", "the sonobuoy image for ARCH (overrides the image map)")
	fs.StringVar(&f.repoList, "e2e-repo-config", "", "a KUBE_TEST_REPO_LIST file for the e2e images (confrun images map writes one)")
	fs.StringVar(&f.imagemap, "imagemap", "", "the image map (confrun images map): conformance and sonobuoy images, and beside it repo-list.yaml and prepull.json")
	fs.StringVar(&f.prepullReport, "prepull-report", "", "the prepull report (default: prepull.json beside --imagemap)")
	fs.BoolVar(&f.requirePrepull, "require-prepull", false, "refuse to run unless the prepull report shows every image on every node")
	fs.BoolVar(&f.resume, "resume", false, "reattach to an interrupted run and finish it")
	fs.BoolVar(&f.cleanup, "cleanup", false, "delete everything a run created (namespace, RBAC, leftover e2e namespaces)")
	fs.BoolVar(&f.rerunFailed, "rerun-failed", false, "run again only the tests that failed in the folder's junit_01.xml (debugging only: certification needs a full run)")
	fs.BoolVar(&f.force, "force", false, "overwrite the earlier run's results instead of keeping them under previous/")
	return cmd
}

func runE(ctx context.Context, streams cliutil.IOStreams, f *flagpole, customFocus bool) error {
	if err := f.out.Validate(); err != nil {
		return err
	}
	if n := countTrue(f.resume, f.cleanup, f.rerunFailed); n > 1 {
		return cliutil.UsageError("--resume, --cleanup and --rerun-failed exclude each other")
	}
	// sonobuoy's library logs through logrus; keep its chatter out of our output.
	logrus.SetOutput(io.Discard)

	cs, cfg, err := f.kube.Clientset()
	if err != nil {
		return cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	dyn, err := sonodynamic.NewAPIHelperFromRESTConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating dynamic client: %w", err)
	}
	sc, err := client.NewSonobuoyClient(cfg, dyn)
	if err != nil {
		return fmt.Errorf("creating sonobuoy client: %w", err)
	}
	runner := &sonorun.Runner{Client: cs, Sonobuoy: sc, ErrOut: streams.ErrOut, TTY: cliutil.IsTerminal(streams.ErrOut)}

	if f.cleanup {
		if err := runner.Cleanup(ctx, f.kube.Namespace, 5*time.Minute); err != nil {
			return err
		}
		if d, derr := f.resultsDir(""); derr == nil && d != "" {
			_ = sonorun.ClearState(d)
		}
		fmt.Fprintf(streams.ErrOut, "deleted the sonobuoy run in namespace %s and what it created\n", f.kube.Namespace)
		return nil
	}

	in, err := loadInputs(streams.ErrOut, f)
	if err != nil {
		return cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	var a arch.Arch
	if f.arch != "" {
		if a, err = arch.Parse(f.arch); err != nil {
			return cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
	} else if !f.resume {
		return cliutil.UsageError("--arch is required: the architecture of the nodes to test, e.g. --arch mips64el")
	}
	if f.product == "" && f.dir == "" {
		f.product = f.kube.Context
		if f.product == "" {
			return cliutil.UsageError("--product is required: it names the results folder <results>/vX.Y/<product>/")
		}
	}
	if f.product != "" && !productRE.MatchString(f.product) {
		return cliutil.UsageError("--product %q: use lowercase letters, digits and dashes (it becomes a folder name in cncf/k8s-conformance)", f.product)
	}
	spec := sonorun.Spec{
		Arch: a, Namespace: f.kube.Namespace, Focus: f.focus, Skip: f.skip, Parallel: f.parallel,
		ConformanceImage: in.conformance, SonobuoyImage: in.sonobuoy, RepoList: in.repoList,
	}
	info := buildinfo.Get()
	opts := sonorun.Options{
		Spec: spec, Product: f.product, Context: f.kube.Context, Force: f.force, RequirePrepull: f.requirePrepull,
		Prepull: in.prepull, Images: in.images,
		Wait: f.timeout, Version: info.Version, SonobuoyVersion: info.Sonobuoy,
		ConvertJUnit: func(ctx context.Context, e2eLog, junit string) error {
			_, err := junitconv.ConvertFile(ctx, e2eLog, junit, f.force, junitconv.Options{})
			return err
		},
	}
	var rel release.Release
	if f.release != "" {
		if rel, err = release.Parse(f.release); err != nil {
			return cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
	}

	var rec sonorun.Record
	switch {
	case f.resume:
		dir, err := f.resultsDir(f.release)
		if err != nil {
			return err
		}
		rec, err = runner.Resume(ctx, opts, dir)
		if err != nil {
			return err
		}
	default:
		if f.rerunFailed {
			dir, err := f.resultsDir(f.release)
			if err != nil {
				return err
			}
			focus, n, err := failedFocus(filepath.Join(dir, sonorun.JUnitFile))
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "re-running the %d failed test(s) of %s; this is for debugging: certification needs a full certified-conformance run\n", n, dir)
			opts.Spec.Focus, opts.Spec.Skip = focus, ""
		} else if customFocus {
			fmt.Fprintln(streams.ErrOut, "warning: a custom --focus/--skip makes this run unfit for certification")
		}
		if f.dir != "" {
			opts.Dir = f.dir
		}
		opts.ResultsDir = func(clusterRelease string) string {
			return filepath.Join(f.resultsRoot, clusterRelease, f.product)
		}
		rec, err = runner.Run(ctx, opts)
		if errors.Is(err, sonorun.ErrPreflight) {
			return &cliutil.ExitError{Code: cliutil.ExitFailure}
		}
		if err != nil {
			return err
		}
	}
	if !rel.IsZero() && rec.Release != rel.String() {
		fmt.Fprintf(streams.ErrOut, "warning: the cluster runs %s, not the --release %s you asked for\n", rec.Release, rel)
	}
	return report(streams, f, rec)
}

var productRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

func (f *flagpole) resultsDir(rel string) (string, error) {
	if f.dir != "" {
		return f.dir, nil
	}
	if f.product == "" {
		return "", cliutil.UsageError("pass --product (or --dir) to say which results folder holds the run")
	}
	if rel == "" {
		// Find the one release folder holding this product's run.
		matches, _ := filepath.Glob(filepath.Join(f.resultsRoot, "v*", f.product))
		switch len(matches) {
		case 0:
			return "", cliutil.UsageError("no results folder for product %q under %s: pass --dir", f.product, f.resultsRoot)
		case 1:
			return matches[0], nil
		default:
			return "", cliutil.UsageError("product %q has results for several releases (%s): pass --release or --dir", f.product, strings.Join(matches, ", "))
		}
	}
	r, err := release.Parse(rel)
	if err != nil {
		return "", cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	return filepath.Join(f.resultsRoot, r.String(), f.product), nil
}

// failedFocus builds a focus matching exactly the failed tests of a JUnit.
func failedFocus(junitPath string) (string, int, error) {
	fh, err := os.Open(junitPath)
	if err != nil {
		return "", 0, cliutil.WithExitCode(cliutil.ExitUsage, fmt.Errorf("--rerun-failed reads the last results: %w", err))
	}
	defer fh.Close()
	tests, err := coverage.ReadJUnit(fh)
	if err != nil {
		return "", 0, cliutil.WithExitCode(cliutil.ExitUsage, fmt.Errorf("reading %s: %w", junitPath, err))
	}
	var parts []string
	for _, t := range tests {
		if t.Status == coverage.Failed || t.Status == coverage.Error {
			name := coverage.NormalizeName(t.Name)
			if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "Suite]") {
				continue // suite nodes are not specs
			}
			parts = append(parts, regexp.QuoteMeta(name))
		}
	}
	if len(parts) == 0 {
		return "", 0, cliutil.UsageError("%s has no failed tests: nothing to re-run", junitPath)
	}
	return "^(" + strings.Join(parts, "|") + ")$", len(parts), nil
}

func report(streams cliutil.IOStreams, f *flagpole, rec sonorun.Record) error {
	dir := filepath.Dir(rec.Files.Tarball)
	var cov *coverage.Report
	if rec.Files.JUnit != "" {
		if r, err := release.Parse(rec.Release); err == nil {
			if fh, err := os.Open(rec.Files.JUnit); err == nil {
				tests, rerr := coverage.ReadJUnit(fh)
				fh.Close()
				if rerr == nil {
					if c, err := coverage.Check(r, tests); err == nil {
						cov = &c
					}
				}
			}
		}
	}
	if err := f.out.Print(streams.Out, rec, func(w io.Writer) error {
		fmt.Fprintf(w, "results: %s (e2e result: %s)\n", dir, rec.Result)
		for _, p := range []string{rec.Files.E2ELog, rec.Files.JUnit, rec.Files.Tarball, filepath.Join(dir, sonorun.RunFile)} {
			if p != "" {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
		if rec.JUnitConverted {
			fmt.Fprintln(w, "  (junit_01.xml was converted from e2e.log: the tarball held none)")
		}
		if cov != nil {
			maxList := 20
			if rec.Mode != sonorun.ModeCertifiedConformance {
				maxList = 3
			}
			if err := cov.Write(w, maxList); err != nil {
				return err
			}
			if rec.Mode != sonorun.ModeCertifiedConformance {
				fmt.Fprintln(w, "(a custom focus runs part of the suite: certification needs a run without --focus and --skip)")
			}
		}
		fmt.Fprintf(w, "next: confrun verify %s\n", dir)
		return nil
	}); err != nil {
		return err
	}
	if rec.Result != "" && rec.Result != "passed" {
		return &cliutil.ExitError{Code: cliutil.ExitFailure}
	}
	return nil
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
