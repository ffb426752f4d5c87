package submit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Defaults of the pull request target.
const (
	DefaultUpstream = "cncf/k8s-conformance"
	DefaultBase     = "master"
)

// ErrVerifyFailed is returned (wrapped) when the folder fails verify and
// Force is not set.
var ErrVerifyFailed = errors.New("the submission fails verify")

// SubmitOptions configure Submit.
type SubmitOptions struct {
	// Dir is the submission folder.
	Dir string
	// Token authenticates with GitHub; it may be empty for a dry run.
	Token string
	// GitHubURL is the API base URL: empty for github.com, else a GitHub
	// Enterprise server (https://ghe.example.com/ or .../api/v3/).
	GitHubURL string
	// Upstream is owner/name of the target repository.
	Upstream string
	// Base is the target branch.
	Base string
	// ForkOwner forks into an organization instead of the token's user.
	ForkOwner string
	Signoff   Signoff
	// DryRun plans and changes nothing (it reads from GitHub when a token
	// is given, to say what exists).
	DryRun bool
	// Force opens the pull request even when verify fails.
	Force bool
	// Verify configures the verify run (Dir is taken from here).
	Verify VerifyOptions
	// Verified, when set, is a verify report of Dir the caller already
	// made; Submit then does not verify again.
	Verified *Report
	// HTTPClient is the base HTTP client (its transport is wrapped).
	HTTPClient *http.Client
	Clock      Clock
	Retry      RetryPolicy
	// ForkTimeout bounds the wait for GitHub to create the fork.
	ForkTimeout time.Duration
	// Log receives progress lines and warnings.
	Log io.Writer
}

// SubmitResult is what Submit did.
type SubmitResult struct {
	Plan   *Plan `json:"plan"`
	DryRun bool  `json:"dryRun"`
	// Verify is the verify report the submission was checked with.
	Verify         *Report `json:"-"`
	Fork           string  `json:"fork,omitempty"`
	Branch         string  `json:"branch,omitempty"`
	Commit         string  `json:"commit,omitempty"`
	CommitCreated  bool    `json:"commitCreated"`
	PullRequest    int     `json:"pullRequest,omitempty"`
	PullRequestURL string  `json:"pullRequestURL,omitempty"`
	// PullRequestAction is "opened", "updated" or "unchanged".
	PullRequestAction string `json:"pullRequestAction,omitempty"`
}

type flow struct {
	opts     SubmitOptions
	gh       *github.Client
	log      func(format string, args ...any)
	up       [2]string // owner, name
	folder   Folder
	plan     *Plan
	login    string
	forkRepo [2]string
}

// Submit runs verify, then opens or updates the pull request: fork (waiting
// for GitHub to create it), sync the fork's base branch, a branch from
// upstream's base, the four files as blobs, one tree, exactly one signed-off
// commit, and one pull request. Every step is idempotent, so running it
// again after an interruption finishes the job, and running it on a done
// submission changes nothing.
func Submit(ctx context.Context, opts SubmitOptions) (*SubmitResult, error) {
	opts = submitDefaults(opts)
	fl := &flow{opts: opts, folder: ParseFolder(opts.Dir)}
	fl.log = func(format string, args ...any) { fmt.Fprintf(opts.Log, format+"\n", args...) }
	owner, name, ok := strings.Cut(opts.Upstream, "/")
	if !ok || owner == "" || name == "" {
		return nil, fmt.Errorf("upstream %q is not owner/name", opts.Upstream)
	}
	fl.up = [2]string{owner, name}

	rep := opts.Verified
	if rep == nil {
		vopts := opts.Verify
		vopts.Dir = opts.Dir
		var err error
		if rep, err = Verify(ctx, vopts); err != nil {
			return nil, err
		}
	}
	res := &SubmitResult{Verify: rep, DryRun: opts.DryRun}
	if !rep.OK {
		var lines []string
		for _, f := range rep.Failures() {
			lines = append(lines, fmt.Sprintf("  %s: %s", f.ID, oneLine(f.Detail)))
		}
		if !opts.Force {
			return res, fmt.Errorf("%w (%s); fix them (`confrun verify %s` says how) or pass --force to open it anyway:\n%s",
				ErrVerifyFailed, strings.Join(rep.Failed, ", "), opts.Dir, strings.Join(lines, "\n"))
		}
		fl.log("WARNING: --force: opening a submission that fails %d rules; the review bot will flag it:\n%s", len(rep.Failed), strings.Join(lines, "\n"))
	}

	files, err := planFiles(fl.folder)
	if err != nil {
		return res, err
	}
	fl.plan = &Plan{
		Upstream: opts.Upstream, Base: opts.Base, Branch: fl.folder.Branch(), Files: files,
		Author: opts.Signoff, CommitMessage: CommitMessage(fl.folder, opts.Signoff), Title: fl.folder.Title(),
		Body: fallbackBody, BodySource: "confrun's copy of the checklist", VerifyFailed: rep.Failed,
		Fork: "<your GitHub user>/" + name, ForkAction: "found or created when run with a token",
		BranchAction: "created from upstream " + opts.Base + ", or force-updated", PullRequestAction: "opened, or the open one updated",
	}
	if opts.ForkOwner != "" {
		fl.plan.Fork = opts.ForkOwner + "/" + name
	}
	res.Plan = fl.plan
	if opts.DryRun && opts.Token == "" {
		fl.plan.BodySource += " (offline: the repository's template is used when there is one)"
		return res, nil
	}
	if opts.Token == "" {
		return res, fmt.Errorf("no GitHub token: set %s or pass --token-file (a file only you can read); the token needs the public_repo scope", TokenEnv)
	}
	if fl.gh, err = newGitHubClient(opts, fl.log); err != nil {
		return res, err
	}
	if err := fl.run(ctx, res); err != nil {
		return res, err
	}
	return res, nil
}

