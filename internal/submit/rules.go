package submit

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/confrun/confrun/internal/coverage"
)

type rule struct {
	id, desc string
	check    func(c *checkCtx) RuleResult
}

// Rule IDs, stable: tests, scripts and users refer to them.
const (
	RuleFolderLayout       = "folder-layout"
	RuleRequiredFiles      = "required-files"
	RuleReleaseAccepted    = "release-accepted"
	RuleTitleFormat        = "title-format"
	RuleReadme             = "readme-instructions"
	RuleProductFields      = "product-yaml-fields"
	RuleProductType        = "product-yaml-type"
	RuleProductURLs        = "product-yaml-urls"
	RuleProductEmail       = "product-yaml-email"
	RuleProductURLsOnline  = "product-yaml-urls-online"
	RuleJUnitCoverage      = "junit-coverage"
	RuleJUnitNoFailures    = "junit-no-failures"
	RuleRunFocus           = "run-focus"
	RuleE2EVersion         = "e2e-version"
	RuleAPIServerVersion   = "apiserver-version"
	RuleLogSummary         = "log-summary"
	RuleLogJUnitSameRun    = "log-junit-same-run"
	conformanceFocus       = `\[Conformance\]`
	readmePlaceholderMark  = "confrun:replace-me"
	certifiedConformanceFx = "run the certified-conformance suite: `confrun run` (sonobuoy --mode=certified-conformance), or e2e.test with --ginkgo.focus='\\[Conformance\\]' and no --ginkgo.skip"
)

// ReadmePlaceholder marks the part of a scaffolded README.md the user must
// replace; verify fails while it is there.
const ReadmePlaceholder = "<!-- " + readmePlaceholderMark + ": replace this section with the product's installation and configuration instructions -->"

var rules = []rule{
	{RuleFolderLayout, "the folder is vX.Y/<product> (X.Y the Kubernetes minor release)", checkFolderLayout},
	{RuleRequiredFiles, "README.md, PRODUCT.yaml, e2e.log and junit_01.xml are present and not empty, and nothing else", checkRequiredFiles},
	{RuleReleaseAccepted, "the release is one of the three newest minor releases", checkReleaseAccepted},
	{RuleTitleFormat, "the pull request title is `Conformance results for vX.Y/<product>` with the folder's release", checkTitle},
	{RuleReadme, "README.md holds the product's own install instructions", checkReadme},
	{RuleProductFields, "PRODUCT.yaml has every required field, non-empty, as a string", checkProductFields},
	{RuleProductType, "PRODUCT.yaml type is distribution, hosted platform or installer", checkProductType},
	{RuleProductURLs, "PRODUCT.yaml URLs are valid http(s) URLs", checkProductURLs},
	{RuleProductEmail, "PRODUCT.yaml contact_email_address is a valid address", checkProductEmail},
	{RuleProductURLsOnline, "PRODUCT.yaml URLs answer with the right content type (--online)", checkProductURLsOnline},
	{RuleJUnitCoverage, "junit_01.xml holds every conformance test of the release", checkJUnitCoverage},
	{RuleJUnitNoFailures, "no conformance test failed in junit_01.xml", checkJUnitNoFailures},
	{RuleRunFocus, "the run used focus \\[Conformance\\] and no skip", checkRunFocus},
	{RuleE2EVersion, "e2e.log's `e2e test version` names the folder's release", versionRule("e2e test version", func(l *logFacts) string { return l.E2EVersion })},
	{RuleAPIServerVersion, "e2e.log's `kube-apiserver version` belongs to the folder's release", versionRule("kube-apiserver version", func(l *logFacts) string { return l.APIServerVersion })},
	{RuleLogSummary, "e2e.log ends with a successful `Ran N of M Specs` summary", checkLogSummary},
	{RuleLogJUnitSameRun, "e2e.log and junit_01.xml come from the same run (counts and names agree)", checkSameRun},
}

