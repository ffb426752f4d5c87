// Package app wires confrun's cobra commands. Each verb lives in its own
// package below this one and only turns flags into options for a library in
// internal/; the work happens there.
package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/cmd/confrun/app/doctor"
	"github.com/confrun/confrun/cmd/confrun/app/helper"
	"github.com/confrun/confrun/cmd/confrun/app/images"
	"github.com/confrun/confrun/cmd/confrun/app/junit"
	"github.com/confrun/confrun/cmd/confrun/app/prepull"
	"github.com/confrun/confrun/cmd/confrun/app/run"
	"github.com/confrun/confrun/cmd/confrun/app/submit"
	"github.com/confrun/confrun/cmd/confrun/app/verify"
	"github.com/confrun/confrun/cmd/confrun/app/version"
	"github.com/confrun/confrun/internal/cliutil"
)

// NewRootCommand returns the confrun command tree.
func NewRootCommand(streams cliutil.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "confrun",
		Short: "Take a Kubernetes cluster on any architecture to a certified-conformance pull request",
		Long: `confrun runs the Kubernetes certified-conformance suite on clusters of any CPU
architecture (mips64el, loong64, riscv64, ...) and publishes the results:

  confrun images      know every image the suite needs and map it to your arch build
  confrun doctor      find the kernel options, cgroups and node settings that stand in the way
  confrun prepull     put every mapped image on every node (imagePullPolicy: IfNotPresent)
  confrun run         run the suite through sonobuoy and collect the results
  confrun junit       turn an e2e.log into junit_01.xml
  confrun verify      check a results folder against every k8s-conformance rule
  confrun submit      open the k8s-conformance pull request

Each step reads what the previous one wrote under results/vX.Y/<product>/.`,
		Example: `  # Convert an e2e.log into junit_01.xml beside it
  confrun junit results/v1.34/acme-mips/e2e.log

  # Print the version of confrun
  confrun version -o json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cliutil.UsageError("%v\nSee '%s --help'.", err, c.CommandPath())
	})

	root.AddCommand(
		version.NewCommand(streams),
		images.NewCommand(streams),
		junit.NewCommand(streams),
		doctor.NewCommand(streams),
		verify.NewCommand(streams),
		submit.NewCommand(streams),
		run.NewCommand(streams),
		prepull.NewCommand(streams),
		helper.NewCommand(streams),
	)
	return root
}

// Main runs confrun with args and returns the process exit code.
func Main(ctx context.Context, args []string, streams cliutil.IOStreams) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return cliutil.ExitOK
	}
	var ee *cliutil.ExitError
	if !errors.As(err, &ee) || ee.Err != nil {
		fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return cliutil.ExitCode(err)
}
