package images

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/imagemap/mirror"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/release"
)

type mirrorFlags struct {
	mapPath, to, repoList, writeMap string
	allPlatforms, dryRun, force     bool
	reg                             registryFlags
	out                             *cliutil.OutputFlag
}

func newMirror(streams cliutil.IOStreams) *cobra.Command {
	f := &mirrorFlags{}
	cmd := &cobra.Command{
		Use:   "mirror --imagemap imagemap.yaml --to REGISTRY[/PATH]",
		Short: "Copy every target into one registry under upstream paths and write the e2e repo list",
		Long: `mirror copies each image of the map that is meant to be pulled (its target, the
image built for your architecture) into --to, under the upstream repository
path: registry.k8s.io/e2e-test-images/agnhost:2.56 goes to
REGISTRY/e2e-test-images/agnhost:2.56 whatever the target was called. Then an
e2e repo list alone (written to --repo-list) points an unmodified suite at
them: 'sonobuoy run --e2e-repo-config', 'hydrophone --test-repo-list'.

Only the linux/ARCH image of each target is copied (the destination tag holds
that single image); --all-platforms copies whole indexes. Blobs the
destination has are not sent again, so running mirror again is cheap.
--write-map writes the image map that points at the mirror.`,
		Example: `  confrun images mirror --imagemap imagemap.yaml --to mirror.example:5000 --repo-list repo-list.yaml
  confrun images mirror --imagemap imagemap.yaml --to 127.0.0.1:5000/upstream --insecure-registry 127.0.0.1:5000 \
    --write-map imagemap-mirror.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.out.Validate(); err != nil {
				return err
			}
			if f.to == "" {
				return cliutil.UsageError("--to is required: the registry[/path] to copy into")
			}
			m, err := loadMap(f.mapPath)
			if err != nil {
				return err
			}
			keys, err := repoListKeys(m.Release())
			if err != nil {
				return err
			}
			mm, err := mirror.Plan(m, f.to)
			if err != nil {
				return cliutil.WithExitCode(cliutil.ExitUsage, err)
			}
			if f.dryRun {
				return f.out.Print(streams.Out, mm.File(), func(w io.Writer) error { return mapTable(w, mm) })
			}
			c, err := f.reg.client()
			if err != nil {
				return err
			}
			bar := newBar(streams, "copying to "+f.to, len(m.Pulled()))
			res, err := mirror.Run(cmd.Context(), c, m, keys, mirror.Options{To: f.to, AllPlatforms: f.allPlatforms, Concurrency: f.reg.concurrency,
				OnResult: func(done, total int, it mirror.Item) {
					if it.Status != registry.StatusOK {
						bar.Printf("%s %s: %s", it.Status, it.Source, it.Detail)
					}
					bar.Set(done, it.Dest)
				}})
			if err != nil {
				bar.Finish("interrupted")
				return err
			}
			bar.Finish("done")
			if err := f.out.Print(streams.Out, res, func(w io.Writer) error { return mirrorTable(w, res) }); err != nil {
				return err
			}
			if !res.OK() {
				fmt.Fprintln(streams.ErrOut, "not writing the repo list or map: some images were not copied (fix them and run mirror again)")
				return &cliutil.ExitError{Code: cliutil.ExitFailure}
			}
			if f.writeMap != "" {
				if err := res.Map.WriteFile(f.writeMap, f.force); err != nil {
					return err
				}
				fmt.Fprintf(streams.ErrOut, "wrote %s\n", f.writeMap)
			}
			if res.RepoList == nil {
				return cliutil.WithExitCode(cliutil.ExitFailure, fmt.Errorf("%s", res.RepoListErr))
			}
			if err := res.RepoList.WriteFile(f.repoList, f.force); err != nil {
				return err
			}
			fmt.Fprintf(streams.ErrOut, "wrote %s: sonobuoy run --e2e-repo-config %s (hydrophone: --test-repo-list %s)\n", f.repoList, f.repoList, f.repoList)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.mapPath, "imagemap", "imagemap.yaml", "the image map whose targets to copy")
	fs.StringVar(&f.mapPath, "map", "imagemap.yaml", "same as --imagemap")
	_ = fs.MarkHidden("map")
	fs.StringVar(&f.to, "to", "", "the registry[/path] to copy into")
	fs.BoolVar(&f.allPlatforms, "all-platforms", false, "copy whole indexes, not only the map's architecture")
	fs.StringVar(&f.repoList, "repo-list", "repo-list.yaml", "where to write the e2e repo list")
	fs.StringVar(&f.writeMap, "write-map", "", "also write the image map that points at the mirror")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print where each image would go, copy nothing")
	fs.BoolVar(&f.force, "force", false, "overwrite existing files")
	f.reg.add(fs, mirror.DefaultConcurrency)
	f.out = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}

// repoListKeys are the repo-list keys of release r (of the newest older
// release confrun knows, for a newer one).
func repoListKeys(r release.Release) ([]release.RegistryKey, error) {
	inv, err := inventory.ForRelease(inventory.Nearest(r), inventory.Options{})
	if err != nil {
		return nil, err
	}
	return inv.RegistryKeys, nil
}

func mirrorTable(w io.Writer, res *mirror.Result) error {
	t := cliutil.NewTable(w)
	fmt.Fprintln(t, "UPSTREAM\tDEST\tDIGEST\tSTATUS")
	for _, it := range res.Items {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", it.Upstream, it.Dest, dash(short(it.Digest)), it.Status)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, it := range res.Items {
		if it.Status != registry.StatusOK {
			fmt.Fprintf(w, "%s %s: %s\n", it.Status, it.Source, it.Detail)
		}
	}
	return nil
}