func checkFolderLayout(c *checkCtx) RuleResult {
	f := c.folder
	var problems []string
	if f.Release.IsZero() {
		problems = append(problems, fmt.Sprintf("the parent folder %q is not a release folder like v1.34", f.ReleaseDir))
	}
	if !productNameRE.MatchString(f.Product) {
		problems = append(problems, fmt.Sprintf("the product folder name %q must be letters, digits, '.', '_' or '-' (it becomes the branch and title)", f.Product))
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "),
			"put the four files in results/vX.Y/<product>/, e.g. results/v1.34/acme-mips/ (`confrun submit init --product NAME` creates it)")
	}
	return pass("%s", f.RepoPath())
}

func checkRequiredFiles(c *checkCtx) RuleResult {
	var missing, empty, big, extra []string
	for _, name := range Files {
		st, err := os.Stat(c.folder.Path(name))
		switch {
		case err != nil || !st.Mode().IsRegular():
			missing = append(missing, name)
		case st.Size() == 0:
			empty = append(empty, name)
		case st.Size() > MaxFileSize:
			big = append(big, fmt.Sprintf("%s (%d MiB)", name, st.Size()>>20))
		}
	}
	if ents, err := os.ReadDir(c.folder.Dir); err == nil {
		for _, e := range ents {
			if !isSubmissionFile(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
				extra = append(extra, e.Name())
			}
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "missing: "+strings.Join(missing, ", "))
	}
	if len(empty) > 0 {
		problems = append(problems, "empty: "+strings.Join(empty, ", "))
	}
	if len(big) > 0 {
		problems = append(problems, "larger than GitHub's 100 MiB file limit: "+strings.Join(big, ", "))
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "),
			"copy e2e.log and junit_01.xml from the run (sonobuoy: plugins/e2e/results/global/), create README.md and PRODUCT.yaml with `confrun submit init`")
	}
	if len(extra) > 0 {
		return RuleResult{Status: StatusWarn,
			Detail: "other files in the folder: " + strings.Join(extra, ", "),
			Fix:    "the bot accepts only the four files; `confrun submit` uploads only those, so leave them out if you open the pull request by hand"}
	}
	return pass("all four present")
}

func isSubmissionFile(name string) bool {
	for _, f := range Files {
		if f == name {
			return true
		}
	}
	return false
}

func releaseList(ref Reference) string {
	var s []string
	for _, r := range ref.Accepted() {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}

func checkReleaseAccepted(c *checkCtx) RuleResult {
	if c.folder.Release.IsZero() {
		return skip("no release in the folder name (see folder-layout)")
	}
	rel := c.folder.Release
	if c.ref.Accepts(rel) {
		return pass("%s is accepted (accepted: %s; newest %s from %s)", rel, releaseList(c.ref), c.ref.Newest, c.ref.Source)
	}
	why := "older than"
	if c.ref.Latest.Less(rel) {
		why = "newer than"
	}
	return fail(fmt.Sprintf("%s is %s the accepted releases %s (newest %s from %s)", rel, why, releaseList(c.ref), c.ref.Newest, c.ref.Source),
		"run the suite on a cluster of an accepted release and submit under its vX.Y folder; if the newest release is wrong, pass --latest vX.Y or --stable-txt FILE|URL")
}

// The review bot's title pattern.
const titlePattern = `(.*) (v1.[0-9]{2})[ /](.*)`

func checkTitle(c *checkCtx) RuleResult {
	m := titleRE.FindStringSubmatch(c.title)
	want := c.folder.Title()
	fix := fmt.Sprintf("title the pull request %q (`confrun submit` does)", want)
	if m == nil {
		return fail(fmt.Sprintf("title %q does not match the bot's pattern %s", c.title, titlePattern), fix)
	}
	if m[2] != c.folder.ReleaseDir {
		return fail(fmt.Sprintf("the title names %s but the folder is %s", m[2], c.folder.ReleaseDir), fix)
	}
	if strings.TrimSpace(m[3]) != c.folder.Product {
		return RuleResult{Status: StatusWarn, Detail: fmt.Sprintf("the title names product %q, the folder %q", m[3], c.folder.Product), Fix: fix}
	}
	return pass("%q", c.title)
}

func checkReadme(c *checkCtx) RuleResult {
	if !c.fileOK(FileReadme) {
		return missingFile(FileReadme)
	}
	b, err := os.ReadFile(c.folder.Path(FileReadme))
	if err != nil {
		return fail(err.Error(), "make README.md readable")
	}
	if line := lineOf(string(b), readmePlaceholderMark); line > 0 {
		return fail(fmt.Sprintf("README.md line %d still holds the placeholder from `confrun submit init`", line),
			"replace that section with the product's installation and configuration instructions, copied in (a link alone is not enough)")
	}
	return pass("%d bytes", len(b))
}

func lineOf(s, sub string) int {
	for i, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			return i + 1
		}
	}
	return 0
}

