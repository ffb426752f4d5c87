package imagemap

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/confrun/confrun/internal/atomicfile"
	"github.com/confrun/confrun/internal/release"
)

// RepoList is the e2e repo list of a map: the YAML file that
// KUBE_TEST_REPO_LIST names (sonobuoy --e2e-repo-config, hydrophone
// --test-repo-list). Each key of the release's RegistryList replaces one
// registry prefix; it cannot rename repositories or change tags.
type RepoList struct {
	Release release.Release `json:"release"`
	// Entries are the keys whose registry changes, in RegistryList order.
	Entries []RepoListEntry `json:"entries"`
}

// RepoListEntry is one key of the repo list.
type RepoListEntry struct {
	Key      string `json:"key"`
	Registry string `json:"registry"`
	// Default is the upstream registry it replaces.
	Default string `json:"default"`
}

// RepoList derives the repo list from the map, given the release's keys
// (inventory.RegistryKeys). It fails, listing every reason, when some
// pulled image is mapped in a way a repo list cannot express: a renamed
// repository or tag, two targets for one key, or an image no key moves.
func (m *Map) RepoList(keys []release.RegistryKey) (*RepoList, error) {
	byKey := map[string]release.RegistryKey{}
	for _, k := range keys {
		byKey[k.Key] = k
	}
	prefix := map[string]string{}
	first := map[string]string{}
	var problems []string
	for _, e := range m.file.Images {
		if !e.Pull {
			continue
		}
		if e.RegistryKey == "" {
			if e.Target != e.Upstream && e.Kind != "run" {
				problems = append(problems, fmt.Sprintf("%s: no repo-list key of %s moves this image", e.Upstream, m.release))
			}
			continue
		}
		k, ok := byKey[e.RegistryKey]
		if !ok || !strings.HasPrefix(e.Upstream, k.Default+"/") {
			problems = append(problems, fmt.Sprintf("%s: its key %s is not a registry of %s", e.Upstream, e.RegistryKey, m.release))
			continue
		}
		rest := strings.TrimPrefix(e.Upstream, k.Default+"/")
		if !strings.HasSuffix(e.Target, "/"+rest) {
			problems = append(problems, fmt.Sprintf("%s -> %s: renames %s; a repo list only replaces %s", e.Upstream, e.Target, rest, k.Default))
			continue
		}
		p := strings.TrimSuffix(e.Target, "/"+rest)
		if have, ok := prefix[k.Key]; ok && have != p {
			problems = append(problems, fmt.Sprintf("%s: %s goes to %s but %s to %s; one key has one registry", k.Key, first[k.Key], have, e.Upstream, p))
			continue
		}
		prefix[k.Key], first[k.Key] = p, e.Upstream
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the map cannot be written as an e2e repo list (use `confrun images mirror` to copy the images under upstream paths, or pre-pull them under their upstream names):\n  %s",
			strings.Join(problems, "\n  "))
	}
	l := &RepoList{Release: m.release}
	for _, k := range keys {
		if p, ok := prefix[k.Key]; ok && p != k.Default {
			l.Entries = append(l.Entries, RepoListEntry{Key: k.Key, Registry: p, Default: k.Default})
		}
	}
	return l, nil
}

// Marshal renders the repo list as the YAML upstream's manifest.go reads.
func (l *RepoList) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# e2e repo list (KUBE_TEST_REPO_LIST) for Kubernetes %s, made by confrun.\n", l.Release)
	b.WriteString("# Use: sonobuoy run --e2e-repo-config FILE, hydrophone --test-repo-list FILE.\n")
	if len(l.Entries) == 0 {
		b.WriteString("# Every image stays in its upstream registry.\n{}\n")
		return b.Bytes()
	}
	for _, e := range l.Entries {
		fmt.Fprintf(&b, "%s: %q # was %s\n", e.Key, e.Registry, e.Default)
	}
	return b.Bytes()
}

// WriteFile writes the repo list atomically; an existing file is replaced
// only with force.
func (l *RepoList) WriteFile(path string, force bool) error {
	return atomicfile.WriteFile(path, l.Marshal(), atomicfile.Options{Force: force})
}
