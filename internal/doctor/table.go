package doctor

import (
	"fmt"
	"io"
	"strings"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/nodecheck"
)

// areaOrder is the order areas are printed in.
func areaOrder() []string {
	return []string{nodecheck.AreaKernel, nodecheck.AreaProxy, nodecheck.AreaCNI, nodecheck.AreaCgroups, nodecheck.AreaRuntime, nodecheck.AreaNode}
}

// PrintTable writes one table per node, rows grouped by area. Unless all
// is set, the ok checks of an area are folded into one row.
func PrintTable(w io.Writer, res *nodecheck.Result, all bool) error {
	for i := range res.Nodes {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printNode(w, &res.Nodes[i], all); err != nil {
			return err
		}
	}
	return nil
}

func printNode(w io.Writer, r *nodecheck.Report, all bool) error {
	s := r.Summary()
	var facts []string
	if r.Arch != "" {
		facts = append(facts, "linux/"+r.Arch)
	}
	if r.Machine != "" {
		facts = append(facts, "uname -m "+r.Machine)
	}
	if r.KernelRelease != "" {
		facts = append(facts, "kernel "+r.KernelRelease)
	}
	if r.CgroupMode != "" {
		facts = append(facts, "cgroup "+r.CgroupMode)
	}
	if r.KernelConfig != "" {
		facts = append(facts, "config "+r.KernelConfig)
	}
	fmt.Fprintf(w, "NODE %s", r.Node)
	if len(facts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(facts, ", "))
	}
	fmt.Fprintf(w, ": %d ok, %d warn, %d fail\n", s.OK, s.Warn, s.Fail)
	if r.Error != "" {
		fmt.Fprintf(w, "ERROR %s\n", r.Error)
	}
	if len(r.Checks) == 0 {
		return nil
	}
	t := cliutil.NewTable(w)
	fmt.Fprintln(t, "AREA\tCHECK\tSTATUS\tEVIDENCE\tFIX")
	areas := areaOrder()
	seen := map[string]bool{}
	for _, a := range areas {
		seen[a] = true
	}
	for _, c := range r.Checks {
		if !seen[c.Area] {
			seen[c.Area] = true
			areas = append(areas, c.Area)
		}
	}
	for _, a := range areas {
		ok := 0
		for _, c := range r.Checks {
			if c.Area != a {
				continue
			}
			if c.Status == nodecheck.StatusOK && !all {
				ok++
				continue
			}
			status := string(c.Status)
			if c.Confidence != "" {
				status += " (" + c.Confidence + ")"
			}
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", a, c.Name, status, oneLine(c.Evidence), oneLine(c.Fix))
		}
		if ok > 0 {
			fmt.Fprintf(t, "%s\t%d more checks\tok\t(--all lists them)\t\n", a, ok)
		}
	}
	return t.Flush()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
