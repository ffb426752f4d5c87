package githubfake

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The git object model of one repository network (a repository and its
// forks share objects, as on GitHub). Object IDs are real git SHA-1s.

type treeEntry struct {
	Name string
	Mode string // "100644", "100755", "040000", "120000", "160000"
	Type string // "blob", "tree", "commit"
	SHA  string
}

type signature struct {
	Name  string
	Email string
	Date  time.Time
}

type commitObj struct {
	SHA       string
	Tree      string
	Parents   []string
	Message   string
	Author    signature
	Committer signature
}

type objStore struct {
	blobs   map[string][]byte
	trees   map[string][]treeEntry
	commits map[string]*commitObj
}

func newObjStore() *objStore {
	return &objStore{blobs: map[string][]byte{}, trees: map[string][]treeEntry{}, commits: map[string]*commitObj{}}
}

func hashObject(kind string, body []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", kind, len(body))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// BlobSHA is git's object ID of a blob with content b.
func BlobSHA(b []byte) string { return hashObject("blob", b) }

func (s *objStore) putBlob(b []byte) string {
	sha := BlobSHA(b)
	if _, ok := s.blobs[sha]; !ok {
		s.blobs[sha] = append([]byte(nil), b...)
	}
	return sha
}

// gitSortKey orders tree entries the way git does: a tree sorts as if its
// name ended in "/".
func gitSortKey(e treeEntry) string {
	if e.Type == "tree" {
		return e.Name + "/"
	}
	return e.Name
}

func (s *objStore) putTree(entries []treeEntry) string {
	es := append([]treeEntry(nil), entries...)
	sort.Slice(es, func(i, j int) bool { return gitSortKey(es[i]) < gitSortKey(es[j]) })
	var body bytes.Buffer
	for _, e := range es {
		mode := strings.TrimPrefix(e.Mode, "0")
		raw, _ := hex.DecodeString(e.SHA)
		fmt.Fprintf(&body, "%s %s\x00", mode, e.Name)
		body.Write(raw)
	}
	sha := hashObject("tree", body.Bytes())
	s.trees[sha] = es
	return sha
}

func formatSig(sg signature) string {
	return fmt.Sprintf("%s <%s> %d +0000", sg.Name, sg.Email, sg.Date.Unix())
}

func (s *objStore) putCommit(c commitObj) *commitObj {
	var body strings.Builder
	fmt.Fprintf(&body, "tree %s\n", c.Tree)
	for _, p := range c.Parents {
		fmt.Fprintf(&body, "parent %s\n", p)
	}
	fmt.Fprintf(&body, "author %s\ncommitter %s\n\n%s", formatSig(c.Author), formatSig(c.Committer), c.Message)
	c.SHA = hashObject("commit", []byte(body.String()))
	if old, ok := s.commits[c.SHA]; ok {
		return old
	}
	cc := c
	s.commits[c.SHA] = &cc
	return &cc
}

// lookup finds the entry at path (slash separated) below tree root.
func (s *objStore) lookup(root, path string) (treeEntry, bool) {
	cur := treeEntry{Type: "tree", SHA: root, Mode: "040000"}
	for _, part := range strings.Split(path, "/") {
		if cur.Type != "tree" {
			return treeEntry{}, false
		}
		found := false
		for _, e := range s.trees[cur.SHA] {
			if e.Name == part {
				cur, found = e, true
				break
			}
		}
		if !found {
			return treeEntry{}, false
		}
	}
	return cur, true
}

// edit returns a new tree: root with entry set at path (nil removes it),
// creating the folders on the way.
func (s *objStore) edit(root string, path []string, entry *treeEntry) (string, error) {
	entries := append([]treeEntry(nil), s.trees[root]...)
	idx := -1
	for i, e := range entries {
		if e.Name == path[0] {
			idx = i
		}
	}
	if len(path) == 1 {
		if idx >= 0 {
			entries = append(entries[:idx], entries[idx+1:]...)
		}
		if entry != nil {
			e := *entry
			e.Name = path[0]
			entries = append(entries, e)
		}
		return s.putTree(entries), nil
	}
	sub := s.putTree(nil)
	if idx >= 0 {
		if entries[idx].Type != "tree" {
			return "", fmt.Errorf("%s is not a folder", path[0])
		}
		sub = entries[idx].SHA
		entries = append(entries[:idx], entries[idx+1:]...)
	}
	newSub, err := s.edit(sub, path[1:], entry)
	if err != nil {
		return "", err
	}
	if len(s.trees[newSub]) > 0 {
		entries = append(entries, treeEntry{Name: path[0], Mode: "040000", Type: "tree", SHA: newSub})
	}
	return s.putTree(entries), nil
}

// isAncestor reports whether commit a is reachable from commit b.
func (s *objStore) isAncestor(a, b string) bool {
	seen := map[string]bool{}
	stack := []string{b}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c == a {
			return true
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		if co, ok := s.commits[c]; ok {
			stack = append(stack, co.Parents...)
		}
	}
	return false
}

// between lists the commits reachable from head but not from base, newest
// first.
func (s *objStore) between(base, head string) []*commitObj {
	var out []*commitObj
	seen := map[string]bool{}
	stack := []string{head}
	for len(stack) > 0 {
		c := stack[0]
		stack = stack[1:]
		if seen[c] || s.isAncestor(c, base) {
			continue
		}
		seen[c] = true
		if co, ok := s.commits[c]; ok {
			out = append(out, co)
			stack = append(stack, co.Parents...)
		}
	}
	return out
}

// files flattens a tree to path -> content.
func (s *objStore) files(root, prefix string, out map[string]string) {
	for _, e := range s.trees[root] {
		p := prefix + e.Name
		if e.Type == "tree" {
			s.files(e.SHA, p+"/", out)
		} else {
			out[p] = string(s.blobs[e.SHA])
		}
	}
}
