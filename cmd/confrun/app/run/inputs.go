package run

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/confrun/confrun/internal/imagemap"
	"github.com/confrun/confrun/internal/imagemap/inventory"
	"github.com/confrun/confrun/internal/prepull"
	"github.com/confrun/confrun/internal/sonorun"
)

// prepullStatus adapts prepull.json to what preflight asks.
type prepullStatus struct{ r *prepull.Report }

// Missing lists every "node: image (status)" the report does not show as
// on the node, and nodes the report does not cover.
func (p prepullStatus) Missing(nodes []string) []string {
	byNode := map[string]prepull.NodeReport{}
	for _, n := range p.r.Nodes {
		byNode[n.Name] = n
	}
	var out []string
	for _, name := range nodes {
		n, ok := byNode[name]
		if !ok || n.Skipped != "" {
			out = append(out, name+": not covered by the prepull report")
			continue
		}
		for _, im := range n.Images {
			if im.Status != prepull.StatusPresent && im.Status != prepull.StatusPulled {
				out = append(out, fmt.Sprintf("%s: %s (%s)", name, im.Target, im.Status))
			}
		}
	}
	return out
}

// inputs are what the run takes from the image map and prepull report.
type inputs struct {
	conformance, sonobuoy string
	repoList              []byte
	prepull               sonorun.PrepullStatus
	images                []sonorun.ImageRecord
}

// loadInputs reads the image map (if given), the e2e repo list and the
// prepull report, and says on w which files it used.
func loadInputs(w io.Writer, f *flagpole) (inputs, error) {
	var in inputs
	var m *imagemap.Map
	if f.imagemap != "" {
		var err error
		if m, err = imagemap.LoadMap(f.imagemap); err != nil {
			return in, err
		}
		if f.arch == "" {
			f.arch = m.Arch().GOARCH
		}
		if e, ok := m.Image(inventory.RoleConformance); ok {
			in.conformance = e.Target
		}
		if e, ok := m.Image(inventory.RoleSonobuoy); ok {
			in.sonobuoy = e.Target
		}
	}
	if f.conformanceImage != "" {
		in.conformance = f.conformanceImage
	}
	if f.sonobuoyImage != "" {
		in.sonobuoy = f.sonobuoyImage
	}

	repoList := f.repoList
	if repoList == "" && f.imagemap != "" {
		// `confrun images map` writes it beside the map when every remap is
		// a registry change.
		p := filepath.Join(filepath.Dir(f.imagemap), "repo-list.yaml")
		if _, err := os.Stat(p); err == nil {
			repoList = p
			fmt.Fprintf(w, "using the e2e repo list %s\n", p)
		}
	}
	var err error
	if in.repoList, err = sonorun.ReadRepoList(repoList); err != nil {
		return in, err
	}

	report := f.prepullReport
	if report == "" && f.imagemap != "" {
		report = filepath.Join(filepath.Dir(f.imagemap), "prepull.json")
	}
	var pr *prepull.Report
	if report != "" {
		pr, err = prepull.ReadReport(report)
		switch {
		case errors.Is(err, fs.ErrNotExist) && f.prepullReport == "":
			pr = nil
		case err != nil:
			return in, err
		default:
			in.prepull = prepullStatus{pr}
			fmt.Fprintf(w, "using the prepull report %s\n", report)
		}
	}

	if m != nil {
		digests := map[string]string{}
		if pr != nil {
			for _, n := range pr.Nodes {
				for _, im := range n.Images {
					if im.ImageRef != "" && digests[im.Target] == "" {
						digests[im.Target] = im.ImageRef
					}
				}
			}
		}
		for _, e := range m.Pulled() {
			if e.HasRole(inventory.RoleConformance) || e.HasRole(inventory.RoleSonobuoy) {
				continue
			}
			role := string(e.Kind)
			if len(e.Roles) > 0 {
				role = e.Roles[0]
			}
			in.images = append(in.images, sonorun.ImageRecord{Role: role, Ref: e.Target, Digest: digests[e.Target]})
		}
	}
	return in, nil
}