func readProductRaw(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("PRODUCT.yaml is not valid YAML: %v", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("PRODUCT.yaml holds no fields")
	}
	return raw, nil
}

// productValue returns a field of PRODUCT.yaml as a string, and whether it
// is one.
func productValue(raw map[string]any, key string) (string, bool) {
	v, ok := raw[key]
	if !ok || v == nil {
		return "", true
	}
	s, ok := v.(string)
	return strings.TrimSpace(s), ok
}

func (c *checkCtx) productOrSkip() (map[string]any, *RuleResult) {
	if !c.fileOK(FileProduct) {
		r := missingFile(FileProduct)
		return nil, &r
	}
	raw, err := c.product()
	if err != nil {
		r := skip("PRODUCT.yaml cannot be read (see product-yaml-fields)")
		return nil, &r
	}
	return raw, nil
}

func checkProductFields(c *checkCtx) RuleResult {
	if !c.fileOK(FileProduct) {
		return missingFile(FileProduct)
	}
	raw, err := c.product()
	if err != nil {
		return fail(err.Error(), "write PRODUCT.yaml as a YAML mapping of the fields (`confrun submit init` writes one)")
	}
	var missing, notString, unknown []string
	known := map[string]bool{}
	for _, f := range ProductFields {
		known[f.Key] = true
		v, isString := productValue(raw, f.Key)
		switch {
		case !isString:
			notString = append(notString, fmt.Sprintf("%s (%v)", f.Key, raw[f.Key]))
		case f.Required && v == "":
			missing = append(missing, f.Key)
		}
	}
	for k := range raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "missing or empty: "+strings.Join(missing, ", "))
	}
	if len(notString) > 0 {
		problems = append(problems, "not a string (the bot cannot read the file then): "+strings.Join(notString, ", "))
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), "fill every required field; quote values YAML would read as numbers or booleans, e.g. version: \"1.10\"")
	}
	if len(unknown) > 0 {
		return RuleResult{Status: StatusWarn, Detail: "unknown fields (ignored by the bot; a typo?): " + strings.Join(unknown, ", "),
			Fix: "the fields are vendor, name, version, type, description, website_url, repo_url, documentation_url, product_logo_url, contact_email_address"}
	}
	return pass("all required fields set")
}

func checkProductType(c *checkCtx) RuleResult {
	raw, r := c.productOrSkip()
	if r != nil {
		return *r
	}
	v, _ := productValue(raw, "type")
	if v == "" {
		return skip("no type (see product-yaml-fields)")
	}
	for _, t := range ProductTypes {
		if v == t {
			return pass("%q", v)
		}
	}
	return fail(fmt.Sprintf("type is %q", v), "set type to one of: "+strings.Join(ProductTypes, ", "))
}

func checkProductURLs(c *checkCtx) RuleResult {
	raw, r := c.productOrSkip()
	if r != nil {
		return *r
	}
	var bad []string
	n := 0
	for _, f := range ProductFields {
		if !f.URL {
			continue
		}
		v, isString := productValue(raw, f.Key)
		if !isString || v == "" {
			continue // product-yaml-fields reports it
		}
		n++
		if err := checkURLForm(v); err != nil {
			bad = append(bad, fmt.Sprintf("%s %q: %v", f.Key, v, err))
		}
	}
	if len(bad) > 0 {
		return fail(strings.Join(bad, "; "), "write each URL in full, like https://example.com/docs")
	}
	return pass("%d URLs well-formed", n)
}

