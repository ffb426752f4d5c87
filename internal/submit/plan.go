package submit

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/confrun/confrun/internal/cliutil"
)

// PlanFile is one file of the commit.
type PlanFile struct {
	// Path is the path in the repository, "v1.34/acme/e2e.log".
	Path   string `json:"path"`
	Local  string `json:"local"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// GitSHA is git's blob ID, which GitHub must answer when it stores it.
	GitSHA string `json:"gitSHA"`
}

// Plan is what `confrun submit` does, printed by --dry-run.
type Plan struct {
	Upstream string `json:"upstream"`
	Base     string `json:"base"`
	BaseSHA  string `json:"baseSHA,omitempty"`
	User     string `json:"user,omitempty"`
	Fork     string `json:"fork"`
	// ForkAction, BranchAction and PullRequestAction say what will happen.
	ForkAction        string     `json:"forkAction"`
	Branch            string     `json:"branch"`
	BranchAction      string     `json:"branchAction"`
	Files             []PlanFile `json:"files"`
	Author            Signoff    `json:"author"`
	CommitMessage     string     `json:"commitMessage"`
	Title             string     `json:"title"`
	Body              string     `json:"body"`
	BodySource        string     `json:"bodySource"`
	PullRequestAction string     `json:"pullRequestAction"`
	// VerifyFailed lists the rules that fail (only with --force).
	VerifyFailed []string `json:"verifyFailed,omitempty"`
}

// WriteText prints the plan for a person.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "upstream:      %s (base %s", p.Upstream, p.Base)
	if p.BaseSHA != "" {
		fmt.Fprintf(&b, " at %s", short(p.BaseSHA))
	}
	fmt.Fprintf(&b, ")\nfork:          %s (%s)\nbranch:        %s (%s)\nfiles:\n", p.Fork, p.ForkAction, p.Branch, p.BranchAction)
	tw := cliutil.NewTable(&b)
	for _, f := range p.Files {
		fmt.Fprintf(tw, "  %s\t%d bytes\tsha256:%s\n", f.Path, f.Size, f.SHA256)
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "commit:        one commit on %s, author %s\n%s\n", p.Base, p.Author, indent(p.CommitMessage, "  | "))
	fmt.Fprintf(&b, "pull request:  %s (%s)\nbody (%s):\n%s\n", p.Title, p.PullRequestAction, p.BodySource, indent(p.Body, "  | "))
	if len(p.VerifyFailed) > 0 {
		fmt.Fprintf(&b, "WARNING: --force: the pull request goes ahead despite failing rules: %s\n", strings.Join(p.VerifyFailed, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(prefix+l, " ")
	}
	return strings.Join(lines, "\n")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// hashFile computes a file's size, SHA-256 and git blob ID in one read.
func hashFile(path string) (size int64, sum256, gitSHA string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", "", err
	}
	h256 := sha256.New()
	h1 := sha1.New()
	fmt.Fprintf(h1, "blob %d\x00", st.Size())
	n, err := io.Copy(io.MultiWriter(h256, h1), f)
	if err != nil {
		return 0, "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	if n != st.Size() {
		return 0, "", "", fmt.Errorf("%s changed while it was read", path)
	}
	return n, hex.EncodeToString(h256.Sum(nil)), hex.EncodeToString(h1.Sum(nil)), nil
}

func planFiles(f Folder) ([]PlanFile, error) {
	var out []PlanFile
	for _, name := range Files {
		local := f.Path(name)
		size, s256, gs, err := hashFile(local)
		if err != nil {
			return nil, fmt.Errorf("reading the submission: %w", err)
		}
		out = append(out, PlanFile{Path: f.RepoPath() + "/" + name, Local: local, Size: size, SHA256: s256, GitSHA: gs})
	}
	return out, nil
}

// CommitMessage is the message of the submission's single commit: the
// title, and the DCO sign-off as the last line.
func CommitMessage(f Folder, s Signoff) string {
	return fmt.Sprintf("%s\n\nSigned-off-by: %s\n", f.Title(), s)
}

// fallbackBody is used when the upstream repository has no pull request
// template (or, in an offline dry run, could not be asked).
const fallbackBody = `### Pre-submission checklist:

* [ ] For a new entry: the signed participation form has been submitted.
* [ ] The product logo is included in SVG, EPS or AI format.
* [ ] The logo shows the product name and follows the logo guidelines.
* [ ] For an open source product: PRODUCT.yaml has repo_url.
* [ ] README.md holds the installation and configuration instructions, copied in, not only linked.
`

// PullRequestTemplate is where the checklist lives in cncf/k8s-conformance.
const PullRequestTemplate = ".github/PULL_REQUEST_TEMPLATE.md"
