package submit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confrun/confrun/internal/githubfake"
	"github.com/confrun/confrun/internal/submit/submittest"
)

const (
	upstream = "cncf/k8s-conformance"
	token    = "ghp_fakeTOKENvalue0123456789abcdef"
	template = "### Pre-submission checklist:\n\n* [ ] participation form\n"
)

// fakeClock advances when slept on, so waits take no real time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

func (c *fakeClock) total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Duration
	for _, d := range c.slept {
		t += d
	}
	return t
}

type env struct {
	t     *testing.T
	clock *fakeClock
	gh    *githubfake.Server
	dir   string
	rep   *Report
	log   bytes.Buffer
}

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedRep  *Report
	sharedErr  error
)

// sharedFolder is one good submission for all GitHub tests (they only read
// it), verified once.
func sharedFolder(t *testing.T) (string, *Report) {
	sharedOnce.Do(func() {
		root, err := os.MkdirTemp("", "confrun-submit-test-")
		if err != nil {
			sharedErr = err
			return
		}
		if sharedDir, sharedErr = submittest.Write(root, submittest.Options{}); sharedErr != nil {
			return
		}
		sharedRep, sharedErr = Verify(context.Background(), VerifyOptions{Dir: sharedDir})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDir, sharedRep
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(filepath.Dir(filepath.Dir(sharedDir)))
	}
	os.Exit(code)
}

func newEnv(t *testing.T, fo githubfake.Options) *env {
	t.Helper()
	e := &env{t: t, clock: &fakeClock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}}
	fo.Now = e.clock.Now
	e.gh = githubfake.New(fo)
	t.Cleanup(e.gh.Close)
	scopes := "public_repo, read:org"
	e.gh.AddAccount(token, githubfake.Account{Login: "alice", Scopes: &scopes})
	e.gh.AddRepo("cncf", "k8s-conformance", map[string]string{
		"README.md": "# k8s-conformance\n", PullRequestTemplate: template,
		"v1.33/other/PRODUCT.yaml": "name: other\n",
	})
	e.dir, e.rep = sharedFolder(t)
	return e
}

func (e *env) opts() SubmitOptions {
	return SubmitOptions{
		Dir: e.dir, Token: token, GitHubURL: e.gh.URL(), HTTPClient: e.gh.Client(), Clock: e.clock,
		Signoff: Signoff{Name: "Alice Example", Email: "alice@example.com"}, Log: &e.log, Verified: e.rep,
	}
}

func (e *env) submit(mut func(*SubmitOptions)) (*SubmitResult, error) {
	o := e.opts()
	if mut != nil {
		mut(&o)
	}
	return Submit(context.Background(), o)
}

// assertDone checks the end state GitHub must hold after a submission:
// one open pull request from alice's branch with exactly one commit on
// upstream master, signed off, adding exactly the four files.
func (e *env) assertDone() githubfake.Pull {
	t := e.t
	t.Helper()
	prs := e.gh.Pulls(upstream)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests, want 1: %+v", len(prs), prs)
	}
	pr := prs[0]
	if pr.State != "open" || pr.Title != "Conformance results for v1.34/acme-mips" || pr.Head != "alice:confrun/v1.34-acme-mips" || pr.Base != "master" {
		t.Errorf("pull request %+v", pr)
	}
	if pr.Body != template || !pr.MaintainerCanModify {
		t.Errorf("body %q, maintainer_can_modify %v", pr.Body, pr.MaintainerCanModify)
	}
	if len(pr.Commits) != 1 {
		t.Fatalf("pull request has %d commits, want exactly 1", len(pr.Commits))
	}
	c, _ := e.gh.CommitInfo(upstream, pr.Commits[0])
	master := e.gh.Ref(upstream, "refs/heads/master")
	if !slices.Equal(c.Parents, []string{master}) {
		t.Errorf("commit parents %v, want upstream master %s", c.Parents, master)
	}
	if !strings.HasSuffix(c.Message, "\n\nSigned-off-by: Alice Example <alice@example.com>\n") || !strings.HasPrefix(c.Message, "Conformance results for v1.34/acme-mips\n") {
		t.Errorf("commit message %q", c.Message)
	}
	if c.AuthorName != "Alice Example" || c.AuthorEmail != "alice@example.com" {
		t.Errorf("author %s <%s>", c.AuthorName, c.AuthorEmail)
	}
	changed := slices.Clone(c.ChangedFromFirstParent)
	slices.Sort(changed)
	want := []string{"v1.34/acme-mips/PRODUCT.yaml", "v1.34/acme-mips/README.md", "v1.34/acme-mips/e2e.log", "v1.34/acme-mips/junit_01.xml"}
	if !slices.Equal(changed, want) {
		t.Errorf("commit changes %v, want %v", changed, want)
	}
	for _, name := range Files {
		local, _ := os.ReadFile(filepath.Join(e.dir, name))
		if c.Files["v1.34/acme-mips/"+name] != string(local) {
			t.Errorf("%s differs from the local file", name)
		}
	}
	if c.Files["v1.33/other/PRODUCT.yaml"] == "" {
		t.Error("the tree lost upstream's files (base_tree not used)")
	}
	return pr
}

