package images

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/imagemap/verify"
)

type verifyFlags struct {
	mapPath string
	arch    string
	reg     registryFlags
	out     *cliutil.OutputFlag
}

func newVerify(streams cliutil.IOStreams) *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify --imagemap imagemap.yaml [--insecure-registry HOST:PORT]...",
		Short: "Check that every target of the image map exists in its registry for linux/ARCH",
		Long: `verify checks every image of the map that is meant to be pulled, in its
registry: reachable, the tag exists, and the manifest (or an entry of the
index) is for linux/ARCH. Statuses: ok, missing, wrong-arch, unauthorized,
unreachable. It exits 1 if any image is not ok.

Credentials come from the docker config and its credential helpers
(~/.docker/config.json, $DOCKER_CONFIG). Registries are reached over HTTPS,
except those listed with --insecure-registry. Checks run concurrently
(--concurrency), each request bounded by --timeout.`,
		Example: `  confrun images verify --imagemap imagemap.yaml --insecure-registry 127.0.0.1:5000

  # The failures only, for a script
  confrun images verify --imagemap imagemap.yaml -o json | jq '.images[] | select(.status != "ok")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.out.Validate(); err != nil {
				return err
			}
			m, err := loadMap(f.mapPath)
			if err != nil {
				return err
			}
			a := m.Arch()
			if f.arch != "" {
				if a, err = arch.Parse(f.arch); err != nil {
					return cliutil.UsageError("--arch: %v", err)
				}
			}
			c, err := f.reg.client()
			if err != nil {
				return err
			}
			bar := newBar(streams, "verifying "+a.Platform(), len(m.Pulled()))
			rep, err := verify.Run(cmd.Context(), c, m.Entries(), a, verify.Options{Concurrency: f.reg.concurrency,
				OnResult: func(done, total int, it verify.Item) {
					if it.Status != registry.StatusOK {
						bar.Printf("%s %s: %s", it.Status, it.Target, it.Detail)
					}
					bar.Set(done, it.Target)
				}})
			if err != nil {
				bar.Finish("interrupted")
				return err
			}
			bar.Finish(fmt.Sprintf("%d of %d ok", rep.Counts[registry.StatusOK], len(rep.Items)))
			if err := f.out.Print(streams.Out, rep, func(w io.Writer) error { return verifyTable(w, rep) }); err != nil {
				return err
			}
			if !rep.OK() {
				return &cliutil.ExitError{Code: cliutil.ExitFailure}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.mapPath, "imagemap", "imagemap.yaml", "the image map to verify")
	fs.StringVar(&f.mapPath, "map", "imagemap.yaml", "same as --imagemap")
	_ = fs.MarkHidden("map")
	fs.StringVar(&f.arch, "arch", "", "check for this architecture instead of the map's")
	f.reg.add(fs, verify.DefaultConcurrency)
	f.out = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}

func verifyTable(w io.Writer, rep *verify.Report) error {
	t := cliutil.NewTable(w)
	fmt.Fprintln(t, "UPSTREAM\tTARGET\tDIGEST\tPLATFORMS\tSTATUS")
	for _, it := range rep.Items {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", it.Upstream, it.Target, dash(short(it.Digest)), dash(strings.Join(it.Platforms, ",")), it.Status)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	failed := rep.Failed()
	if len(failed) > 0 {
		fmt.Fprintln(w)
		for _, it := range failed {
			fmt.Fprintf(w, "%s %s: %s\n", it.Status, it.Target, it.Detail)
		}
	}
	var counts []string
	for _, s := range []registry.Status{registry.StatusOK, registry.StatusMissing, registry.StatusWrongArch, registry.StatusUnauthorized, registry.StatusUnreachable} {
		if n := rep.Counts[s]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, s))
		}
	}
	fmt.Fprintf(w, "\n%d images checked for %s: %s; %d not meant to be pulled, not checked.\n", len(rep.Items), rep.Arch, strings.Join(counts, ", "), rep.NotPulled)
	if len(failed) > 0 {
		fmt.Fprintln(w, "Next: `confrun images plan --imagemap ...` says where each missing image is built upstream and on which base.")
	}
	return nil
}
