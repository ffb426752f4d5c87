package githubfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 {
		sb.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	sb.WriteString(enc + "\n")
	return sb.String()
}

func (s *Server) refJSON(r *http.Request, rp *repo, ref, sha string) map[string]any {
	return map[string]any{"ref": ref, "node_id": "REF_" + sha[:7],
		"url":    s.baseURL(r) + "/repos/" + rp.fullName() + "/git/" + ref,
		"object": map[string]any{"type": "commit", "sha": sha, "url": s.baseURL(r) + "/repos/" + rp.fullName() + "/git/commits/" + sha}}
}

func (s *Server) commitJSON(r *http.Request, rp *repo, c *commitObj) map[string]any {
	var parents []map[string]any
	for _, p := range c.Parents {
		parents = append(parents, map[string]any{"sha": p, "url": s.baseURL(r) + "/repos/" + rp.fullName() + "/git/commits/" + p})
	}
	sig := func(sg signature) map[string]any {
		return map[string]any{"name": sg.Name, "email": sg.Email, "date": sg.Date.UTC().Format(time.RFC3339)}
	}
	return map[string]any{"sha": c.SHA, "node_id": "C_" + c.SHA[:7], "url": s.baseURL(r) + "/repos/" + rp.fullName() + "/git/commits/" + c.SHA,
		"author": sig(c.Author), "committer": sig(c.Committer), "message": c.Message,
		"tree":    map[string]any{"sha": c.Tree, "url": s.baseURL(r) + "/repos/" + rp.fullName() + "/git/trees/" + c.Tree},
		"parents": parents, "verification": map[string]any{"verified": false, "reason": "unsigned"}}
}