func submitDefaults(o SubmitOptions) SubmitOptions {
	if o.Upstream == "" {
		o.Upstream = DefaultUpstream
	}
	if o.Base == "" {
		o.Base = DefaultBase
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.ForkTimeout <= 0 {
		o.ForkTimeout = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	o.Retry = o.Retry.withDefaults()
	return o
}

func newGitHubClient(o SubmitOptions, log func(string, ...any)) (*github.Client, error) {
	hc := *o.HTTPClient
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &retryTransport{base: base, clock: o.Clock, policy: o.Retry, notify: log}
	c := github.NewClient(&hc).WithAuthToken(o.Token)
	c.UserAgent = "confrun-submit"
	if o.GitHubURL != "" {
		u, err := url.Parse(o.GitHubURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("--github-url %q is not an http(s) URL", o.GitHubURL)
		}
		if u.Host == "api.github.com" {
			return c, nil
		}
		if c, err = c.WithEnterpriseURLs(o.GitHubURL, o.GitHubURL); err != nil {
			return nil, fmt.Errorf("--github-url: %w", err)
		}
	}
	return c, nil
}

// step wraps an error of one step with what was being done and what to do.
func step(what string, err error) error {
	return fmt.Errorf("%s: %w", what, explain(err))
}

// explain turns GitHub answers into what the user should do. The token is
// never part of an error: go-github's errors carry the URL and GitHub's
// message, and the token travels only in a header.
func explain(err error) error {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var er *github.ErrorResponse
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.As(err, &rl):
		return fmt.Errorf("GitHub's rate limit is used up until %s, longer than the wait allowed (--max-wait): run the same command again after that: %w",
			rl.Rate.Reset.UTC().Format("15:04 UTC"), err)
	case errors.As(err, &ab):
		wait := "a while"
		if ab.RetryAfter != nil {
			wait = ab.RetryAfter.Round(time.Second).String()
		}
		return fmt.Errorf("GitHub's secondary rate limit asks to wait %s, longer than the wait allowed (--max-wait): run the same command again later: %w", wait, err)
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("GitHub rejected the token (401 %s): it is wrong, expired or revoked; create a new token with the public_repo scope (classic) or Contents and Pull requests read/write (fine-grained) and pass it in %s or --token-file", er.Message, TokenEnv)
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusForbidden:
		need := "the public_repo scope (classic token), or Contents and Pull requests read/write on your fork (fine-grained token)"
		if acc := er.Response.Header.Get("X-Accepted-OAuth-Scopes"); acc != "" {
			need = "one of the scopes " + acc
		}
		have := ""
		if h := er.Response.Header.Values("X-OAuth-Scopes"); len(h) > 0 {
			have = fmt.Sprintf(" (the token has: %q)", strings.Join(h, ", "))
		}
		return fmt.Errorf("GitHub refused (403 %s): the token needs %s%s", er.Message, need, have)
	case errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("lost the connection to GitHub (%v): nothing is lost; run the same command again and it continues where it stopped", err)
	}
	return err
}

func isStatus(err error, code int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == code
}

func hasMessage(err error, msg string) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	if strings.Contains(er.Message, msg) {
		return true
	}
	for _, e := range er.Errors {
		if strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}

func (fl *flow) run(ctx context.Context, res *SubmitResult) error {
	o, p := fl.opts, fl.plan
	if err := fl.checkToken(ctx); err != nil {
		return err
	}
	p.User = fl.login
	fl.fetchBody(ctx)

	if err := fl.findOrCreateFork(ctx); err != nil {
		return err
	}
	fork := fl.forkRepo
	p.Fork = fork[0] + "/" + fork[1]
	res.Fork, res.Branch = p.Fork, p.Branch

	if !o.DryRun {
		fl.syncFork(ctx)
	}
	baseRef, _, err := fl.gh.Git.GetRef(ctx, fl.up[0], fl.up[1], "heads/"+o.Base)
	if err != nil {
		return step("reading upstream "+o.Base, err)
	}
	baseSHA := baseRef.GetObject().GetSHA()
	p.BaseSHA = baseSHA
	baseCommit, _, err := fl.gh.Git.GetCommit(ctx, fl.up[0], fl.up[1], baseSHA)
	if err != nil {
		return step("reading upstream commit "+short(baseSHA), err)
	}

	branchSHA := ""
	ref, _, err := fl.gh.Git.GetRef(ctx, fork[0], fork[1], "heads/"+p.Branch)
	switch {
	case err == nil:
		branchSHA = ref.GetObject().GetSHA()
		p.BranchAction = fmt.Sprintf("exists at %s: replaced by one commit on upstream %s (force)", short(branchSHA), o.Base)
	case isStatus(err, http.StatusNotFound):
		p.BranchAction = fmt.Sprintf("created from upstream %s at %s", o.Base, short(baseSHA))
	default:
		return step("reading branch "+p.Branch, err)
	}
	pr, err := fl.findPull(ctx)
	if err != nil {
		return err
	}
	if pr != nil {
		p.PullRequestAction = fmt.Sprintf("update the open #%d (title only; the body keeps your checkbox ticks)", pr.GetNumber())
	} else {
		p.PullRequestAction = "open a new one"
	}
	if o.DryRun {
		return nil
	}

	if branchSHA == "" {
		fl.log("creating branch %s from upstream %s", p.Branch, o.Base)
		_, _, err := fl.gh.Git.CreateRef(ctx, fork[0], fork[1], &github.Reference{Ref: github.String("refs/heads/" + p.Branch), Object: &github.GitObject{SHA: github.String(baseSHA)}})
		switch {
		case err == nil, isStatus(err, http.StatusUnprocessableEntity) && hasMessage(err, "Reference already exists"):
		default:
			return step("creating branch "+p.Branch, err)
		}
	}

	var entries []*github.TreeEntry
	for _, f := range p.Files {
		sha, err := fl.uploadBlob(ctx, f)
		if err != nil {
			return err
		}
		entries = append(entries, &github.TreeEntry{Path: github.String(f.Path), Mode: github.String("100644"), Type: github.String("blob"), SHA: github.String(sha)})
	}
	tree, _, err := fl.gh.Git.CreateTree(ctx, fork[0], fork[1], baseCommit.GetTree().GetSHA(), entries)
	if err != nil {
		return step("creating the tree", err)
	}

	commitSHA := ""
	if branchSHA != "" && branchSHA != baseSHA {
		// An earlier run's commit with the same content is kept as is.
		prev, _, err := fl.gh.Git.GetCommit(ctx, fork[0], fork[1], branchSHA)
		if err != nil {
			return step("reading the branch's commit", err)
		}
		if prev.GetTree().GetSHA() == tree.GetSHA() && prev.GetMessage() == p.CommitMessage &&
			len(prev.Parents) == 1 && prev.Parents[0].GetSHA() == baseSHA {
			commitSHA = branchSHA
			fl.log("branch %s already holds this submission (%s)", p.Branch, short(commitSHA))
		}
	}
	if commitSHA == "" {
		now := github.Timestamp{Time: o.Clock.Now().UTC().Truncate(time.Second)}
		author := &github.CommitAuthor{Name: github.String(o.Signoff.Name), Email: github.String(o.Signoff.Email), Date: &now}
		c, _, err := fl.gh.Git.CreateCommit(ctx, fork[0], fork[1], &github.Commit{
			Message: github.String(p.CommitMessage), Tree: &github.Tree{SHA: tree.SHA},
			Parents: []*github.Commit{{SHA: github.String(baseSHA)}}, Author: author, Committer: author}, nil)
		if err != nil {
			return step("creating the commit", err)
		}
		commitSHA = c.GetSHA()
		res.CommitCreated = true
		fl.log("created commit %s", short(commitSHA))
	}
	res.Commit = commitSHA
	if commitSHA != branchSHA {
		_, _, err := fl.gh.Git.UpdateRef(ctx, fork[0], fork[1], &github.Reference{Ref: github.String("refs/heads/" + p.Branch), Object: &github.GitObject{SHA: github.String(commitSHA)}}, true)
		if err != nil {
			return step("pointing branch "+p.Branch+" at the commit", err)
		}
	}
	return fl.openOrUpdatePull(ctx, pr, res)
}

func (fl *flow) checkToken(ctx context.Context) error {
	user, resp, err := fl.gh.Users.Get(ctx, "")
	if err != nil {
		return step("checking the GitHub token", err)
	}
	fl.login = user.GetLogin()
	// Classic tokens list their scopes; fine-grained tokens send no header.
	if h := resp.Header.Values("X-OAuth-Scopes"); len(h) > 0 {
		scopes := strings.Join(h, ",")
		if !hasScopeIn(scopes, "public_repo") && !hasScopeIn(scopes, "repo") {
			return fmt.Errorf("checking the GitHub token: it lacks the public_repo scope needed to fork and open a pull request (it has: %q): create a token with public_repo and pass it in %s or --token-file", strings.TrimSpace(scopes), TokenEnv)
		}
	}
	fl.log("authenticated as %s", fl.login)
	return nil
}

func hasScopeIn(scopes, want string) bool {
	for _, s := range strings.Split(scopes, ",") {
		if strings.TrimSpace(s) == want {
			return true
		}
	}
	return false
}

func (fl *flow) fetchBody(ctx context.Context) {
	file, _, _, err := fl.gh.Repositories.GetContents(ctx, fl.up[0], fl.up[1], PullRequestTemplate, &github.RepositoryContentGetOptions{Ref: fl.opts.Base})
	if err != nil || file == nil {
		fl.log("no %s in %s (%v): using confrun's checklist", PullRequestTemplate, fl.opts.Upstream, err)
		return
	}
	body, err := file.GetContent()
	if err != nil || strings.TrimSpace(body) == "" {
		return
	}
	fl.plan.Body, fl.plan.BodySource = body, fl.opts.Upstream+"/"+PullRequestTemplate
}

func (fl *flow) findOrCreateFork(ctx context.Context) error {
	owner := fl.opts.ForkOwner
	if owner == "" {
		owner = fl.login
	}
	name := fl.up[1]
	repo, _, err := fl.gh.Repositories.Get(ctx, owner, name)
	switch {
	case err == nil && repo.GetFork() && strings.EqualFold(repo.GetParent().GetFullName(), fl.opts.Upstream):
		fl.forkRepo = [2]string{repo.GetOwner().GetLogin(), repo.GetName()}
		fl.plan.ForkAction = "exists"
		fl.log("fork %s exists", repo.GetFullName())
		return nil
	case err != nil && !isStatus(err, http.StatusNotFound):
		return step("looking for your fork "+owner+"/"+name, err)
	}
	if fl.opts.DryRun {
		fl.forkRepo = [2]string{owner, name}
		fl.plan.ForkAction = "will be created"
		return nil
	}
	// GitHub answers 202 and creates the fork in the background; for an
	// existing fork under another name it answers with that fork.
	var forkOpts *github.RepositoryCreateForkOptions
	if fl.opts.ForkOwner != "" {
		forkOpts = &github.RepositoryCreateForkOptions{Organization: fl.opts.ForkOwner}
	}
	fl.log("forking %s", fl.opts.Upstream)
	fork, _, err := fl.gh.Repositories.CreateFork(ctx, fl.up[0], fl.up[1], forkOpts)
	var acc *github.AcceptedError
	if err != nil && !errors.As(err, &acc) {
		return step("forking "+fl.opts.Upstream, err)
	}
	if fork.GetName() == "" {
		return fmt.Errorf("forking %s: GitHub did not say the fork's name", fl.opts.Upstream)
	}
	fl.forkRepo = [2]string{fork.GetOwner().GetLogin(), fork.GetName()}
	fl.plan.ForkAction = "created"
	return fl.waitForFork(ctx)
}

func (fl *flow) waitForFork(ctx context.Context) error {
	c := fl.opts.Clock
	deadline := c.Now().Add(fl.opts.ForkTimeout)
	wait := time.Second
	full := fl.forkRepo[0] + "/" + fl.forkRepo[1]
	for {
		_, _, err := fl.gh.Repositories.Get(ctx, fl.forkRepo[0], fl.forkRepo[1])
		if err == nil {
			fl.log("fork %s is ready", full)
			return nil
		}
		if !isStatus(err, http.StatusNotFound) {
			return step("waiting for the fork "+full, err)
		}
		if !c.Now().Add(wait).Before(deadline) {
			return fmt.Errorf("waiting for the fork %s: GitHub has not created it after %s: run the same command again later", full, fl.opts.ForkTimeout)
		}
		fl.log("waiting %s for GitHub to create the fork %s", wait, full)
		if err := c.Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, 15*time.Second)
	}
}