func mutating(reqs []githubfake.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method != "GET" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func TestSubmitFirstThenAgain(t *testing.T) {
	e := newEnv(t, githubfake.Options{ForkReadyAfter: 3})
	res, err := e.submit(nil)
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, e.log.String())
	}
	pr := e.assertDone()
	if res.PullRequest != pr.Number || res.PullRequestAction != "opened" || !res.CommitCreated || res.Fork != "alice/k8s-conformance" {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(e.log.String(), "waiting 1s for GitHub to create the fork") || e.clock.total() != 7*time.Second {
		t.Errorf("fork wait: slept %v, log:\n%s", e.clock.slept, e.log.String())
	}
	// Blobs went through the Git Data API, never the contents API.
	var blobs int
	for _, m := range mutating(e.gh.Requests()) {
		if strings.Contains(m, "/contents/") {
			t.Errorf("contents API used: %s", m)
		}
		if strings.HasSuffix(m, "/git/blobs") {
			blobs++
		}
	}
	if blobs != 4 {
		t.Errorf("%d blob uploads, want 4", blobs)
	}

	// Again, unchanged: nothing new is created.
	before := len(e.gh.Requests())
	res2, err := e.submit(nil)
	if err != nil {
		t.Fatal(err)
	}
	if res2.CommitCreated || res2.Commit != res.Commit || res2.PullRequest != res.PullRequest || res2.PullRequestAction != "unchanged" {
		t.Errorf("second run %+v", res2)
	}
	for _, m := range mutating(e.gh.Requests()[before:]) {
		if strings.HasSuffix(m, "/git/commits") || strings.HasSuffix(m, "/pulls") || strings.Contains(m, "/git/refs/") || strings.HasSuffix(m, "/forks") {
			t.Errorf("second run changed something: %s", m)
		}
	}
	e.assertDone()
}

