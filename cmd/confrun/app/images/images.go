// Package images implements `confrun images` and its subcommands list, map,
// verify, plan and mirror. The work is in internal/imagemap and its
// subpackages; this package turns flags into their options.
package images

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/registry"
	"github.com/confrun/confrun/internal/progress"
)

// NewCommand returns `confrun images`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Know every image the suite needs, map each to your arch build, prove it exists for that arch",
		Long: `images works out every image a certified-conformance run of one Kubernetes
release needs, maps each upstream image to the image you built for your
architecture, and checks in your registry that each one exists for it.

  list     the images of a release (embedded, offline; or --from-cluster)
  map      resolve upstream images to your targets: imagemap.yaml (+ repo list)
  verify   check every target in its registry for linux/ARCH
  plan     for each image still to build: upstream source, VERSION, base image
  mirror   copy the targets under upstream paths and write the e2e repo list

The image map (imagemap.yaml) is what 'confrun prepull' and 'confrun run' read.`,
		Example: `  # What does v1.34 need?
  confrun images list --release v1.34

  # Map to images named like 127.0.0.1:5000/cke/kubernetes/agnhost-mips64el:2.56
  confrun images map --arch mips64el --release v1.34 --default-registry 127.0.0.1:5000 \
    --rule 'registry.k8s.io={{.DefaultRegistry}}/cke/kubernetes/{{.Name}}-{{.DebArch}}:{{.Tag}}'

  # Prove that every target exists for mips64le
  confrun images verify --imagemap imagemap.yaml --insecure-registry 127.0.0.1:5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newList(streams), newMap(streams), newVerify(streams), newPlan(streams), newMirror(streams))
	return cmd
}

// registryFlags are the flags of subcommands that talk to registries.
type registryFlags struct {
	insecure    []string
	timeout     time.Duration
	concurrency int
}

func (r *registryFlags) add(fs *pflag.FlagSet, defaultConcurrency int) {
	fs.StringSliceVar(&r.insecure, "insecure-registry", nil, "registry host[:port] that may be reached over plain HTTP (repeatable); every other registry needs HTTPS")
	fs.DurationVar(&r.timeout, "timeout", registry.DefaultTimeout, "time limit for each registry request")
	fs.IntVar(&r.concurrency, "concurrency", defaultConcurrency, "how many images to handle at once")
}

// client validates the flags and returns a registry client.
func (r *registryFlags) client() (*registry.Client, error) {
	if r.timeout <= 0 {
		return nil, cliutil.UsageError("--timeout must be positive")
	}
	if r.concurrency <= 0 {
		return nil, cliutil.UsageError("--concurrency must be at least 1")
	}
	c, err := registry.New(registry.Options{Insecure: r.insecure, Timeout: r.timeout, Concurrency: r.concurrency})
	if err != nil {
		return nil, cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	return c, nil
}

// loadMap reads --imagemap; a bad file is a usage error.
func loadMap(path string) (*imagemap.Map, error) {
	if path == "" {
		return nil, cliutil.UsageError("--imagemap is required: pass the imagemap.yaml written by `confrun images map`")
	}
	m, err := imagemap.LoadMap(path)
	if err != nil {
		return nil, cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	return m, nil
}

// newBar starts a progress bar on ErrOut.
func newBar(streams cliutil.IOStreams, label string, total int) *progress.Bar {
	return progress.New(streams.ErrOut, label, total, progress.Options{TTY: cliutil.IsTerminal(streams.ErrOut)})
}

// short abbreviates a digest for tables.
func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// warn prints notes for a person.
func warn(streams cliutil.IOStreams, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(streams.ErrOut, "note: %s\n", l)
	}
}
