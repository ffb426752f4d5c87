package images

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/imagemap/plan"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/verify"
	"github.com/confrun/confrun/internal/release"
)

type planFlags struct {
	mapPath, arch, release  string
	offline, all, checkBase bool
	reg                     registryFlags
	out                     *cliutil.OutputFlag
}

func newPlan(streams cliutil.IOStreams) *cobra.Command {
	f := &planFlags{}
	cmd := &cobra.Command{
		Use:   "plan (--imagemap imagemap.yaml | --arch ARCH [--release vX.Y])",
		Short: "For each image still to build: where upstream builds it, its VERSION, and its base image for ARCH",
		Long: `plan tells you, before you build, for each image that is missing or has no
linux/ARCH image in your registry:

  - where upstream builds it: kubernetes/kubernetes test/images/<name>, or the
    external project (kubernetes-csi for sig-storage images, sonobuoy, ...)
  - the VERSION of that source at the release (and when the suite uses an
    older tag than the tree holds)
  - the base image upstream uses for ARCH, from test/images/<name>/BASEIMAGE;
    when there is none for ARCH, the amd64 base and whether that base exists
    for ARCH at all (alpine has no mips64el: pick another base first)

With --imagemap it verifies the map's targets first (--offline skips that and plans
every image); with --arch alone it plans every image of the release.
--check-bases asks the base images' registries (Docker Hub) whether the base
exists for ARCH instead of relying on confrun's table.`,
		Example: `  # What is left to build for the map, and on which base
  confrun images plan --imagemap imagemap.yaml --insecure-registry 127.0.0.1:5000

  # Before anything is built: every image of v1.34 for loong64
  confrun images plan --arch loong64 --release v1.34 -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.out.Validate(); err != nil {
				return err
			}
			steps, err := f.run(cmd.Context(), streams)
			if err != nil {
				return err
			}
			return f.out.Print(streams.Out, steps, func(w io.Writer) error { return planTable(w, steps) })
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.mapPath, "imagemap", "", "the image map; its targets are verified first")
	fs.StringVar(&f.mapPath, "map", "", "same as --imagemap")
	_ = fs.MarkHidden("map")
	fs.StringVar(&f.arch, "arch", "", "architecture (without --imagemap, or to override the map's)")
	fs.StringVar(&f.release, "release", "", "Kubernetes release without --imagemap (default the newest confrun knows)")
	fs.BoolVar(&f.offline, "offline", false, "do not contact registries: plan every image")
	fs.BoolVar(&f.all, "all", false, "also list images that are already ok")
	fs.BoolVar(&f.checkBase, "check-bases", false, "ask the base images' registries whether each base exists for ARCH")
	f.reg.add(fs, verify.DefaultConcurrency)
	f.out = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}

// run resolves the flags into plan options and makes the plan.
func (f *planFlags) run(ctx context.Context, streams cliutil.IOStreams) ([]plan.Step, error) {
	var entries []imagemap.Entry
	var a arch.Arch
	var r release.Release
	var err error
	if f.mapPath != "" {
		m, err := loadMap(f.mapPath)
		if err != nil {
			return nil, err
		}
		entries, a, r = m.Entries(), m.Arch(), m.Release()
	} else {
		if f.arch == "" {
			return nil, cliutil.UsageError("pass --imagemap imagemap.yaml, or --arch ARCH to plan every image of a release")
		}
		if r, err = releaseFlag(streams, f.release); err != nil {
			return nil, err
		}
		f.offline = true
	}
	if f.arch != "" {
		if a, err = arch.Parse(f.arch); err != nil {
			return nil, cliutil.UsageError("--arch: %v", err)
		}
	}
	inv, err := inventory.ForRelease(r, inventory.Options{})
	if err != nil {
		return nil, cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	srcs, err := release.ImageSources(r)
	if err != nil {
		return nil, cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	if entries == nil {
		m, _, err := imagemap.Resolve(inv, imagemap.File{Arch: a.GOARCH})
		if err != nil {
			return nil, err
		}
		entries = m.Entries()
	}
	o := plan.Options{Arch: a, Module: inv.Module, Keys: inv.RegistryKeys, Sources: srcs, All: f.all}
	var c *registry.Client
	if !f.offline || f.checkBase {
		if c, err = f.reg.client(); err != nil {
			return nil, err
		}
	}
	if !f.offline {
		bar := newBar(streams, "verifying "+a.Platform(), 0)
		rep, err := verify.Run(ctx, c, entries, a, verify.Options{Concurrency: f.reg.concurrency,
			OnResult: func(done, total int, it verify.Item) { bar.SetTotal(total); bar.Set(done, it.Target) }})
		if err != nil {
			bar.Finish("interrupted")
			return nil, err
		}
		bar.Finish(fmt.Sprintf("%d of %d ok", rep.Counts[registry.StatusOK], len(rep.Items)))
		o.Statuses = map[string]registry.Result{}
		for _, it := range rep.Items {
			o.Statuses[it.Target] = it.Result
		}
	}
	if f.checkBase {
		o.CheckBase = func(ctx context.Context, ref string) registry.Result { return c.Inspect(ctx, ref, a) }
	}
	return plan.Make(ctx, entries, o), nil
}

func planTable(w io.Writer, steps []plan.Step) error {
	if len(steps) == 0 {
		_, err := fmt.Fprintln(w, "Nothing to build: every image is ok.")
		return err
	}
	t := cliutil.NewTable(w)
	fmt.Fprintln(t, "UPSTREAM\tSTATUS\tSOURCE\tVERSION\tBASE\tBASE FOR ARCH")
	for _, s := range steps {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Upstream, dash(string(s.Status)), dash(s.Source), dash(s.Version), dash(s.Base), s.BaseVerdict)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, s := range steps {
		if s.Advice != "" {
			fmt.Fprintf(w, "%s:\n    %s\n", s.Upstream, s.Advice)
		}
	}
	_, err := fmt.Fprintf(w, "\n%d images to build.\n", len(steps))
	return err
}