func TestSubmitAgainAfterChangesKeepsOneCommitAndOnePR(t *testing.T) {
	e := newEnv(t, githubfake.Options{})
	first, err := e.submit(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The user ticks the checklist on GitHub; a re-run must keep it.
	e.gh.CommitFiles(upstream, "master", map[string]string{"v1.33/third/README.md": "x"}, "another submission merged")
	// The local README changes too.
	dir := copyFolder(t, e.dir)
	if err := os.WriteFile(filepath.Join(dir, FileReadme), []byte(submittest.Readme("acme-mips")+"\nMore notes.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := e.submit(func(o *SubmitOptions) { o.Dir, o.Verified = dir, nil })
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log.String())
	}
	e.dir = dir
	pr := e.assertDone()
	if !second.CommitCreated || second.Commit == first.Commit || second.PullRequest != first.PullRequest || pr.Commits[0] != second.Commit {
		t.Errorf("second %+v first %+v", second, first)
	}
	// The fork's master was synced with upstream.
	if e.gh.Ref("alice/k8s-conformance", "refs/heads/master") != e.gh.Ref(upstream, "refs/heads/master") {
		t.Error("fork master not synced")
	}
	if !strings.Contains(e.log.String(), "synced the fork's master with upstream (fast-forward)") {
		t.Errorf("log:\n%s", e.log.String())
	}
}

func copyFolder(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "v1.34", "acme-mips")
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range Files {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

func TestSubmitDryRun(t *testing.T) {
	e := newEnv(t, githubfake.Options{})
	// Offline: no token, no request.
	res, err := e.submit(func(o *SubmitOptions) { o.DryRun, o.Token = true, "" })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.gh.Requests()); n != 0 {
		t.Errorf("offline dry run made %d requests", n)
	}
	p := res.Plan
	if p.Fork != "<your GitHub user>/k8s-conformance" || p.Branch != "confrun/v1.34-acme-mips" || p.Title != "Conformance results for v1.34/acme-mips" || len(p.Files) != 4 {
		t.Errorf("plan %+v", p)
	}
	for _, f := range p.Files {
		size, s256, gs, _ := hashFile(filepath.Join(e.dir, filepath.Base(f.Path)))
		if f.Size != size || f.SHA256 != s256 || f.GitSHA != gs || f.GitSHA != githubfake.BlobSHA(mustRead(t, f.Local)) {
			t.Errorf("file %+v", f)
		}
	}
	var buf bytes.Buffer
	if err := p.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"v1.34/acme-mips/e2e.log", "sha256:" + p.Files[2].SHA256, "Signed-off-by: Alice Example <alice@example.com>", "Conformance results for v1.34/acme-mips"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("plan text lacks %q:\n%s", want, buf.String())
		}
	}

	// With a token: reads only, and says what exists.
	res, err = e.submit(func(o *SubmitOptions) { o.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	if m := mutating(e.gh.Requests()); len(m) != 0 {
		t.Errorf("dry run changed things: %v", m)
	}
	if res.Plan.ForkAction != "will be created" || res.Plan.Fork != "alice/k8s-conformance" || res.Plan.Body != template || res.Plan.PullRequestAction != "open a new one" {
		t.Errorf("plan %+v", res.Plan)
	}
	if e.gh.RepoExists("alice/k8s-conformance") {
		t.Error("dry run forked")
	}
	// After a real submission the plan names the pull request to update.
	if _, err := e.submit(nil); err != nil {
		t.Fatal(err)
	}
	res, err = e.submit(func(o *SubmitOptions) { o.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.ForkAction != "exists" || !strings.HasPrefix(res.Plan.BranchAction, "exists at ") || !strings.Contains(res.Plan.PullRequestAction, "#1") {
		t.Errorf("plan after submit %+v", res.Plan)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSubmitRefusesFailingFolder(t *testing.T) {
	e := newEnv(t, githubfake.Options{})
	dir := copyFolder(t, e.dir)
	replaceLine(t, filepath.Join(dir, FileProduct), `^type: .*$`, "type: appliance")
	_, err := e.submit(func(o *SubmitOptions) { o.Dir, o.Verified = dir, nil })
	if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), RuleProductType) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err %v", err)
	}
	if len(e.gh.Requests()) != 0 {
		t.Error("a failing submission reached GitHub")
	}
	e.dir = dir
	res, err := e.submit(func(o *SubmitOptions) { o.Dir, o.Verified, o.Force = dir, nil, true })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.log.String(), "WARNING: --force") || !strings.Contains(e.log.String(), RuleProductType) || !slices.Equal(res.Plan.VerifyFailed, []string{RuleProductType}) {
		t.Errorf("force warning missing:\n%s", e.log.String())
	}
	e.assertDone()
}

func TestSubmitFaults(t *testing.T) {
	readOnly := "read:user"
	cases := []struct {
		name    string
		setup   func(e *env, o *SubmitOptions)
		wantErr string // empty: must succeed
		wantLog string
		slept   time.Duration // total fake sleep, when checked
	}{
		{name: "bad credentials", setup: func(e *env, o *SubmitOptions) { o.Token = "ghp_wrong" },
			wantErr: "GitHub rejected the token (401 Bad credentials)"},
		{name: "classic token without public_repo", setup: func(e *env, o *SubmitOptions) {
			e.gh.AddAccount("ghp_readonly", githubfake.Account{Login: "alice", Scopes: &readOnly})
			o.Token = "ghp_readonly"
		}, wantErr: "lacks the public_repo scope"},
		{name: "403 on a write names the permission", setup: func(e *env, o *SubmitOptions) {
			e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/*/*/git/trees", Status: 403, Message: "Resource not accessible by personal access token"})
		}, wantErr: "creating the tree: GitHub refused (403 Resource not accessible by personal access token): the token needs"},
		{name: "primary rate limit waits for the reset", setup: func(e *env, o *SubmitOptions) {
			e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/*/*/git/blobs", PrimaryReset: 10 * time.Minute})
		}, wantLog: "GitHub primary rate limit reached (403); waiting 10m1s", slept: 10*time.Minute + time.Second},
		{name: "secondary rate limit 429 Retry-After", setup: func(e *env, o *SubmitOptions) {
			e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/cncf/k8s-conformance/pulls", Status: 429, RetryAfter: 30})
		}, wantLog: "GitHub secondary rate limit reached (429); waiting 30s", slept: 30 * time.Second},
		{name: "secondary rate limit 403 Retry-After", setup: func(e *env, o *SubmitOptions) {
			e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/*/*/git/commits", Status: 403, RetryAfter: 60})
		}, wantLog: "GitHub secondary rate limit reached (403); waiting 1m0s", slept: time.Minute},
		{name: "rate limit longer than max wait", setup: func(e *env, o *SubmitOptions) {
			e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/*/*/git/blobs", PrimaryReset: 2 * time.Hour})
			o.Retry.MaxWait = time.Hour
		}, wantErr: "rate limit is used up until 12:00 UTC, longer than the wait allowed"},
		{name: "5xx retried with backoff", setup: func(e *env, o *SubmitOptions) {
			e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/*/*/git/trees", Status: 502, Times: 2})
		}, wantLog: "GitHub answered 502 Bad Gateway (attempt 2 of 4); waiting 2s", slept: 3 * time.Second},
		{name: "5xx retries are bounded", setup: func(e *env, o *SubmitOptions) {
			e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/*/*/git/refs", Status: 503, Times: 10})
		}, wantErr: "creating branch confrun/v1.34-acme-mips: POST", slept: 7 * time.Second},
		{name: "fork never appears", setup: func(e *env, o *SubmitOptions) { o.ForkTimeout = 20 * time.Second },
			wantErr: "GitHub has not created it after 20s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fo := githubfake.Options{}
			if tc.name == "fork never appears" {
				fo.ForkReadyAfter = 1000
			}
			e := newEnv(t, fo)
			o := e.opts()
			tc.setup(e, &o)
			_, err := Submit(context.Background(), o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("submit: %v\n%s", err, e.log.String())
				}
				e.assertDone()
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if tc.wantLog != "" && !strings.Contains(e.log.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, e.log.String())
			}
			if tc.slept != 0 && e.clock.total() != tc.slept {
				t.Errorf("slept %v (%v), want %v", e.clock.total(), e.clock.slept, tc.slept)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Error("token in the error")
			}
		})
	}
}

