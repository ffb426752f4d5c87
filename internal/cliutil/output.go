package cliutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Output formats accepted by -o.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// OutputFlag is the -o/--output flag of a command whose output is data.
type OutputFlag struct {
	Format  string
	allowed []string
}

// AddOutputFlag registers -o on fs. The first allowed format is the default.
func AddOutputFlag(fs *pflag.FlagSet, allowed ...string) *OutputFlag {
	if len(allowed) == 0 {
		allowed = []string{FormatTable, FormatJSON, FormatYAML}
	}
	o := &OutputFlag{Format: allowed[0], allowed: allowed}
	fs.StringVarP(&o.Format, "output", "o", o.Format, "output format: "+strings.Join(allowed, "|"))
	return o
}

// Validate checks the chosen format.
func (o *OutputFlag) Validate() error {
	for _, a := range o.allowed {
		if o.Format == a {
			return nil
		}
	}
	return UsageError("unknown output format %q: use one of %s", o.Format, strings.Join(o.allowed, ", "))
}

// Print writes v as JSON or YAML, or calls table for the table format.
func (o *OutputFlag) Print(w io.Writer, v any, table func(w io.Writer) error) error {
	return PrintData(w, o.Format, v, table)
}

// PrintData writes v in format to w. table renders the human format.
func PrintData(w io.Writer, format string, v any, table func(w io.Writer) error) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case FormatYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = w.Write(b)
		return err
	case FormatTable, "":
		if table == nil {
			return PrintData(w, FormatYAML, v, nil)
		}
		return table(w)
	default:
		return UsageError("unknown output format %q", format)
	}
}

// NewTable returns a tabwriter laid out like kubectl's tables. Call Flush.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
}
