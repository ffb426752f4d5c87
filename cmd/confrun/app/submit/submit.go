// Package submit implements `confrun submit` and `confrun submit init`.
package submit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/submit"
)

type flagpole struct {
	tokenFile    string
	githubURL    string
	upstream     string
	base         string
	forkOwner    string
	signoffName  string
	signoffEmail string
	dryRun       bool
	force        bool
	maxWait      time.Duration
	forkTimeout  time.Duration
	latest       string
	stableTxt    string
	online       bool
	output       *cliutil.OutputFlag
}

// NewCommand returns `confrun submit` with its `init` subcommand.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "submit DIR",
		Short: "Open the k8s-conformance pull request for a results folder",
		Long: `submit checks a results folder with every verify rule, then opens (or updates)
the pull request to cncf/k8s-conformance: it finds or creates your fork (and
waits for GitHub to create it), syncs the fork's master with upstream, creates
the branch confrun/vX.Y-<product> from upstream master, uploads the four files
with the Git Data API, makes exactly one commit signed off with
"Signed-off-by: NAME <EMAIL>", and opens the pull request
"Conformance results for vX.Y/<product>" with the repository's checklist.

Running it again updates the same branch (still one commit) and the same open
pull request; after an interruption it finishes the job. --dry-run prints the
plan and changes nothing.

The token comes from $GITHUB_TOKEN or --token-file (a file only you can read)
and needs the public_repo scope (classic) or Contents and Pull requests
read/write (fine-grained). It is never printed.`,
		Example: `  # See what would happen (offline without a token; read-only with one)
  confrun submit --dry-run results/v1.34/acme-mips

  # Open the pull request
  GITHUB_TOKEN=... confrun submit --signoff-name "Ada Lovelace" --signoff-email ada@example.com results/v1.34/acme-mips

  # Against GitHub Enterprise, token from a file
  confrun submit --github-url https://ghe.example.com/ --token-file ~/.config/confrun/token results/v1.34/acme-mips

  # Scaffold README.md and PRODUCT.yaml first
  confrun submit init --product acme-mips --arch mips64el --vendor "Acme Corp"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), streams, flags, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&flags.tokenFile, "token-file", "", "read the GitHub token from this file (mode 0600) instead of $GITHUB_TOKEN")
	fs.StringVar(&flags.githubURL, "github-url", "", "GitHub API URL for GitHub Enterprise, e.g. https://ghe.example.com/ (default github.com)")
	fs.StringVar(&flags.upstream, "upstream", submit.DefaultUpstream, "the repository to open the pull request to")
	fs.StringVar(&flags.base, "base", submit.DefaultBase, "the branch of the upstream repository to target")
	fs.StringVar(&flags.forkOwner, "fork-owner", "", "fork into this organization instead of your user")
	fs.StringVar(&flags.signoffName, "signoff-name", "", "name for the commit and its Signed-off-by line (default: git config user.name)")
	fs.StringVar(&flags.signoffEmail, "signoff-email", "", "email for the commit and its Signed-off-by line (default: git config user.email)")
	fs.BoolVar(&flags.dryRun, "dry-run", false, "print the plan (fork, branch, files with sizes and sha256, commit, title, body) and change nothing")
	fs.BoolVar(&flags.force, "force", false, "open the pull request even though verify fails (prints the failing rules)")
	fs.DurationVar(&flags.maxWait, "max-wait", 15*time.Minute, "the longest wait for a GitHub rate limit before giving up")
	fs.DurationVar(&flags.forkTimeout, "fork-timeout", 5*time.Minute, "how long to wait for GitHub to create the fork")
	fs.StringVar(&flags.latest, "latest", "", "verify: the newest Kubernetes minor release, vX.Y, acceptance counts from")
	fs.StringVar(&flags.stableTxt, "stable-txt", "", "verify: a file or URL holding the newest release")
	fs.BoolVar(&flags.online, "online", false, "verify: also fetch the PRODUCT.yaml URLs")
	flags.output = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	cmd.AddCommand(newInitCommand(streams))
	return cmd
}

func run(ctx context.Context, streams cliutil.IOStreams, flags *flagpole, dir string) error {
	if err := flags.output.Validate(); err != nil {
		return err
	}
	if flags.latest != "" && flags.stableTxt != "" {
		return cliutil.UsageError("--latest and --stable-txt both say which release is newest: pass one")
	}
	token, err := submit.LoadToken(flags.tokenFile, os.Getenv)
	if err != nil {
		return cliutil.WithExitCode(cliutil.ExitUsage, err)
	}
	if token == "" && !flags.dryRun {
		return cliutil.UsageError("no GitHub token: set %s or pass --token-file (a file only you can read); the token needs the public_repo scope. --dry-run works without one", submit.TokenEnv)
	}
	signoff, err := submit.ResolveSignoff(ctx, flags.signoffName, flags.signoffEmail)
	if err != nil {
		if !flags.dryRun {
			return cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
		fmt.Fprintf(streams.ErrOut, "warning: %v\n", err)
		signoff = submit.Signoff{Name: "<your name>", Email: "<your email>"}
	}
	res, err := submit.Submit(ctx, submit.SubmitOptions{
		Dir: dir, Token: token, GitHubURL: flags.githubURL, Upstream: flags.upstream, Base: flags.base,
		ForkOwner: flags.forkOwner, Signoff: signoff, DryRun: flags.dryRun, Force: flags.force,
		Verify: submit.VerifyOptions{Latest: flags.latest, StableTxt: flags.stableTxt, Online: flags.online,
			HTTPClient: &http.Client{Timeout: 30 * time.Second}},
		Retry:       submit.RetryPolicy{MaxWait: flags.maxWait},
		ForkTimeout: flags.forkTimeout,
		Log:         streams.ErrOut,
	})
	if err != nil {
		if errors.Is(err, submit.ErrVerifyFailed) {
			return cliutil.WithExitCode(cliutil.ExitFailure, err)
		}
		if res == nil {
			return cliutil.WithExitCode(cliutil.ExitUsage, err)
		}
		return err
	}
	return flags.output.Print(streams.Out, res, func(w io.Writer) error {
		if res.DryRun {
			fmt.Fprintln(w, "Dry run: nothing was changed. The plan:")
			return res.Plan.WriteText(w)
		}
		tw := cliutil.NewTable(w)
		fmt.Fprintf(tw, "PULL REQUEST\t#%d %s (%s)\n", res.PullRequest, res.PullRequestURL, res.PullRequestAction)
		fmt.Fprintf(tw, "FORK\t%s\n", res.Fork)
		fmt.Fprintf(tw, "BRANCH\t%s\n", res.Branch)
		created := "kept: same content as before"
		if res.CommitCreated {
			created = "new"
		}
		fmt.Fprintf(tw, "COMMIT\t%s (%s)\n", res.Commit, created)
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w, "\nNext: tick the checklist in the pull request once each item is done.")
		return err
	})
}

type initFlags struct {
	opts     submit.InitOptions
	fields   map[string]*string
	output   *cliutil.OutputFlag
	noPrompt bool
}

func newInitCommand(streams cliutil.IOStreams) *cobra.Command {
	f := &initFlags{fields: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "init --product NAME",
		Short: "Scaffold results/vX.Y/<product>/PRODUCT.yaml and README.md",
		Long: `init writes PRODUCT.yaml (from flags, a --from YAML file, and on a terminal
questions for the required fields still empty) and a README.md recording how
the run was made: the confrun commands, the image map, the architecture and the
nodes. Replace README.md's install section with your product's installation
instructions, then run confrun verify. Existing files are kept unless --force.`,
		Example: `  confrun submit init --product acme-mips --arch mips64el --nodes node-1,node-2 \
    --vendor "Acme Corp" --name "Acme Mips" --version 2.1 --type distribution \
    --description "Kubernetes for mips64el servers" --website-url https://acme.example \
    --documentation-url https://acme.example/docs --contact-email-address cert@acme.example

  # Fields from a file, no questions
  confrun submit init --product acme-mips --release v1.34 --from product.yaml --no-prompt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.output.Validate(); err != nil {
				return err
			}
			if f.opts.ProductDir == "" {
				return cliutil.UsageError("--product is required: the folder name, e.g. --product acme-mips")
			}
			for key, v := range f.fields {
				_ = f.opts.Product.Set(key, *v)
			}
			if in, ok := streams.In.(*os.File); ok && !f.noPrompt && cliutil.IsTerminal(in) && cliutil.IsTerminal(streams.ErrOut) {
				f.opts.Prompt = submit.PromptFrom(in, streams.ErrOut)
			}
			res, err := submit.Init(cmd.Context(), f.opts)
			if err != nil {
				return cliutil.WithExitCode(cliutil.ExitUsage, err)
			}
			return f.output.Print(streams.Out, res, func(w io.Writer) error {
				for _, p := range res.Written {
					fmt.Fprintf(w, "wrote %s\n", p)
				}
				if len(res.Missing) > 0 {
					fmt.Fprintf(w, "PRODUCT.yaml still needs: %s\n", strings.Join(res.Missing, ", "))
				}
				_, err := fmt.Fprintf(w, "Next: write the install instructions in %s/README.md, then `confrun verify %s`\n", res.Dir, res.Dir)
				return err
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.opts.ProductDir, "product", "", "the product folder name (letters, digits, . _ -)")
	fs.StringVar(&f.opts.Release, "release", "", "the Kubernetes release vX.Y (default: the release of existing results for the product, else the newest known)")
	fs.StringVar(&f.opts.ResultsDir, "results-dir", "results", "where the vX.Y/<product> folders live")
	fs.StringVar(&f.opts.FromFile, "from", "", "a YAML file with PRODUCT.yaml fields")
	fs.StringVar(&f.opts.Arch, "arch", "", "the nodes' architecture (mips64el, loong64, riscv64, ...)")
	fs.StringVar(&f.opts.ImageMap, "image-map", "", "the image map used by the run (default: imagemap.yaml in the folder, if any)")
	fs.StringSliceVar(&f.opts.Nodes, "nodes", nil, "the cluster's nodes, comma separated")
	fs.StringArrayVar(&f.opts.Commands, "command", nil, "a command used for the run, repeatable (default: the usual confrun pipeline)")
	fs.BoolVar(&f.opts.Force, "force", false, "overwrite an existing README.md and PRODUCT.yaml")
	fs.BoolVar(&f.noPrompt, "no-prompt", false, "never ask for missing fields, even on a terminal")
	for _, pf := range submit.ProductFields {
		v := new(string)
		f.fields[pf.Key] = v
		fs.StringVar(v, strings.ReplaceAll(pf.Key, "_", "-"), "", "PRODUCT.yaml "+pf.Key+": "+pf.Help)
	}
	f.output = cliutil.AddOutputFlag(fs, cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}
