package submit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/confrun/confrun/internal/cliutil"
	"github.com/confrun/confrun/internal/coverage"
	"github.com/confrun/confrun/internal/release"
)

// Status is the outcome of one rule.
type Status string

// Rule outcomes. Only StatusFail makes a submission fail; a warning is
// worth reading, a skipped rule could not be checked (offline, or a file it
// needs is missing and another rule says so).
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusWarn Status = "warn"
	StatusSkip Status = "skip"
)

// RuleResult is one rule applied to one folder.
type RuleResult struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Status      Status `json:"status"`
	// Detail says what was found (what is wrong, for a failure).
	Detail string `json:"detail,omitempty"`
	// Fix says how to make the rule pass.
	Fix string `json:"fix,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	Dir       string       `json:"dir"`
	Release   string       `json:"release,omitempty"`
	Product   string       `json:"product"`
	Title     string       `json:"title"`
	Reference Reference    `json:"reference"`
	OK        bool         `json:"ok"`
	Failed    []string     `json:"failed,omitempty"`
	Rules     []RuleResult `json:"rules"`
}

// Failures returns the failed rules.
func (r *Report) Failures() []RuleResult {
	var out []RuleResult
	for _, rr := range r.Rules {
		if rr.Status == StatusFail {
			out = append(out, rr)
		}
	}
	return out
}

// Rule returns the result of rule id.
func (r *Report) Rule(id string) (RuleResult, bool) {
	for _, rr := range r.Rules {
		if rr.ID == id {
			return rr, true
		}
	}
	return RuleResult{}, false
}

// WriteTable prints the report as RULE STATUS DETAIL rows, each failure
// followed by a row with its fix.
func (r *Report) WriteTable(w io.Writer) error {
	tw := cliutil.NewTable(w)
	fmt.Fprintln(tw, "RULE\tSTATUS\tDETAIL / FIX")
	for _, rr := range r.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", rr.ID, strings.ToUpper(string(rr.Status)), oneLine(rr.Detail))
		if rr.Fix != "" && (rr.Status == StatusFail || rr.Status == StatusWarn) {
			fmt.Fprintf(tw, "\t\tfix: %s\n", oneLine(rr.Fix))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.OK {
		_, err := fmt.Fprintf(w, "\n%s: all %d rules pass; ready for `confrun submit %s`\n", r.Dir, len(r.Rules), r.Dir)
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s: %d of %d rules fail: %s\n", r.Dir, len(r.Failed), len(r.Rules), strings.Join(r.Failed, ", "))
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Dir is the submission folder, .../vX.Y/<product>.
	Dir string
	// Title is the pull request title to check; empty means the title
	// `confrun submit` uses.
	Title string
	// Online also fetches the URLs of PRODUCT.yaml.
	Online bool
	// HTTPClient fetches URLs (online checks, a stable.txt URL).
	HTTPClient *http.Client
	// Latest, when set, is the newest release acceptance counts from.
	Latest string
	// StableTxt is a file or URL holding the newest release (like
	// dl.k8s.io/release/stable.txt).
	StableTxt string
}

// Verify applies every rule to a submission folder. The error is only for
// unusable input (a --latest that is not a release, an unreadable
// stable.txt); rule failures are in the report.
func Verify(ctx context.Context, opts VerifyOptions) (*Report, error) {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	ref, err := ResolveReference(ctx, opts.Latest, opts.StableTxt, client)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(opts.Dir); err != nil {
		return nil, fmt.Errorf("submission folder: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder: give the results folder results/vX.Y/<product>", opts.Dir)
	}
	f := ParseFolder(opts.Dir)
	c := &checkCtx{ctx: ctx, folder: f, opts: opts, ref: ref, client: client}
	c.title = opts.Title
	if c.title == "" {
		c.title = f.Title()
	}
	rep := &Report{Dir: opts.Dir, Product: f.Product, Title: c.title, Reference: ref}
	if !f.Release.IsZero() {
		rep.Release = f.Release.String()
	}
	for _, r := range rules {
		res := r.check(c)
		res.ID, res.Description = r.id, r.desc
		rep.Rules = append(rep.Rules, res)
		if res.Status == StatusFail {
			rep.Failed = append(rep.Failed, r.id)
		}
	}
	rep.OK = len(rep.Failed) == 0
	return rep, nil
}

// RuleInfo names a rule.
type RuleInfo struct {
	ID          string `json:"id"`
	Description string `json:"description"`
}

// Rules lists every rule Verify applies, in order.
func Rules() []RuleInfo {
	out := make([]RuleInfo, len(rules))
	for i, r := range rules {
		out[i] = RuleInfo{ID: r.id, Description: r.desc}
	}
	return out
}

// checkCtx holds what the rules share, loaded once on first use.
type checkCtx struct {
	ctx    context.Context
	folder Folder
	opts   VerifyOptions
	ref    Reference
	client *http.Client
	title  string

	productLoaded bool
	productRaw    map[string]any
	productErr    error

	logLoaded bool
	log       *logFacts
	logErr    error

	coverageLoaded bool
	coverage       *coverage.Report
	coverageResult *RuleResult

	junitLoaded bool
	tests       []coverage.Test
	props       map[string]string
	junitErr    error
}

// fileOK reports whether name is present and non-empty; rules that need it
// skip otherwise (required-files reports it).
func (c *checkCtx) fileOK(name string) bool {
	st, err := os.Stat(c.folder.Path(name))
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}

func (c *checkCtx) product() (map[string]any, error) {
	if !c.productLoaded {
		c.productLoaded = true
		c.productRaw, c.productErr = readProductRaw(c.folder.Path(FileProduct))
	}
	return c.productRaw, c.productErr
}

func (c *checkCtx) logFacts() (*logFacts, error) {
	if !c.logLoaded {
		c.logLoaded = true
		f, err := os.Open(c.folder.Path(FileE2ELog))
		if err != nil {
			c.logErr = err
		} else {
			c.log, c.logErr = scanLog(c.ctx, f)
			f.Close()
		}
	}
	return c.log, c.logErr
}

func (c *checkCtx) junit() ([]coverage.Test, map[string]string, error) {
	if !c.junitLoaded {
		c.junitLoaded = true
		c.tests, c.props, c.junitErr = readJUnitFile(c.folder.Path(FileJUnit))
	}
	return c.tests, c.props, c.junitErr
}

func readJUnitFile(path string) ([]coverage.Test, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	props, err := junitProps(f)
	if err != nil {
		return nil, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	tests, err := coverage.ReadJUnit(f)
	if err != nil {
		return nil, nil, err
	}
	return tests, props, nil
}

// specs returns the junit testcases that are specs (not suite nodes).
func specs(tests []coverage.Test) []coverage.Test {
	out := make([]coverage.Test, 0, len(tests))
	for _, t := range tests {
		if !isSuiteNode(t.Name) {
			out = append(out, t)
		}
	}
	return out
}

func pass(detail string, args ...any) RuleResult {
	return RuleResult{Status: StatusPass, Detail: fmt.Sprintf(detail, args...)}
}

func fail(detail, fix string) RuleResult {
	return RuleResult{Status: StatusFail, Detail: detail, Fix: fix}
}

func skip(detail string, args ...any) RuleResult {
	return RuleResult{Status: StatusSkip, Detail: fmt.Sprintf(detail, args...)}
}

func missingFile(name string) RuleResult {
	return skip("%s is missing or empty (see required-files)", name)
}

func releaseOf(version string) (release.Release, error) { return release.Parse(version) }