func (s *Server) gitAPI(r *http.Request, rp *repo, a *Account, rest []string) (*response, *apiError) {
	st := rp.store
	kind := ""
	if len(rest) > 0 {
		kind = rest[0]
	}
	arg := ""
	if len(rest) > 1 {
		arg = strings.Join(rest[1:], "/")
	}
	if r.Method != http.MethodGet {
		if err := s.canWrite(rp, a); err != nil {
			return nil, err
		}
	}
	switch {
	case (kind == "ref" || kind == "refs") && r.Method == http.MethodGet && arg != "":
		ref := "refs/" + arg
		sha, ok := rp.refs[ref]
		if !ok {
			return nil, notFound()
		}
		return &response{status: 200, body: s.refJSON(r, rp, ref, sha)}, nil
	case kind == "refs" && r.Method == http.MethodPost && arg == "":
		var req struct{ Ref, SHA string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(req.Ref, "refs/") || strings.Count(req.Ref, "/") < 2 {
			return nil, errorf(422, "Reference name is invalid")
		}
		if _, ok := st.commits[req.SHA]; !ok {
			return nil, errorf(422, "Object does not exist")
		}
		if _, ok := rp.refs[req.Ref]; ok {
			return nil, errorf(422, "Reference already exists")
		}
		rp.refs[req.Ref] = req.SHA
		return &response{status: 201, body: s.refJSON(r, rp, req.Ref, req.SHA)}, nil
	case kind == "refs" && r.Method == http.MethodPatch && arg != "":
		var req struct {
			SHA   string `json:"sha"`
			Force bool   `json:"force"`
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		ref := "refs/" + arg
		old, ok := rp.refs[ref]
		if !ok {
			return nil, errorf(422, "Reference does not exist")
		}
		if _, ok := st.commits[req.SHA]; !ok {
			return nil, errorf(422, "Object does not exist")
		}
		if !req.Force && !st.isAncestor(old, req.SHA) {
			return nil, errorf(422, "Update is not a fast forward")
		}
		rp.refs[ref] = req.SHA
		return &response{status: 200, body: s.refJSON(r, rp, ref, req.SHA)}, nil
	case kind == "blobs" && r.Method == http.MethodPost && arg == "":
		var req struct{ Content, Encoding string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		content := []byte(req.Content)
		switch req.Encoding {
		case "", "utf-8":
		case "base64":
			b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(req.Content, "\n", ""))
			if err != nil {
				return nil, errorf(422, "content is not valid Base64")
			}
			content = b
		default:
			return nil, errorf(422, "encoding must be utf-8 or base64")
		}
		if len(content) > s.opts.MaxBlobSize {
			return nil, errorf(422, "content is too large")
		}
		sha := st.putBlob(content)
		return &response{status: 201, body: map[string]any{"sha": sha, "url": s.baseURL(r) + "/repos/" + rp.fullName() + "/git/blobs/" + sha}}, nil
	case kind == "blobs" && r.Method == http.MethodGet && arg != "":
		b, ok := st.blobs[arg]
		if !ok {
			return nil, notFound()
		}
		return &response{status: 200, body: map[string]any{"sha": arg, "size": len(b), "encoding": "base64", "content": base64Lines(b)}}, nil
	case kind == "trees" && r.Method == http.MethodPost && arg == "":
		return s.createTree(r, rp)
	case kind == "trees" && r.Method == http.MethodGet && arg != "":
		entries, ok := st.trees[arg]
		if !ok {
			return nil, notFound()
		}
		return &response{status: 200, body: s.treeJSON(r, rp, arg, entries, r.URL.Query().Get("recursive") != "")}, nil
	case kind == "commits" && r.Method == http.MethodPost && arg == "":
		var req struct {
			Message string   `json:"message"`
			Tree    string   `json:"tree"`
			Parents []string `json:"parents"`
			Author  *struct {
				Name, Email string
				Date        *time.Time
			} `json:"author"`
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		if _, ok := st.trees[req.Tree]; !ok {
			return nil, errorf(422, "Tree SHA does not exist")
		}
		for _, p := range req.Parents {
			if _, ok := st.commits[p]; !ok {
				return nil, errorf(422, "Parent SHA does not exist or is not a commit object")
			}
		}
		author := signature{Name: a.Login, Email: a.Email, Date: s.opts.Now().UTC()}
		if req.Author != nil {
			author.Name, author.Email = req.Author.Name, req.Author.Email
			if req.Author.Date != nil {
				author.Date = req.Author.Date.UTC()
			}
		}
		c := st.putCommit(commitObj{Tree: req.Tree, Parents: req.Parents, Message: req.Message, Author: author, Committer: author})
		return &response{status: 201, body: s.commitJSON(r, rp, c)}, nil
	case kind == "commits" && r.Method == http.MethodGet && arg != "":
		c, ok := st.commits[arg]
		if !ok {
			return nil, notFound()
		}
		return &response{status: 200, body: s.commitJSON(r, rp, c)}, nil
	}
	return nil, notFound()
}

func (s *Server) treeJSON(r *http.Request, rp *repo, sha string, entries []treeEntry, recursive bool) map[string]any {
	var list []map[string]any
	var walk func(prefix string, es []treeEntry)
	walk = func(prefix string, es []treeEntry) {
		for _, e := range es {
			m := map[string]any{"path": prefix + e.Name, "mode": e.Mode, "type": e.Type, "sha": e.SHA}
			if e.Type == "blob" {
				m["size"] = len(rp.store.blobs[e.SHA])
			}
			list = append(list, m)
			if recursive && e.Type == "tree" {
				walk(prefix+e.Name+"/", rp.store.trees[e.SHA])
			}
		}
	}
	walk("", entries)
	return map[string]any{"sha": sha, "url": s.baseURL(r) + "/repos/" + rp.fullName() + "/git/trees/" + sha, "tree": list, "truncated": false}
}

func (s *Server) createTree(r *http.Request, rp *repo) (*response, *apiError) {
	st := rp.store
	var req struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string  `json:"path"`
			Mode    string  `json:"mode"`
			Type    string  `json:"type"`
			SHA     *string `json:"sha"`
			Content *string `json:"content"`
		} `json:"tree"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	root := st.putTree(nil)
	if req.BaseTree != "" {
		if _, ok := st.trees[req.BaseTree]; !ok {
			return nil, errorf(422, "base_tree is not a valid tree oid")
		}
		root = req.BaseTree
	}
	for i, e := range req.Tree {
		if e.Path == "" || strings.HasPrefix(e.Path, "/") || strings.Contains(e.Path, "//") {
			return nil, errorf(422, "tree.path contains a malformed path component")
		}
		var entry *treeEntry
		switch {
		case e.Content != nil:
			entry = &treeEntry{Mode: e.Mode, Type: "blob", SHA: st.putBlob([]byte(*e.Content))}
		case e.SHA != nil:
			if _, ok := st.blobs[*e.SHA]; !ok && e.Type == "blob" {
				return nil, errorf(422, "tree.sha %s is not a valid blob", *e.SHA)
			}
			entry = &treeEntry{Mode: e.Mode, Type: e.Type, SHA: *e.SHA}
		}
		if entry != nil && entry.Mode != "100644" && entry.Mode != "100755" && entry.Mode != "040000" && entry.Mode != "120000" && entry.Mode != "160000" {
			return nil, errorf(422, "tree[%d].mode %q is invalid", i, e.Mode)
		}
		newRoot, err := st.edit(root, strings.Split(e.Path, "/"), entry)
		if err != nil {
			return nil, errorf(422, "tree[%d]: %v", i, err)
		}
		root = newRoot
	}
	return &response{status: 201, body: s.treeJSON(r, rp, root, st.trees[root], false)}, nil
}

func (s *Server) pullJSON(r *http.Request, up *repo, p *pull) map[string]any {
	headSHA := p.headRepo.refs["refs/heads/"+p.headRef]
	baseSHA := up.refs["refs/heads/"+p.baseRef]
	return map[string]any{
		"id": p.number * 1000, "number": p.number, "state": p.state, "title": p.title, "body": p.body,
		"url":      s.baseURL(r) + "/repos/" + up.fullName() + "/pulls/" + strconv.Itoa(p.number),
		"html_url": "https://github.example/" + up.fullName() + "/pull/" + strconv.Itoa(p.number),
		"user":     map[string]any{"login": p.user},
		"head": map[string]any{"label": p.headRepo.owner + ":" + p.headRef, "ref": p.headRef, "sha": headSHA,
			"repo": s.repoJSON(p.headRepo), "user": map[string]any{"login": p.headRepo.owner}},
		"base":                  map[string]any{"label": up.owner + ":" + p.baseRef, "ref": p.baseRef, "sha": baseSHA, "repo": s.repoJSON(up)},
		"maintainer_can_modify": p.maintainerCanModify,
		"commits":               len(up.store.between(baseSHA, headSHA)),
		"created_at":            p.createdAt.UTC().Format(time.RFC3339),
	}
}

func (s *Server) pullsAPI(r *http.Request, up *repo, a *Account, rest []string) (*response, *apiError) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		return s.listPulls(r, up)
	case len(rest) == 0 && r.Method == http.MethodPost:
		return s.createPull(r, up, a)
	}
	n, err := strconv.Atoi(rest[0])
	if err != nil {
		return nil, notFound()
	}
	var p *pull
	for _, q := range up.pulls {
		if q.number == n {
			p = q
		}
	}
	if p == nil {
		return nil, notFound()
	}
	switch {
	case len(rest) == 1 && r.Method == http.MethodGet:
		return &response{status: 200, body: s.pullJSON(r, up, p)}, nil
	case len(rest) == 1 && r.Method == http.MethodPatch:
		if !strings.EqualFold(a.Login, p.user) && !strings.EqualFold(a.Login, up.owner) {
			return nil, errorf(403, "Resource not accessible by personal access token")
		}
		var req struct {
			Title, Body, State *string
		}
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		if req.Title != nil {
			p.title = *req.Title
		}
		if req.Body != nil {
			p.body = *req.Body
		}
		if req.State != nil {
			p.state = *req.State
		}
		return &response{status: 200, body: s.pullJSON(r, up, p)}, nil
	case len(rest) == 2 && rest[1] == "commits" && r.Method == http.MethodGet:
		var list []map[string]any
		cs := up.store.between(up.refs["refs/heads/"+p.baseRef], p.headRepo.refs["refs/heads/"+p.headRef])
		for i := len(cs) - 1; i >= 0; i-- {
			list = append(list, map[string]any{"sha": cs[i].SHA, "commit": s.commitJSON(r, up, cs[i])})
		}
		return &response{status: 200, body: list}, nil
	}
	return nil, notFound()
}

func (s *Server) listPulls(r *http.Request, up *repo) (*response, *apiError) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var matched []*pull
	for _, p := range up.pulls {
		if state != "all" && p.state != state {
			continue
		}
		if h := q.Get("head"); h != "" {
			owner, ref, ok := strings.Cut(h, ":")
			if !ok || !strings.EqualFold(owner, p.headRepo.owner) || ref != p.headRef {
				continue
			}
		}
		if b := q.Get("base"); b != "" && b != p.baseRef {
			continue
		}
		matched = append(matched, p)
	}
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].number > matched[j].number }) // newest first
	perPage := 30
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	last := max(1, (len(matched)+perPage-1)/perPage)
	from := min((page-1)*perPage, len(matched))
	to := min(from+perPage, len(matched))
	list := []map[string]any{}
	for _, p := range matched[from:to] {
		list = append(list, s.pullJSON(r, up, p))
	}
	h := http.Header{}
	if link := linkHeader(s.baseURL(r)+r.URL.Path[strings.Index(r.URL.Path, "/repos/"):], q, page, last); link != "" {
		h.Set("Link", link)
	}
	return &response{status: 200, body: list, header: h}, nil
}

func linkHeader(base string, q url.Values, page, last int) string {
	mk := func(p int, rel string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(p))
		return fmt.Sprintf("<%s?%s>; rel=%q", base, v.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, mk(page+1, "next"), mk(last, "last"))
	}
	if page > 1 {
		links = append(links, mk(1, "first"), mk(page-1, "prev"))
	}
	return strings.Join(links, ", ")
}

func (s *Server) createPull(r *http.Request, up *repo, a *Account) (*response, *apiError) {
	var req struct {
		Title               string `json:"title"`
		Head                string `json:"head"`
		Base                string `json:"base"`
		Body                string `json:"body"`
		MaintainerCanModify *bool  `json:"maintainer_can_modify"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if a.Scopes != nil && !hasScope(*a.Scopes, "public_repo") && !hasScope(*a.Scopes, "repo") {
		return nil, &apiError{status: 403, message: "Resource not accessible by personal access token",
			header: map[string]string{"X-Accepted-OAuth-Scopes": "public_repo, repo"}}
	}
	if req.Title == "" {
		return nil, validation("missing_field", "title")
	}
	owner, ref, ok := strings.Cut(req.Head, ":")
	if !ok {
		owner, ref = up.owner, req.Head
	}
	var head *repo
	for _, rp := range s.repos {
		if strings.EqualFold(rp.owner, owner) && rp.root() == up.root() && rp.pendingGets == 0 {
			head = rp
		}
	}
	if head == nil || head.refs["refs/heads/"+ref] == "" {
		return nil, &apiError{status: 422, message: "Validation Failed",
			errors: []map[string]string{{"resource": "PullRequest", "field": "head", "code": "invalid"}}}
	}
	if up.refs["refs/heads/"+req.Base] == "" {
		return nil, &apiError{status: 422, message: "Validation Failed",
			errors: []map[string]string{{"resource": "PullRequest", "field": "base", "code": "invalid"}}}
	}
	for _, p := range up.pulls {
		if p.state == "open" && p.headRepo == head && p.headRef == ref && p.baseRef == req.Base {
			return nil, validation("custom", fmt.Sprintf("A pull request already exists for %s:%s.", head.owner, ref))
		}
	}
	if len(up.store.between(up.refs["refs/heads/"+req.Base], head.refs["refs/heads/"+ref])) == 0 {
		return nil, validation("custom", fmt.Sprintf("No commits between %s and %s:%s", req.Base, head.owner, ref))
	}
	up.nextPull++
	p := &pull{number: up.nextPull, title: req.Title, body: req.Body, state: "open", headRepo: head, headRef: ref,
		baseRef: req.Base, maintainerCanModify: req.MaintainerCanModify != nil && *req.MaintainerCanModify,
		createdAt: s.opts.Now(), user: a.Login}
	up.pulls = append(up.pulls, p)
	return &response{status: 201, body: s.pullJSON(r, up, p)}, nil
}

// OpenPull opens a pull request from another user's fork branch, for
// pagination tests: it creates the fork and a commit as needed.
func (s *Server) OpenPull(upstream, user, branch, title string) int {
	s.mu.Lock()
	up := s.repos[strings.ToLower(upstream)]
	s.mu.Unlock()
	forkName := user + "/" + up.name
	if !s.RepoExists(forkName) {
		s.mu.Lock()
		s.nextID++
		fork := &repo{id: s.nextID, owner: user, name: up.name, parent: up, store: up.root().store, refs: map[string]string{}, defaultBranch: up.defaultBranch}
		for k, v := range up.refs {
			fork.refs[k] = v
		}
		s.repos[strings.ToLower(forkName)] = fork
		s.mu.Unlock()
	}
	s.mu.Lock()
	fork := s.repos[strings.ToLower(forkName)]
	fork.refs["refs/heads/"+branch] = up.refs["refs/heads/"+up.defaultBranch]
	s.mu.Unlock()
	s.CommitFiles(forkName, branch, map[string]string{"v1.34/" + user + "-" + branch + "/README.md": title}, title)
	s.mu.Lock()
	defer s.mu.Unlock()
	up.nextPull++
	up.pulls = append(up.pulls, &pull{number: up.nextPull, title: title, state: "open", headRepo: fork, headRef: branch,
		baseRef: up.defaultBranch, createdAt: s.opts.Now(), user: user})
	return up.nextPull
}