// TestSubmitResumesAfterACut cuts the connection after every possible
// number of requests, in both ways (request lost, answer lost), and checks
// that the next run finishes the job with the same end state.
func TestSubmitResumesAfterACut(t *testing.T) {
	probe := newEnv(t, githubfake.Options{ForkReadyAfter: 1})
	if _, err := probe.submit(nil); err != nil {
		t.Fatal(err)
	}
	total := len(probe.gh.Requests())
	if total < 15 {
		t.Fatalf("a submission took only %d requests", total)
	}
	for _, mode := range []githubfake.CutMode{githubfake.CutBeforeHandling, githubfake.CutAfterHandling} {
		for k := 0; k < total; k++ {
			t.Run(fmt.Sprintf("mode%d/after%d", mode, k), func(t *testing.T) {
				e := newEnv(t, githubfake.Options{ForkReadyAfter: 1})
				e.gh.CutAfter(k, mode)
				_, err := e.submit(nil)
				if err == nil {
					t.Fatalf("run with the network cut after %d requests succeeded", k)
				}
				if !strings.Contains(err.Error(), "run the same command again and it continues where it stopped") {
					t.Errorf("cut error does not say what to do: %v", err)
				}
				e.gh.Restore()
				if _, err := e.submit(nil); err != nil {
					t.Fatalf("resume: %v\n%s", err, e.log.String())
				}
				e.assertDone()
			})
		}
	}
}

func TestSubmitTokenNeverShown(t *testing.T) {
	e := newEnv(t, githubfake.Options{ForkReadyAfter: 1})
	var errs []string
	run := func(mut func(*SubmitOptions)) {
		if _, err := e.submit(mut); err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%#v", err))
		}
	}
	e.gh.CutAfter(4, githubfake.CutAfterHandling)
	run(nil)
	e.gh.Restore()
	e.gh.Inject(githubfake.Fault{Method: "POST", Path: "/repos/*/*/git/trees", Status: 403})
	run(nil)
	e.gh.Inject(githubfake.Fault{Status: 500, Times: 4}) // exactly the retries
	run(nil)
	run(func(o *SubmitOptions) { o.Token = "ghp_other" })
	run(func(o *SubmitOptions) { o.DryRun = true })
	run(nil)
	e.assertDone()
	all := e.log.String() + strings.Join(errs, "\n") + string(e.gh.AllContent())
	if len(errs) < 3 {
		t.Fatalf("only %d runs failed; the leak check needs error paths", len(errs))
	}
	if strings.Contains(all, token) || strings.Contains(all, token[4:20]) {
		t.Fatal("the token appears in output, errors or on GitHub")
	}
}