func checkURLForm(v string) error {
	u, err := url.ParseRequestURI(v)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be https or http")
	}
	if u.Host == "" {
		return fmt.Errorf("no host")
	}
	return nil
}

func checkProductEmail(c *checkCtx) RuleResult {
	raw, r := c.productOrSkip()
	if r != nil {
		return *r
	}
	v, isString := productValue(raw, "contact_email_address")
	if !isString || v == "" {
		return skip("no contact_email_address (see product-yaml-fields)")
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || !strings.Contains(strings.SplitN(v, "@", 2)[1], ".") {
		return fail(fmt.Sprintf("contact_email_address %q is not a plain email address", v), "write just the address, like certification@example.com")
	}
	return pass("%s", v)
}

// urlContentTypes are the content types the bot accepts per URL field.
var urlContentTypes = map[string][]string{
	"website_url":       {"text/html"},
	"repo_url":          {"text/html"},
	"documentation_url": {"text/html"},
	"product_logo_url":  {"image/svg", "application/postscript"},
}

func checkProductURLsOnline(c *checkCtx) RuleResult {
	if !c.opts.Online {
		return skip("offline; pass --online to fetch the URLs")
	}
	raw, r := c.productOrSkip()
	if r != nil {
		return *r
	}
	var bad, good []string
	for _, f := range ProductFields {
		want := urlContentTypes[f.Key]
		v, isString := productValue(raw, f.Key)
		if len(want) == 0 || !isString || v == "" || checkURLForm(v) != nil {
			continue
		}
		ct, err := c.fetchContentType(v)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", f.Key, err))
		case !hasAnyPrefix(ct, want):
			bad = append(bad, fmt.Sprintf("%s answers %q, want %s", f.Key, ct, strings.Join(want, " or ")))
		default:
			good = append(good, f.Key)
		}
	}
	if len(bad) > 0 {
		return fail(strings.Join(bad, "; "), "point each URL at a public page (text/html); the logo at an SVG or EPS file")
	}
	return pass("fetched: %s", strings.Join(good, ", "))
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func (c *checkCtx) fetchContentType(u string) (string, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "confrun-verify")
	resp, err := c.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("answers %s", resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt, nil
	}
	return ct, nil
}

func (c *checkCtx) junitOrSkip() ([]coverage.Test, map[string]string, *RuleResult) {
	if !c.fileOK(FileJUnit) {
		r := missingFile(FileJUnit)
		return nil, nil, &r
	}
	tests, props, err := c.junit()
	if err != nil {
		r := fail(fmt.Sprintf("junit_01.xml cannot be read: %v", err), "use the junit_01.xml the run wrote, or `confrun junit e2e.log` to make one")
		return nil, nil, &r
	}
	return tests, props, nil
}

func (c *checkCtx) coverageReport() (*coverage.Report, *RuleResult) {
	if !c.coverageLoaded {
		c.coverageLoaded = true
		c.coverage, c.coverageResult = c.loadCoverage()
	}
	return c.coverage, c.coverageResult
}

func (c *checkCtx) loadCoverage() (*coverage.Report, *RuleResult) {
	tests, _, r := c.junitOrSkip()
	if r != nil {
		return nil, r
	}
	if c.folder.Release.IsZero() {
		r := skip("no release in the folder name (see folder-layout)")
		return nil, &r
	}
	rep, err := coverage.Check(c.folder.Release, tests)
	if err != nil {
		r := fail(err.Error(), "use a confrun that knows this release, or submit for a release it knows")
		return nil, &r
	}
	return &rep, nil
}

func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, "; ")
	}
	return fmt.Sprintf("%s; ... and %d more", strings.Join(names[:n], "; "), len(names)-n)
}