func (fl *flow) syncFork(ctx context.Context) {
	res, _, err := fl.gh.Repositories.MergeUpstream(ctx, fl.forkRepo[0], fl.forkRepo[1], &github.RepoMergeUpstreamRequest{Branch: github.String(fl.opts.Base)})
	if err != nil {
		// The branch is made from upstream's base anyway; an out-of-date
		// fork base only matters to the user.
		fl.log("warning: could not sync %s of your fork with upstream (%v); the submission branch starts from upstream %s regardless", fl.opts.Base, explain(err), fl.opts.Base)
		return
	}
	fl.log("synced the fork's %s with upstream (%s)", fl.opts.Base, res.GetMergeType())
}

func (fl *flow) uploadBlob(ctx context.Context, f PlanFile) (string, error) {
	b, err := os.ReadFile(f.Local)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", f.Local, err)
	}
	fl.log("uploading %s (%d bytes)", f.Path, len(b))
	blob, _, err := fl.gh.Git.CreateBlob(ctx, fl.forkRepo[0], fl.forkRepo[1], &github.Blob{
		Content: github.String(base64.StdEncoding.EncodeToString(b)), Encoding: github.String("base64")})
	if err != nil {
		return "", step("uploading "+f.Path, err)
	}
	if blob.GetSHA() != f.GitSHA {
		return "", fmt.Errorf("uploading %s: GitHub stored blob %s, but the file's git ID is %s: the upload was altered; run again", f.Path, blob.GetSHA(), f.GitSHA)
	}
	return blob.GetSHA(), nil
}

