// Package submit prepares, checks and opens a cncf/k8s-conformance pull
// request: the PRODUCT.yaml model and `confrun submit init` scaffolding, the
// rules `confrun verify` applies to a results folder, and the GitHub flow of
// `confrun submit` (fork, branch, one signed-off commit, pull request).
package submit

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/confrun/confrun/internal/release"
)

// The four files of a submission, in the order they are listed and uploaded.
const (
	FileReadme  = "README.md"
	FileProduct = "PRODUCT.yaml"
	FileE2ELog  = "e2e.log"
	FileJUnit   = "junit_01.xml"
)

// Files lists the files a submission folder must hold, and the only ones
// the review bot accepts.
var Files = [...]string{FileReadme, FileProduct, FileE2ELog, FileJUnit}

// MaxFileSize is GitHub's limit for one file in a repository.
const MaxFileSize = 100 << 20

// Folder is a submission folder results/vX.Y/<product>.
type Folder struct {
	// Dir is the folder on disk.
	Dir string
	// Release is X.Y of the parent folder's name vX.Y (zero when the name is
	// not a release).
	Release release.Release
	// ReleaseDir is the parent folder's name as written ("v1.34").
	ReleaseDir string
	// Product is the folder's own name.
	Product string
}

var (
	releaseDirRE  = regexp.MustCompile(`^v1\.[0-9]{2}$`)
	productNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// ParseFolder splits dir into its release and product parts. It never
// fails: what does not fit is reported by the folder-layout rule.
func ParseFolder(dir string) Folder {
	clean := filepath.Clean(dir)
	if abs, err := filepath.Abs(clean); err == nil {
		clean = abs
	}
	f := Folder{Dir: dir, Product: filepath.Base(clean), ReleaseDir: filepath.Base(filepath.Dir(clean))}
	if releaseDirRE.MatchString(f.ReleaseDir) {
		f.Release, _ = release.Parse(f.ReleaseDir)
	}
	return f
}

// RepoPath is the folder's path in cncf/k8s-conformance, "v1.34/acme".
func (f Folder) RepoPath() string { return f.ReleaseDir + "/" + f.Product }

// Title is the pull request title the review bot expects.
func (f Folder) Title() string { return "Conformance results for " + f.RepoPath() }

// Branch is the branch confrun pushes the submission to.
func (f Folder) Branch() string { return fmt.Sprintf("confrun/%s-%s", f.ReleaseDir, f.Product) }

// Path returns the path of one of the folder's files.
func (f Folder) Path(name string) string { return filepath.Join(f.Dir, name) }