func checkJUnitCoverage(c *checkCtx) RuleResult {
	rep, r := c.coverageReport()
	if r != nil {
		return *r
	}
	if len(rep.Missing) > 0 {
		return fail(fmt.Sprintf("%d of %d conformance tests of %s are missing or skipped: %s", len(rep.Missing), rep.Required, rep.Release, listSome(rep.Missing, 3)),
			"run the whole certified-conformance suite (`confrun run`); `confrun junit` lists every missing test")
	}
	return pass("all %d conformance tests of %s ran", rep.Required, rep.Release)
}

func checkJUnitNoFailures(c *checkCtx) RuleResult {
	rep, r := c.coverageReport()
	if r != nil {
		return *r
	}
	if len(rep.Failed) > 0 {
		return fail(fmt.Sprintf("%d conformance tests failed: %s", len(rep.Failed), listSome(rep.Failed, 3)),
			"fix the cause (`confrun doctor`, the test's log in e2e.log) and run the suite again; a submission needs every test passing in one run")
	}
	return pass("%d of %d passed, none failed", rep.Passed, rep.Required)
}

func checkRunFocus(c *checkCtx) RuleResult {
	tests, props, r := c.junitOrSkip()
	if r != nil {
		return *r
	}
	var problems []string
	if focus, ok := props["FocusStrings"]; ok {
		if focus != conformanceFocus {
			problems = append(problems, fmt.Sprintf("focus was `%s`", focus))
		}
		for _, k := range []string{"SkipStrings", "LabelFilter", "FocusFiles", "SkipFiles"} {
			if v := props[k]; v != "" {
				problems = append(problems, fmt.Sprintf("%s was `%s`", k, v))
			}
		}
	}
	var extraRan, confSkipped []string
	for _, t := range specs(tests) {
		conf := strings.Contains(t.Name, "[Conformance]")
		switch {
		case t.Status != coverage.Skipped && !conf:
			extraRan = append(extraRan, coverage.NormalizeName(t.Name))
		case t.Status == coverage.Skipped && conf:
			confSkipped = append(confSkipped, coverage.NormalizeName(t.Name))
		}
	}
	if len(extraRan) > 0 {
		problems = append(problems, fmt.Sprintf("%d specs without [Conformance] ran: %s", len(extraRan), listSome(extraRan, 2)))
	}
	if len(confSkipped) > 0 {
		problems = append(problems, fmt.Sprintf("%d [Conformance] specs were skipped: %s", len(confSkipped), listSome(confSkipped, 2)))
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), certifiedConformanceFx)
	}
	if _, ok := props["FocusStrings"]; !ok {
		return pass("every [Conformance] spec ran and nothing else (this JUnit does not record the focus)")
	}
	return pass("focus %s, no skip", conformanceFocus)
}

func (c *checkCtx) logOrSkip() (*logFacts, *RuleResult) {
	if !c.fileOK(FileE2ELog) {
		r := missingFile(FileE2ELog)
		return nil, &r
	}
	lf, err := c.logFacts()
	if err != nil {
		r := fail(err.Error(), "make e2e.log readable")
		return nil, &r
	}
	return lf, nil
}

// versionRule checks one of e2e.log's version lines against the folder's
// release.
func versionRule(what string, get func(*logFacts) string) func(*checkCtx) RuleResult {
	return func(c *checkCtx) RuleResult {
		lf, r := c.logOrSkip()
		if r != nil {
			return *r
		}
		version := get(lf)
		if version == "" {
			return fail(fmt.Sprintf("e2e.log has no %q line", what+": "),
				"use the e2e.log of a verbose run (sonobuoy writes one; with e2e.test pass -ginkgo.v), which logs the versions")
		}
		if c.folder.Release.IsZero() {
			return skip("no release in the folder name (see folder-layout)")
		}
		if got, err := releaseOf(version); err == nil && got == c.folder.Release {
			return pass("%s", version)
		}
		detail := fmt.Sprintf("%s %s is not %s", what, version, c.folder.Release)
		if strings.HasPrefix(version, "v0.0.0") {
			detail += " (a binary built without version information)"
		}
		return fail(detail, fmt.Sprintf("run the %s suite against a %s cluster with a released build, or move the results to the folder of the release they are from", c.folder.Release, c.folder.Release))
	}
}