// findPull returns the open pull request from the submission branch.
func (fl *flow) findPull(ctx context.Context) (*github.PullRequest, error) {
	head := fl.forkRepo[0] + ":" + fl.plan.Branch
	opts := &github.PullRequestListOptions{State: "open", Head: head, Base: fl.opts.Base, ListOptions: github.ListOptions{PerPage: 100}}
	for {
		prs, resp, err := fl.gh.PullRequests.List(ctx, fl.up[0], fl.up[1], opts)
		if err != nil {
			return nil, step("looking for an open pull request from "+head, err)
		}
		for _, pr := range prs {
			if pr.GetHead().GetRef() == fl.plan.Branch && strings.EqualFold(pr.GetHead().GetRepo().GetOwner().GetLogin(), fl.forkRepo[0]) {
				return pr, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

func (fl *flow) openOrUpdatePull(ctx context.Context, pr *github.PullRequest, res *SubmitResult) error {
	p := fl.plan
	if pr == nil {
		created, _, err := fl.gh.PullRequests.Create(ctx, fl.up[0], fl.up[1], &github.NewPullRequest{
			Title: github.String(p.Title), Head: github.String(fl.forkRepo[0] + ":" + p.Branch), Base: github.String(fl.opts.Base),
			Body: github.String(p.Body), MaintainerCanModify: github.Bool(true)})
		switch {
		case err == nil:
			res.PullRequest, res.PullRequestURL, res.PullRequestAction = created.GetNumber(), created.GetHTMLURL(), "opened"
			fl.log("opened pull request #%d %s", res.PullRequest, res.PullRequestURL)
			return nil
		case isStatus(err, http.StatusUnprocessableEntity) && hasMessage(err, "A pull request already exists"):
			// Opened by an earlier run whose answer was lost.
			if pr, err = fl.findPull(ctx); err != nil {
				return err
			}
			if pr == nil {
				return fmt.Errorf("opening the pull request: GitHub says one exists for %s:%s but does not list it", fl.forkRepo[0], p.Branch)
			}
		default:
			return step("opening the pull request", err)
		}
	}
	res.PullRequest, res.PullRequestURL, res.PullRequestAction = pr.GetNumber(), pr.GetHTMLURL(), "unchanged"
	if pr.GetTitle() != p.Title {
		if _, _, err := fl.gh.PullRequests.Edit(ctx, fl.up[0], fl.up[1], pr.GetNumber(), &github.PullRequest{Title: github.String(p.Title)}); err != nil {
			return step(fmt.Sprintf("updating pull request #%d", pr.GetNumber()), err)
		}
		res.PullRequestAction = "updated"
	}
	if res.CommitCreated {
		res.PullRequestAction = "updated"
	}
	fl.log("pull request #%d %s (%s)", res.PullRequest, res.PullRequestURL, res.PullRequestAction)
	return nil
}
