// Package githubfake is a stateful, in-memory GitHub REST API server for
// tests, answering the calls of a pull request flow the way GitHub's REST
// documentation says: users, repositories and forks (created
// asynchronously), merge-upstream, git refs, blobs, trees and commits,
// contents and pull requests, with rate-limit headers, Link pagination and
// switches to inject faults (5xx, primary and secondary rate limits, a
// network cut after K requests). Drive it with a real client through URL().
package githubfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Account is a user known to the server.
type Account struct {
	Login string
	Email string
	// Scopes, when not nil, is sent as X-OAuth-Scopes (a classic token);
	// nil behaves like a fine-grained token, which sends no such header.
	Scopes *string
}

// Fault is an error answer to inject.
type Fault struct {
	// Method and Path select requests (empty: any). Path is matched with
	// path.Match against the API path, e.g. "/repos/*/*/git/blobs".
	Method, Path string
	// Status is the HTTP status to answer (500, 502, 503, 403, 429, ...).
	Status int
	// RetryAfter, for a secondary rate limit, is sent as Retry-After
	// (seconds); later requests are refused too until it has passed.
	RetryAfter int
	// PrimaryReset, for a primary rate limit, sends X-RateLimit-Remaining: 0
	// and X-RateLimit-Reset now+PrimaryReset; every request is refused until
	// then.
	PrimaryReset time.Duration
	// Times is how many requests the fault answers (default 1).
	Times int
	// Message is the JSON message (a default fits the status).
	Message string
}

// CutMode says when a cut connection drops a request.
type CutMode int

const (
	// CutBeforeHandling drops the request unseen.
	CutBeforeHandling CutMode = iota
	// CutAfterHandling applies the request, then drops the response.
	CutAfterHandling
)

// Request is one request the server saw.
type Request struct {
	Method, Path string
	Status       int
}

// Options configure a Server.
type Options struct {
	// Now is the server's clock (rate-limit windows, commit dates); default
	// time.Now. Share it with the client's clock in tests.
	Now func() time.Time
	// ForkReadyAfter is how many GETs of a new fork answer 404 before it
	// appears (GitHub creates forks asynchronously).
	ForkReadyAfter int
	// RateLimit is X-RateLimit-Limit (default 5000).
	RateLimit int
	// MaxBlobSize is the largest blob accepted (default 100 MiB).
	MaxBlobSize int
}

// Server is the fake. All methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	accounts map[string]*Account // by token
	repos    map[string]*repo    // by lower-case owner/name
	nextID   int64
	faults   []*Fault
	requests []Request

	// rate limiting
	used          int
	windowReset   time.Time
	limitedUntil  time.Time // primary limit in force
	secondaryTill time.Time // secondary limit in force
	secondaryCode int

	cutAfter int // -1: no cut; else requests still served before cutting
	cutMode  CutMode
}

type repo struct {
	id            int64
	owner, name   string
	parent        *repo
	store         *objStore
	refs          map[string]string // "refs/heads/master" -> sha
	defaultBranch string
	pendingGets   int // GETs still answered 404 (fork being created)
	pulls         []*pull
	nextPull      int
}

func (r *repo) fullName() string { return r.owner + "/" + r.name }

func (r *repo) root() *repo {
	for r.parent != nil {
		r = r.parent
	}
	return r
}

type pull struct {
	number              int
	title, body         string
	state               string
	headRepo            *repo
	headRef             string
	baseRef             string
	maintainerCanModify bool
	createdAt           time.Time
	user                string
}

// New starts a server. Close it when done.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 5000
	}
	if opts.MaxBlobSize == 0 {
		opts.MaxBlobSize = 100 << 20
	}
	s := &Server{opts: opts, accounts: map[string]*Account{}, repos: map[string]*repo{}, cutAfter: -1}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the API base URL, with a trailing slash.
func (s *Server) URL() string { return s.srv.URL + "/" }

// Client is an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddAccount registers a user and the token that authenticates as them.
func (s *Server) AddAccount(token string, a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Email == "" {
		a.Email = a.Login + "@users.noreply.github.com"
	}
	s.accounts[token] = &a
}