func checkLogSummary(c *checkCtx) RuleResult {
	lf, r := c.logOrSkip()
	if r != nil {
		return *r
	}
	switch {
	case !lf.HaveRan:
		return fail("e2e.log has no `Ran N of M Specs` summary: the run did not finish or the log is cut",
			"wait for the run to finish and copy the whole e2e.log")
	case lf.Result != "SUCCESS" || lf.Failed > 0:
		return fail(fmt.Sprintf("line %d: Ran %d of %d Specs, %s", lf.RanLine, lf.Ran, lf.RanOf, lf.ResultDetail),
			"fix the failures and run the suite again")
	case lf.Ran == 0:
		return fail("the run ran no specs", certifiedConformanceFx)
	}
	return pass("Ran %d of %d Specs, SUCCESS", lf.Ran, lf.RanOf)
}

func checkSameRun(c *checkCtx) RuleResult {
	lf, r := c.logOrSkip()
	if r != nil {
		return *r
	}
	tests, _, r := c.junitOrSkip()
	if r != nil {
		return *r
	}
	if !lf.HaveRan {
		return skip("e2e.log has no summary to compare (see log-summary)")
	}
	sp := specs(tests)
	ran, passed, failed := 0, 0, 0
	var failedNames []string
	for _, t := range sp {
		switch t.Status {
		case coverage.Passed:
			ran++
			passed++
		case coverage.Failed, coverage.Error:
			ran++
			failed++
			failedNames = append(failedNames, t.Name)
		}
	}
	var problems []string
	if lf.Ran != ran {
		problems = append(problems, fmt.Sprintf("e2e.log ran %d specs, junit_01.xml %d", lf.Ran, ran))
	}
	// A suite that failed before any spec (BeforeSuite) lists no specs in
	// its JUnit; otherwise both list the whole suite.
	if lf.RanOf != len(sp) && (len(sp) > 0 || lf.Ran > 0) {
		problems = append(problems, fmt.Sprintf("e2e.log's suite has %d specs, junit_01.xml %d", lf.RanOf, len(sp)))
	}
	if lf.HaveCounts && (lf.Passed != passed || lf.Failed != failed) {
		problems = append(problems, fmt.Sprintf("e2e.log counts %d passed/%d failed, junit_01.xml %d/%d", lf.Passed, lf.Failed, passed, failed))
	}
	if d := diffNames(lf.Failures, failedNames); d != "" {
		problems = append(problems, d)
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), "take e2e.log and junit_01.xml from the same run (sonobuoy: plugins/e2e/results/global/ of one results tarball), or regenerate the JUnit with `confrun junit e2e.log`")
	}
	return pass("%d of %d specs ran in both, %d passed", ran, len(sp), passed)
}

// diffNames compares the failures named by the log with the failed JUnit
// specs.
func diffNames(logNames, junitNames []string) string {
	var onlyLog, onlyJUnit []string
	for _, l := range logNames {
		found := false
		for _, j := range junitNames {
			if sameSpec(l, j) {
				found = true
				break
			}
		}
		if !found {
			onlyLog = append(onlyLog, l)
		}
	}
	for _, j := range junitNames {
		found := false
		for _, l := range logNames {
			if sameSpec(l, j) {
				found = true
				break
			}
		}
		if !found {
			onlyJUnit = append(onlyJUnit, coverage.NormalizeName(j))
		}
	}
	var parts []string
	if len(onlyLog) > 0 {
		parts = append(parts, "failed in e2e.log only: "+listSome(onlyLog, 2))
	}
	if len(onlyJUnit) > 0 {
		parts = append(parts, "failed in junit_01.xml only: "+listSome(onlyJUnit, 2))
	}
	return strings.Join(parts, "; ")
}

var titleRE = regexp.MustCompile(titlePattern)
