// Package verify implements `confrun verify`.
package verify

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/submit"
)

type flagpole struct {
	title     string
	online    bool
	latest    string
	stableTxt string
	timeout   time.Duration
	output    *cliutil.OutputFlag
}

// NewCommand returns `confrun verify`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Check a results folder against every k8s-conformance rule",
		Long: `verify applies every rule of a cncf/k8s-conformance submission to a results
folder results/vX.Y/<product>/ and says, for each rule, whether it passes, what
is wrong and how to fix it. It exits 0 only when no rule fails.

Rules:
` + ruleList() + `
It works offline; --online also fetches the URLs of PRODUCT.yaml. The
accepted releases are the three newest minor releases, counted from --latest,
else from --stable-txt, else from the newest release confrun knows.`,
		Example: `  # Check a folder before opening the pull request
  confrun verify results/v1.34/acme-mips

  # Also fetch the product URLs, and count releases from upstream's stable.txt
  confrun verify --online --stable-txt https://dl.k8s.io/release/stable.txt results/v1.34/acme-mips

  # For scripts
  confrun verify -o json results/v1.34/acme-mips | jq '.rules[] | select(.status=="fail")'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, streams, flags, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&flags.title, "title", "", "check this pull request title instead of the one `confrun submit` uses")
	fs.BoolVar(&flags.online, "online", false, "also fetch the PRODUCT.yaml URLs and check their content type")
	fs.StringVar(&flags.latest, "latest", "", "the newest Kubernetes minor release, vX.Y, acceptance counts from")
	fs.StringVar(&flags.stableTxt, "stable-txt", "", "a file or URL holding the newest release (like dl.k8s.io/release/stable.txt)")
	fs.DurationVar(&flags.timeout, "timeout", 30*time.Second, "time limit for each URL fetched")
	flags.output = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}

func ruleList() string {
	s := ""
	for _, r := range submit.Rules() {
		s += fmt.Sprintf("  %-26s %s\n", r.ID, r.Description)
	}
	return s
}

func run(cmd *cobra.Command, streams cliutil.IOStreams, flags *flagpole, dir string) error {
	if err := flags.output.Validate(); err != nil {
		return err
	}
	if flags.latest != "" && flags.stableTxt != "" {
		return cliutil.UsageError("--latest and --stable-txt both say which release is newest: pass one")
	}
	rep, err := submit.Verify(cmd.Context(), submit.VerifyOptions{
		Dir:        dir,
		Title:      flags.title,
		Online:     flags.online,
		HTTPClient: &http.Client{Timeout: flags.timeout},
		Latest:     flags.latest,
		StableTxt:  flags.stableTxt,
	})
	if err != nil {
		return cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	if err := flags.output.Print(streams.Out, rep, func(w io.Writer) error { return rep.WriteTable(w) }); err != nil {
		return err
	}
	if !rep.OK {
		return &cliutil.ExitError{Code: cliutil.ExitFailure}
	}
	return nil
}
