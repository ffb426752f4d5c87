// Package version implements `confrun version`.
package version

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/confrun/confrun/internal/buildinfo"
	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/release"
)

type output struct {
	buildinfo.Info `json:",inline"`
	// Releases lists the Kubernetes releases whose data is embedded.
	Releases []string `json:"releases"`
}

// NewCommand returns `confrun version`.
func NewCommand(streams cliutil.IOStreams) *cobra.Command {
	var out *cliutil.OutputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the confrun version and the Kubernetes releases it knows",
		Example: `  confrun version
  confrun version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			o := output{Info: buildinfo.Get()}
			for _, r := range release.Supported() {
				o.Releases = append(o.Releases, r.String())
			}
			return out.Print(streams.Out, o, func(w io.Writer) error {
				fmt.Fprintf(w, "confrun %s", o.Version)
				if o.Commit != "" {
					fmt.Fprintf(w, " (%s)", o.Commit)
				}
				fmt.Fprintf(w, " %s %s\n", o.GoVersion, o.Platform)
				if o.Sonobuoy != "" {
					fmt.Fprintf(w, "sonobuoy library %s\n", o.Sonobuoy)
				}
				if n := len(o.Releases); n > 0 {
					fmt.Fprintf(w, "Kubernetes releases: %s ... %s\n", o.Releases[0], o.Releases[n-1])
				}
				return nil
			})
		},
	}
	out = cliutil.AddOutputFlag(cmd.Flags(), cliutil.FormatTable, cliutil.FormatJSON, cliutil.FormatYAML)
	return cmd
}