// AddRepo creates owner/name with one commit on master holding files.
func (s *Server) AddRepo(owner, name string, files map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	r := &repo{id: s.nextID, owner: owner, name: name, store: newObjStore(), refs: map[string]string{}, defaultBranch: "master"}
	s.repos[strings.ToLower(r.fullName())] = r
	r.refs["refs/heads/master"] = s.commitFilesLocked(r, "", files, "Initial commit")
}

// CommitFiles adds a commit on top of branch of owner/name that writes
// files, as another contributor would; it returns the commit's SHA.
func (s *Server) CommitFiles(fullName, branch string, files map[string]string, message string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	sha := s.commitFilesLocked(r, r.refs["refs/heads/"+branch], files, message)
	r.refs["refs/heads/"+branch] = sha
	return sha
}

func (s *Server) commitFilesLocked(r *repo, parent string, files map[string]string, message string) string {
	st := r.root().store
	tree := st.putTree(nil)
	var parents []string
	if parent != "" {
		tree = st.commits[parent].Tree
		parents = []string{parent}
	}
	for p, content := range files {
		e := treeEntry{Mode: "100644", Type: "blob", SHA: st.putBlob([]byte(content))}
		tree, _ = st.edit(tree, strings.Split(p, "/"), &e)
	}
	sg := signature{Name: "Upstream Maintainer", Email: "maintainer@example.com", Date: s.opts.Now().UTC()}
	return st.putCommit(commitObj{Tree: tree, Parents: parents, Message: message, Author: sg, Committer: sg}).SHA
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// CutAfter lets n more requests through, then drops the connection of
// every later request until Restore, like a network that went down.
func (s *Server) CutAfter(n int, mode CutMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutAfter, s.cutMode = n, mode
}

// Restore ends a cut.
func (s *Server) Restore() { s.CutAfter(-1, CutBeforeHandling) }

// Requests returns the requests served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Ref returns the SHA a ref of owner/name points at ("" if none).
func (s *Server) Ref(fullName, ref string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repos[strings.ToLower(fullName)]; r != nil {
		return r.refs[ref]
	}
	return ""
}

// RepoExists reports whether owner/name exists (even if still being forked).
func (s *Server) RepoExists(fullName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[strings.ToLower(fullName)] != nil
}

// Commit describes a commit for test assertions.
type Commit struct {
	SHA, Tree, Message         string
	Parents                    []string
	AuthorName, AuthorEmail    string
	Files                      map[string]string // the whole tree, path -> content
	ChangedFromFirstParent     []string
	CommitterName, CommitEmail string
}

// CommitInfo returns the commit sha of owner/name's network.
func (s *Server) CommitInfo(fullName, sha string) (Commit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return Commit{}, false
	}
	st := r.root().store
	c, ok := st.commits[sha]
	if !ok {
		return Commit{}, false
	}
	files := map[string]string{}
	st.files(c.Tree, "", files)
	out := Commit{SHA: c.SHA, Tree: c.Tree, Message: c.Message, Parents: c.Parents, AuthorName: c.Author.Name,
		AuthorEmail: c.Author.Email, CommitterName: c.Committer.Name, CommitEmail: c.Committer.Email, Files: files}
	if len(c.Parents) > 0 {
		before := map[string]string{}
		st.files(st.commits[c.Parents[0]].Tree, "", before)
		for p, v := range files {
			if before[p] != v {
				out.ChangedFromFirstParent = append(out.ChangedFromFirstParent, p)
			}
		}
		for p := range before {
			if _, ok := files[p]; !ok {
				out.ChangedFromFirstParent = append(out.ChangedFromFirstParent, p)
			}
		}
	}
	return out, true
}

// Pull describes a pull request for test assertions.
type Pull struct {
	Number              int
	Title, Body, State  string
	Head                string // owner:branch
	HeadSHA             string
	Base                string
	Commits             []string // SHAs in head not in base
	MaintainerCanModify bool
}

