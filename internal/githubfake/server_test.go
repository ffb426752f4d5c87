package githubfake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func start(t *testing.T, opts Options) (*Server, *github.Client) {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	scopes := "public_repo, read:user"
	s.AddAccount("tok-alice", Account{Login: "alice", Scopes: &scopes})
	s.AddRepo("cncf", "k8s-conformance", map[string]string{"README.md": "hello\n", ".github/PULL_REQUEST_TEMPLATE.md": "- [ ] signed\n"})
	c, err := github.NewClient(s.Client()).WithAuthToken("tok-alice").WithEnterpriseURLs(s.URL(), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestGitObjectIDsAreGits(t *testing.T) {
	if got := BlobSHA([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("blob sha %s", got)
	}
	st := newObjStore()
	if got := st.putTree(nil); got != "4b825dc642cb6eb9a060e54bf8d69288fbee4904" {
		t.Errorf("empty tree %s", got)
	}
	// `printf 'hello\n' > a; git add a; git write-tree` in an empty repo.
	e := treeEntry{Mode: "100644", Type: "blob", SHA: st.putBlob([]byte("hello\n"))}
	root, err := st.edit(st.putTree(nil), []string{"a"}, &e)
	if err != nil || root != "0976950c1fdbcb52435a433913017bf044b3a58f" {
		t.Errorf("tree %s %v", root, err)
	}
}

func TestForkIsAsyncAndRefsTreesCommitsPulls(t *testing.T) {
	s, c := start(t, Options{ForkReadyAfter: 2})
	ctx := context.Background()
	fork, _, err := c.Repositories.CreateFork(ctx, "cncf", "k8s-conformance", nil)
	var acc *github.AcceptedError
	if !errors.As(err, &acc) || fork.GetFullName() != "alice/k8s-conformance" {
		t.Fatalf("create fork: %v %v", fork, err)
	}
	for i := 0; i < 2; i++ {
		if _, resp, err := c.Repositories.Get(ctx, "alice", "k8s-conformance"); resp.StatusCode != 404 {
			t.Fatalf("poll %d: fork visible too early: %v", i, err)
		}
	}
	got, _, err := c.Repositories.Get(ctx, "alice", "k8s-conformance")
	if err != nil || !got.GetFork() || got.GetParent().GetFullName() != "cncf/k8s-conformance" {
		t.Fatalf("fork: %v %v", got, err)
	}
	// Forking again returns the same fork.
	again, _, _ := c.Repositories.CreateFork(ctx, "cncf", "k8s-conformance", nil)
	if again.GetFullName() != "alice/k8s-conformance" {
		t.Errorf("second fork %s", again.GetFullName())
	}

	master, _, err := c.Git.GetRef(ctx, "cncf", "k8s-conformance", "heads/master")
	if err != nil {
		t.Fatal(err)
	}
	base := master.GetObject().GetSHA()
	ref := &github.Reference{Ref: github.String("refs/heads/work"), Object: &github.GitObject{SHA: &base}}
	if _, resp, err := c.Git.CreateRef(ctx, "alice", "k8s-conformance", ref); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create ref: %v", err)
	}
	_, _, err = c.Git.CreateRef(ctx, "alice", "k8s-conformance", ref)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 422 || er.Message != "Reference already exists" {
		t.Fatalf("second create ref: %v", err)
	}

	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	blob, _, err := c.Git.CreateBlob(ctx, "alice", "k8s-conformance", &github.Blob{Content: github.String(b64(big)), Encoding: github.String("base64")})
	if err != nil || blob.GetSHA() != BlobSHA([]byte(big)) {
		t.Fatalf("blob %v %v", blob.GetSHA(), err)
	}
	commit, _, err := c.Git.GetCommit(ctx, "alice", "k8s-conformance", base)
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := c.Git.CreateTree(ctx, "alice", "k8s-conformance", commit.GetTree().GetSHA(), []*github.TreeEntry{
		{Path: github.String("v1.34/x/e2e.log"), Mode: github.String("100644"), Type: github.String("blob"), SHA: blob.SHA}})
	if err != nil {
		t.Fatal(err)
	}
	nc, _, err := c.Git.CreateCommit(ctx, "alice", "k8s-conformance", &github.Commit{Message: github.String("m"), Tree: tree,
		Parents: []*github.Commit{{SHA: &base}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.CommitInfo("alice/k8s-conformance", nc.GetSHA())
	if info.Files["v1.34/x/e2e.log"] != big || info.Files["README.md"] != "hello\n" || len(info.Files) != 3 {
		t.Errorf("tree with base_tree: %d files", len(info.Files))
	}
	ref.Object.SHA = nc.SHA
	if _, _, err := c.Git.UpdateRef(ctx, "alice", "k8s-conformance", ref, false); err != nil {
		t.Fatal(err)
	}
	ref.Object.SHA = &base
	if _, _, err := c.Git.UpdateRef(ctx, "alice", "k8s-conformance", ref, false); err == nil {
		t.Error("non-fast-forward update without force accepted")
	}
	ref.Object.SHA = nc.SHA

	pr, _, err := c.PullRequests.Create(ctx, "cncf", "k8s-conformance", &github.NewPullRequest{Title: github.String("t"), Head: github.String("alice:work"), Base: github.String("master")})
	if err != nil || pr.GetNumber() != 1 || pr.GetCommits() != 1 {
		t.Fatalf("create pr: %v %v", pr, err)
	}
	_, _, err = c.PullRequests.Create(ctx, "cncf", "k8s-conformance", &github.NewPullRequest{Title: github.String("t"), Head: github.String("alice:work"), Base: github.String("master")})
	if !errors.As(err, &er) || er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Message != "A pull request already exists for alice:work." {
		t.Fatalf("second pr: %v", err)
	}
}

func b64(s string) string { return strings.ReplaceAll(base64Lines([]byte(s)), "\n", "") }

func TestListPullsPaginatesWithLink(t *testing.T) {
	s, c := start(t, Options{})
	for i := 0; i < 7; i++ {
		s.OpenPull("cncf/k8s-conformance", fmt.Sprintf("user%d", i), "b", fmt.Sprintf("pr %d", i))
	}
	ctx := context.Background()
	opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: 3}}
	var seen []int
	pages := 0
	for {
		prs, resp, err := c.PullRequests.List(ctx, "cncf", "k8s-conformance", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range prs {
			seen = append(seen, p.GetNumber())
		}
		if resp.NextPage == 0 {
			if resp.LastPage != 0 || resp.PrevPage != pages-1 {
				t.Errorf("last page links: prev %d last %d", resp.PrevPage, resp.LastPage)
			}
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || len(seen) != 7 || seen[0] != 7 {
		t.Errorf("pages %d seen %v", pages, seen)
	}
	prs, _, err := c.PullRequests.List(ctx, "cncf", "k8s-conformance", &github.PullRequestListOptions{Head: "user3:b"})
	if err != nil || len(prs) != 1 || prs[0].GetHead().GetRepo().GetOwner().GetLogin() != "user3" {
		t.Errorf("head filter: %v %v", prs, err)
	}
}

func TestFaults(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, c := start(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()

	// Rate headers on every answer.
	_, resp, err := c.Users.Get(ctx, "")
	if err != nil || resp.Rate.Limit != 5000 || resp.Rate.Remaining != 4999 || resp.Header.Get("X-OAuth-Scopes") != "public_repo, read:user" {
		t.Fatalf("rate %+v scopes %q %v", resp.Rate, resp.Header.Get("X-OAuth-Scopes"), err)
	}

	// 401.
	bad, _ := github.NewClient(s.Client()).WithAuthToken("wrong").WithEnterpriseURLs(s.URL(), s.URL())
	_, resp, err = bad.Users.Get(ctx, "")
	if resp == nil || resp.StatusCode != 401 || !strings.Contains(err.Error(), "Bad credentials") {
		t.Errorf("bad token: %v", err)
	}

	// 5xx once.
	s.Inject(Fault{Method: "GET", Path: "/user", Status: 502})
	if _, resp, _ = c.Users.Get(ctx, ""); resp.StatusCode != 502 {
		t.Errorf("5xx: %d", resp.StatusCode)
	}
	if _, resp, _ = c.Users.Get(ctx, ""); resp.StatusCode != 200 {
		t.Errorf("after 5xx: %d", resp.StatusCode)
	}

	// Secondary limit: 429 with Retry-After, in force until it passes.
	s.Inject(Fault{Status: 429, RetryAfter: 30})
	r1, _ := http.NewRequest("GET", s.URL()+"user", nil)
	r1.Header.Set("Authorization", "Bearer tok-alice")
	hr, err := s.Client().Do(r1)
	if err != nil || hr.StatusCode != 429 || hr.Header.Get("Retry-After") != "30" {
		t.Fatalf("secondary: %v %v", hr, err)
	}
	hr.Body.Close()
	now = now.Add(10 * time.Second)
	hr, _ = s.Client().Do(r1.Clone(ctx))
	if hr.StatusCode != 429 || hr.Header.Get("Retry-After") != "20" {
		t.Errorf("secondary still in force: %d %s", hr.StatusCode, hr.Header.Get("Retry-After"))
	}
	hr.Body.Close()
	now = now.Add(20 * time.Second)
	hr, _ = s.Client().Do(r1.Clone(ctx))
	if hr.StatusCode != 200 {
		t.Errorf("after Retry-After: %d", hr.StatusCode)
	}
	hr.Body.Close()

	// Primary limit: 403, Remaining 0, Reset in the future.
	s.Inject(Fault{PrimaryReset: 10 * time.Minute})
	hr, _ = s.Client().Do(r1.Clone(ctx))
	if hr.StatusCode != 403 || hr.Header.Get("X-RateLimit-Remaining") != "0" || hr.Header.Get("X-RateLimit-Reset") != fmt.Sprint(now.Add(10*time.Minute).Unix()) {
		t.Errorf("primary: %d %v", hr.StatusCode, hr.Header)
	}
	hr.Body.Close()
	now = now.Add(11 * time.Minute)
	hr, _ = s.Client().Do(r1.Clone(ctx))
	if hr.StatusCode != 200 {
		t.Errorf("after reset: %d", hr.StatusCode)
	}
	hr.Body.Close()

	// A cut connection.
	s.CutAfter(1, CutBeforeHandling)
	if _, _, err := c.Users.Get(ctx, ""); err != nil {
		t.Fatalf("request before the cut: %v", err)
	}
	if _, _, err := c.Users.Get(ctx, ""); err == nil {
		t.Fatal("request after the cut succeeded")
	}
	s.Restore()
	if _, _, err := c.Users.Get(ctx, ""); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}
