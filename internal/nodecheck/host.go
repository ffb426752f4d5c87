package nodecheck

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// host reads a machine's files below a root directory. Paths given to it
// are relative to that root ("proc/cgroups"); evidence names them as the
// node sees them ("/proc/cgroups").
type host struct {
	root    string
	release string
}

func (h *host) path(rel string) string { return filepath.Join(h.root, filepath.FromSlash(rel)) }

func (h *host) read(rel string) ([]byte, error) { return os.ReadFile(h.path(rel)) }

func (h *host) exists(rel string) bool {
	_, err := os.Stat(h.path(rel))
	return err == nil
}

func (h *host) isDir(rel string) bool {
	fi, err := os.Stat(h.path(rel))
	return err == nil && fi.IsDir()
}

// lines returns the non-empty lines of a file.
func (h *host) lines(rel string) ([]string, error) {
	data, err := h.read(rel)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// words returns the whitespace-separated words of a one-line file.
func (h *host) words(rel string) ([]string, error) {
	data, err := h.read(rel)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(data)), nil
}

func (h *host) readTrim(rel string) string {
	data, err := h.read(rel)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// disp is how evidence names a file: the node's own path.
func disp(rel string) string { return "/" + path.Clean(rel) }

// modules knows the loadable modules of the running kernel: which exist in
// the module tree, which are built in, which are loaded.
type modules struct {
	// dir is the module tree relative to the root, "" when there is none.
	dir     string
	files   map[string]string // module name -> path relative to root
	builtin map[string]bool
	// loaded is nil when /proc/modules could not be read.
	loaded map[string]bool
	// sysfs lists /sys/module entries (loaded modules and built-ins with
	// parameters).
	sysfs map[string]bool
}

func normModule(name string) string { return strings.ReplaceAll(name, "-", "_") }

// moduleBase turns "kernel/net/netfilter/xt_comment.ko.xz" into "xt_comment".
func moduleBase(p string) string {
	b := path.Base(strings.TrimSpace(p))
	i := strings.Index(b, ".ko")
	if i < 0 {
		return ""
	}
	return normModule(b[:i])
}

func (h *host) loadModules() *modules {
	m := &modules{files: map[string]string{}, builtin: map[string]bool{}, sysfs: map[string]bool{}}
	for _, d := range []string{"lib/modules/" + h.release, "usr/lib/modules/" + h.release} {
		if h.release != "" && h.isDir(d) {
			m.dir = d
			break
		}
	}
	if m.dir != "" {
		if deps, err := h.lines(m.dir + "/modules.dep"); err == nil {
			for _, l := range deps {
				file, _, _ := strings.Cut(l, ":")
				if n := moduleBase(file); n != "" {
					m.files[n] = m.dir + "/" + strings.TrimSpace(file)
				}
			}
		} else {
			_ = filepath.WalkDir(h.path(m.dir), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				if n := moduleBase(d.Name()); n != "" {
					rel, _ := filepath.Rel(h.root, p)
					m.files[n] = filepath.ToSlash(rel)
				}
				return nil
			})
		}
		if bi, err := h.lines(m.dir + "/modules.builtin"); err == nil {
			for _, l := range bi {
				if n := moduleBase(l); n != "" {
					m.builtin[n] = true
				}
			}
		}
	}
	if lines, err := h.lines("proc/modules"); err == nil {
		m.loaded = map[string]bool{}
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 {
				m.loaded[normModule(f[0])] = true
			}
		}
	}
	if ents, err := os.ReadDir(h.path("sys/module")); err == nil {
		for _, e := range ents {
			m.sysfs[normModule(e.Name())] = true
		}
	}
	return m
}

// moduleCount returns how many module files the tree holds.
func (m *modules) moduleCount() int { return len(m.files) }

func (m *modules) loadedNames() []string {
	var out []string
	for n := range m.loaded {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