// Pulls lists the pull requests of owner/name, oldest first.
func (s *Server) Pulls(fullName string) []Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(fullName)]
	if r == nil {
		return nil
	}
	var out []Pull
	for _, p := range r.pulls {
		head := p.headRepo.refs["refs/heads/"+p.headRef]
		pp := Pull{Number: p.number, Title: p.title, Body: p.body, State: p.state, Head: p.headRepo.owner + ":" + p.headRef,
			HeadSHA: head, Base: p.baseRef, MaintainerCanModify: p.maintainerCanModify}
		for _, c := range r.store.between(r.refs["refs/heads/"+p.baseRef], head) {
			pp.Commits = append(pp.Commits, c.SHA)
		}
		out = append(out, pp)
	}
	return out
}

// AllContent returns every blob, commit message and pull request text the
// server holds, for leak checks.
func (s *Server) AllContent() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	for _, r := range s.repos {
		for _, blob := range r.store.blobs {
			b.Write(blob)
		}
		for _, c := range r.store.commits {
			b.WriteString(c.Message + c.Author.Name + c.Author.Email)
		}
		for _, p := range r.pulls {
			b.WriteString(p.title + p.body)
		}
	}
	return b.Bytes()
}

// ---- HTTP ----

type apiError struct {
	status  int
	message string
	errors  []map[string]string
	docURL  string
	header  map[string]string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

func notFound() *apiError {
	return &apiError{status: 404, message: "Not Found", docURL: "https://docs.github.com/rest"}
}

func validation(code, msg string) *apiError {
	return &apiError{status: 422, message: "Validation Failed",
		errors: []map[string]string{{"resource": "PullRequest", "code": code, "message": msg}},
		docURL: "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}
}

type response struct {
	status int
	body   any
	header http.Header
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	cut := false
	if s.cutAfter == 0 {
		cut = true
	} else if s.cutAfter > 0 {
		s.cutAfter--
	}
	mode := s.cutMode
	s.mu.Unlock()
	if cut && mode == CutBeforeHandling {
		hangUp(w)
		return
	}
	rec := httptest.NewRecorder()
	s.handle(rec, r)
	if cut {
		hangUp(w)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("githubfake: response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/api/v3")
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.route(r, p)
	h := w.Header()
	s.rateHeaders(h)
	status := 0
	if err != nil {
		status = err.status
		for k, v := range err.header {
			h.Set(k, v)
		}
		body := map[string]any{"message": err.message, "documentation_url": err.docURL}
		if err.docURL == "" {
			body["documentation_url"] = "https://docs.github.com/rest"
		}
		if len(err.errors) > 0 {
			body["errors"] = err.errors
		}
		writeJSON(w, status, body)
	} else {
		status = res.status
		for k, v := range res.header {
			h[k] = v
		}
		writeJSON(w, status, res.body)
	}
	s.requests = append(s.requests, Request{Method: r.Method, Path: p, Status: status})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func (s *Server) rateHeaders(h http.Header) {
	now := s.opts.Now()
	remaining := s.opts.RateLimit - s.used
	reset := s.windowReset
	if now.Before(s.limitedUntil) {
		remaining, reset = 0, s.limitedUntil
	}
	if remaining < 0 {
		remaining = 0
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.used))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%d", len(s.requests)+1))
}

// limits applies the rate-limit state and the injected faults.
func (s *Server) limits(method, p string) *apiError {
	now := s.opts.Now()
	if now.After(s.windowReset) {
		s.used, s.windowReset = 0, now.Add(time.Hour)
	}
	if now.Before(s.limitedUntil) {
		return &apiError{status: 403, message: "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE.",
			docURL: "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}
	}
	if now.Before(s.secondaryTill) {
		secs := int(s.secondaryTill.Sub(now).Seconds() + 0.999)
		return &apiError{status: s.secondaryCode, message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			docURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
			header: map[string]string{"Retry-After": strconv.Itoa(secs)}}
	}
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Path != "" {
			if ok, _ := path.Match(f.Path, p); !ok {
				continue
			}
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		switch {
		case f.PrimaryReset > 0:
			s.limitedUntil = now.Add(f.PrimaryReset)
			return &apiError{status: orDefault(f.Status, 403), message: orText(f.Message, "API rate limit exceeded for user ID 1."),
				docURL: "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}
		case f.RetryAfter > 0:
			s.secondaryTill, s.secondaryCode = now.Add(time.Duration(f.RetryAfter)*time.Second), orDefault(f.Status, 403)
			return &apiError{status: s.secondaryCode, message: orText(f.Message, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
				docURL: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
				header: map[string]string{"Retry-After": strconv.Itoa(f.RetryAfter)}}
		default:
			return &apiError{status: f.Status, message: orText(f.Message, http.StatusText(f.Status))}
		}
	}
	s.used++
	return nil
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orText(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func (s *Server) account(r *http.Request) (*Account, *apiError) {
	auth := r.Header.Get("Authorization")
	token := strings.TrimPrefix(strings.TrimPrefix(auth, "Bearer "), "token ")
	a := s.accounts[token]
	if auth == "" || a == nil {
		return nil, &apiError{status: 401, message: "Bad credentials", docURL: "https://docs.github.com/rest"}
	}
	return a, nil
}

func decode(r *http.Request, v any) *apiError {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return errorf(400, "Problems parsing JSON")
	}
	return nil
}

func (s *Server) route(r *http.Request, p string) (*response, *apiError) {
	a, err := s.account(r)
	if err != nil {
		return nil, err
	}
	if err := s.limits(r.Method, p); err != nil {
		return nil, err
	}
	hdr := http.Header{}
	if a.Scopes != nil {
		hdr.Set("X-OAuth-Scopes", *a.Scopes)
		hdr.Set("X-Accepted-OAuth-Scopes", "repo")
	}
	res, apiErr := s.dispatch(r, p, a)
	if apiErr != nil {
		if apiErr.header == nil {
			apiErr.header = map[string]string{}
		}
		for k := range hdr {
			apiErr.header[k] = hdr.Get(k)
		}
		return nil, apiErr
	}
	if res.header == nil {
		res.header = http.Header{}
	}
	for k, v := range hdr {
		res.header[k] = v
	}
	return res, nil
}

func (s *Server) dispatch(r *http.Request, p string, a *Account) (*response, *apiError) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if p == "/user" && r.Method == http.MethodGet {
		return &response{status: 200, body: map[string]any{"login": a.Login, "id": 1, "type": "User", "email": a.Email}}, nil
	}
	if len(parts) < 3 || parts[0] != "repos" {
		return nil, notFound()
	}
	rp := s.repos[strings.ToLower(parts[1]+"/"+parts[2])]
	if rp == nil {
		return nil, notFound()
	}
	if rp.pendingGets > 0 {
		if r.Method == http.MethodGet && len(parts) == 3 {
			rp.pendingGets--
		}
		return nil, notFound()
	}
	rest := parts[3:]
	seg := func(i int) string {
		if i < len(rest) {
			return rest[i]
		}
		return ""
	}
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		return &response{status: 200, body: s.repoJSON(rp)}, nil
	case seg(0) == "forks" && len(rest) == 1 && r.Method == http.MethodPost:
		return s.createFork(r, rp, a)
	case seg(0) == "merge-upstream" && r.Method == http.MethodPost:
		return s.mergeUpstream(r, rp, a)
	case seg(0) == "contents" && r.Method == http.MethodGet:
		return s.getContents(r, rp, strings.Join(rest[1:], "/"))
	case seg(0) == "git":
		return s.gitAPI(r, rp, a, rest[1:])
	case seg(0) == "pulls":
		return s.pullsAPI(r, rp, a, rest[1:])
	}
	return nil, notFound()
}

func (s *Server) canWrite(rp *repo, a *Account) *apiError {
	if a.Scopes != nil && !hasScope(*a.Scopes, "public_repo") && !hasScope(*a.Scopes, "repo") {
		return &apiError{status: 403, message: "Resource not accessible by personal access token",
			header: map[string]string{"X-Accepted-OAuth-Scopes": "public_repo, repo"}}
	}
	if !strings.EqualFold(rp.owner, a.Login) {
		return &apiError{status: 403, message: "Resource not accessible by personal access token"}
	}
	return nil
}

func hasScope(scopes, want string) bool {
	for _, sc := range strings.Split(scopes, ",") {
		if strings.TrimSpace(sc) == want {
			return true
		}
	}
	return false
}

func (s *Server) baseURL(r *http.Request) string {
	return "http://" + r.Host + "/api/v3"
}

func (s *Server) repoJSON(rp *repo) map[string]any {
	m := map[string]any{
		"id": rp.id, "name": rp.name, "full_name": rp.fullName(), "fork": rp.parent != nil,
		"owner":          map[string]any{"login": rp.owner, "type": "User"},
		"default_branch": rp.defaultBranch, "private": false,
		"html_url": "https://github.example/" + rp.fullName(),
	}
	if rp.parent != nil {
		m["parent"] = s.repoJSON(rp.parent)
		m["source"] = s.repoJSON(rp.root())
	}
	return m
}

func (s *Server) createFork(r *http.Request, up *repo, a *Account) (*response, *apiError) {
	var req struct {
		Organization      string `json:"organization"`
		Name              string `json:"name"`
		DefaultBranchOnly bool   `json:"default_branch_only"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return nil, err
		}
	}
	if a.Scopes != nil && !hasScope(*a.Scopes, "public_repo") && !hasScope(*a.Scopes, "repo") {
		return nil, &apiError{status: 403, message: "Resource not accessible by personal access token",
			header: map[string]string{"X-Accepted-OAuth-Scopes": "public_repo, repo"}}
	}
	owner := a.Login
	if req.Organization != "" {
		owner = req.Organization
	}
	// An existing fork in the same network is returned as is.
	for _, rp := range s.repos {
		if strings.EqualFold(rp.owner, owner) && rp.root() == up.root() && rp != up.root() {
			return &response{status: 202, body: s.repoJSON(rp)}, nil
		}
	}
	name := up.name
	if req.Name != "" {
		name = req.Name
	}
	for i := 1; s.repos[strings.ToLower(owner+"/"+name)] != nil; i++ {
		name = fmt.Sprintf("%s-%d", up.name, i)
	}
	s.nextID++
	fork := &repo{id: s.nextID, owner: owner, name: name, parent: up, store: up.root().store, refs: map[string]string{},
		defaultBranch: up.defaultBranch, pendingGets: s.opts.ForkReadyAfter}
	for ref, sha := range up.refs {
		if !req.DefaultBranchOnly || ref == "refs/heads/"+up.defaultBranch {
			fork.refs[ref] = sha
		}
	}
	s.repos[strings.ToLower(fork.fullName())] = fork
	return &response{status: 202, body: s.repoJSON(fork)}, nil
}

func (s *Server) mergeUpstream(r *http.Request, rp *repo, a *Account) (*response, *apiError) {
	if err := s.canWrite(rp, a); err != nil {
		return nil, err
	}
	var req struct {
		Branch string `json:"branch"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if rp.parent == nil {
		return nil, errorf(422, "This repository is not a fork")
	}
	ref := "refs/heads/" + req.Branch
	mine, theirs := rp.refs[ref], rp.parent.refs[ref]
	if mine == "" || theirs == "" {
		return nil, errorf(422, "Branch %s not found", req.Branch)
	}
	base := rp.parent.owner + ":" + req.Branch
	switch {
	case mine == theirs || rp.store.isAncestor(theirs, mine):
		return &response{status: 200, body: map[string]any{"message": "This branch is not behind the upstream " + base + ".", "merge_type": "none", "base_branch": base}}, nil
	case rp.store.isAncestor(mine, theirs):
		rp.refs[ref] = theirs
		return &response{status: 200, body: map[string]any{"message": "Successfully fetched and fast-forwarded from upstream " + base + ".", "merge_type": "fast-forward", "base_branch": base}}, nil
	}
	return nil, errorf(409, "There are merge conflicts")
}

func (s *Server) getContents(r *http.Request, rp *repo, p string) (*response, *apiError) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rp.defaultBranch
	}
	sha := rp.refs["refs/heads/"+ref]
	if sha == "" {
		sha = ref
	}
	c := rp.store.commits[sha]
	if c == nil {
		return nil, notFound()
	}
	e, ok := rp.store.lookup(c.Tree, p)
	if !ok || e.Type != "blob" {
		return nil, notFound()
	}
	content := rp.store.blobs[e.SHA]
	return &response{status: 200, body: map[string]any{"type": "file", "encoding": "base64", "size": len(content),
		"name": path.Base(p), "path": p, "sha": e.SHA, "content": base64Lines(content)}}, nil
}
