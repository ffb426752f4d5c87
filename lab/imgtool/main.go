// Command imgtool builds the lab's container images from files, without a
// Docker engine, and pushes them to the lab registry as multi-arch indexes
// (linux/amd64 + linux/mips64le) under the names a mips64el porting team
// would use, e.g. 127.0.0.1:PORT/cke/kubernetes/agnhost-mips64el:2.56.
//
// Built images are kept as OCI layouts in -cache, keyed by a hash of their
// inputs, so a second run only pushes (and the registry skips blobs it has).
// It writes images.json: [{name, upstream, ref, platforms, digest}].
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// recipe changes whenever the content or layout of an image changes.
const recipe = "imgtool-3"

// archSuffix is the porting team's name for its architecture (Debian's).
const archSuffix = "mips64el"

var arches = []string{"amd64", "mips64le"}

type options struct {
	cache, bin, registry, out   string
	busybox                     map[string]string
	agnhostFiles                string
	k8sVersion, sonobuoyVersion string
	corednsVersion, only        string
	aliasPrefix                 string
}

// file is one entry of a layer.
type file struct {
	path string // in the image, without leading slash
	src  string // host file to copy (regular files)
	data []byte // literal content (when src is empty)
	link string // symlink target
	dir  bool
	mode int64
}

type spec struct {
	name, upstream, repo, tag string
	// arches overrides the default platforms (lab infrastructure only).
	arches []string
	// layers returns the layers (bottom first) for one architecture.
	layers func(arch string) ([][]file, error)
	config func(arch string) v1.Config
}

// Entry is one element of images.json.
type Entry struct {
	Name      string   `json:"name"`
	Upstream  string   `json:"upstream"`
	Ref       string   `json:"ref"`
	Platforms []string `json:"platforms"`
	Digest    string   `json:"digest"`
}

func main() {
	var o options
	bbAMD, bbMIPS := "", ""
	flag.StringVar(&o.cache, "cache", "", "directory for built OCI layouts")
	flag.StringVar(&o.bin, "bin", "", "directory with <arch>/ subdirectories of built programs")
	flag.StringVar(&o.registry, "registry", "", "lab registry host:port")
	flag.StringVar(&o.out, "out", "", "images.json to write")
	flag.StringVar(&bbAMD, "busybox-amd64", "/bin/busybox", "static busybox for amd64")
	flag.StringVar(&bbMIPS, "busybox-mips64le", "", "static busybox for mips64le (Debian busybox-static:mips64el)")
	flag.StringVar(&o.agnhostFiles, "agnhost-files", "", "test/images/agnhost/porter of the kubernetes module (localhost.crt/key)")
	flag.StringVar(&o.k8sVersion, "k8s-version", "v1.34.4", "Kubernetes version")
	flag.StringVar(&o.sonobuoyVersion, "sonobuoy-version", "v0.57.3", "sonobuoy version")
	flag.StringVar(&o.corednsVersion, "coredns-version", "v1.12.1", "CoreDNS version")
	flag.StringVar(&o.only, "only", "", "comma-separated image names to build (default all)")
	flag.StringVar(&o.aliasPrefix, "alias-prefix", "", "push under REGISTRY/PREFIX/<upstream path> instead (for KUBE_TEST_REPO_LIST); -out is not written")
	flag.Parse()
	o.busybox = map[string]string{"amd64": bbAMD, "mips64le": bbMIPS}
	if o.cache == "" || o.bin == "" || o.registry == "" || o.out == "" || bbMIPS == "" {
		log.Fatal("imgtool: -cache, -bin, -registry, -out and -busybox-mips64le are required")
	}
	if err := run(o); err != nil {
		log.Fatalf("imgtool: %v", err)
	}
}

func run(o options) error {
	applets, err := busyboxApplets(o.busybox["amd64"])
	if err != nil {
		return err
	}
	var entries []Entry
	for _, s := range specs(o, applets) {
		if o.only != "" && !contains(strings.Split(o.only, ","), s.name) {
			continue
		}
		t0 := time.Now()
		idx, err := buildCached(o, s)
		if err != nil {
			return fmt.Errorf("building %s: %w", s.name, err)
		}
		ref := fmt.Sprintf("%s/%s:%s", o.registry, s.repo, s.tag)
		if o.aliasPrefix != "" {
			// registry.k8s.io/e2e-test-images/agnhost:2.56 -> REGISTRY/PREFIX/e2e-test-images/agnhost:2.56
			path := s.upstream
			if i := strings.Index(path, "/"); i > 0 && strings.ContainsAny(path[:i], ".:") {
				path = path[i+1:]
			}
			ref = fmt.Sprintf("%s/%s/%s", o.registry, o.aliasPrefix, path)
		}
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", ref, err)
		}
		if err := pushRetry(r, idx); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		d, err := idx.Digest()
		if err != nil {
			return err
		}
		var plats []string
		for _, a := range s.platforms() {
			plats = append(plats, "linux/"+a)
		}
		entries = append(entries, Entry{Name: s.name, Upstream: s.upstream, Ref: ref, Platforms: plats, Digest: d.String()})
		log.Printf("%s -> %s@%s (%s)", s.upstream, ref, d, time.Since(t0).Round(time.Millisecond))
	}
	if o.aliasPrefix != "" {
		return nil
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	tmp := o.out + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, o.out)
}

func pushRetry(r name.Reference, idx v1.ImageIndex) error {
	var err error
	for i := 0; i < 3; i++ {
		if err = remote.WriteIndex(r, idx); err == nil {
			return nil
		}
		time.Sleep(time.Duration(i+1) * 2 * time.Second)
	}
	return err
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// busyboxApplets lists the applet paths (e.g. "bin/sh") of a static busybox.
func busyboxApplets(bb string) ([]string, error) {
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets of %s: %w", bb, err)
	}
	var l []string
	for _, a := range strings.Fields(string(out)) {
		if a != "bin/busybox" {
			l = append(l, a)
		}
	}
	return l, nil
}

const passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
const group = "root:x:0:\nnobody:x:65534:\n"

// busyboxLayer is the base of every image but pause and coredns: a static
// busybox with its applet links, like upstream's e2e busybox image.
func busyboxLayer(o options, applets []string, arch string) []file {
	return busyboxLayerWithout(o, applets, arch, "")
}

// busyboxLayerWithout is busyboxLayer without one applet. Debian's static
// busybox runs its own applets in preference to $PATH ("sh -c 'nc ...'"
// never reaches /usr/local/bin/nc), so the applet is renamed in busybox's
// sorted name table (same length, same order: "nc" becomes "nd") and its
// link is left out.
func busyboxLayerWithout(o options, applets []string, arch, drop string) []file {
	bb := file{path: "bin/busybox", src: o.busybox[arch], mode: 0o755}
	if drop != "" {
		b, err := os.ReadFile(o.busybox[arch])
		if err == nil {
			from := []byte("\x00nameif\x00" + drop + "\x00netstat\x00")
			to := []byte("\x00nameif\x00" + drop[:len(drop)-1] + string(drop[len(drop)-1]+1) + "\x00netstat\x00")
			if bytes.Count(b, from) == 1 {
				bb = file{path: "bin/busybox", data: bytes.Replace(b, from, to, 1), mode: 0o755}
			} else {
				log.Printf("warning: %s: applet table entry for %q not found; left as is", o.busybox[arch], drop)
			}
		}
	}
	fs := []file{
		{path: "bin", dir: true, mode: 0o755}, {path: "usr/bin", dir: true, mode: 0o755},
		{path: "usr/sbin", dir: true, mode: 0o755}, {path: "sbin", dir: true, mode: 0o755},
		{path: "etc", dir: true, mode: 0o755}, {path: "tmp", dir: true, mode: 0o1777},
		{path: "root", dir: true, mode: 0o700}, {path: "var", dir: true, mode: 0o755},
		bb,
		{path: "etc/passwd", data: []byte(passwd), mode: 0o644},
		{path: "etc/group", data: []byte(group), mode: 0o644},
	}
	for _, a := range applets {
		if drop != "" && filepath.Base(a) == drop {
			continue
		}
		fs = append(fs, file{path: a, link: "/bin/busybox"})
	}
	return fs
}

func bin(o options, arch, prog string) string { return filepath.Join(o.bin, arch, prog) }

var defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func specs(o options, applets []string) []spec {
	bb := func(arch string) []file { return busyboxLayer(o, applets, arch) }
	return []spec{
		{
			name: "pause", upstream: "registry.k8s.io/pause:3.10.1",
			repo: "cke/kubernetes/pause-" + archSuffix, tag: "3.10.1",
			layers: func(arch string) ([][]file, error) {
				return [][]file{{{path: "pause", src: bin(o, arch, "pause"), mode: 0o755}}}, nil
			},
			config: func(string) v1.Config {
				return v1.Config{Entrypoint: []string{"/pause"}, Env: []string{defaultPath}, User: "65535:65535"}
			},
		},
		{
			name: "busybox", upstream: "registry.k8s.io/e2e-test-images/busybox:1.37.0-1",
			repo: "cke/kubernetes/busybox-" + archSuffix, tag: "1.37.0-1",
			layers: func(arch string) ([][]file, error) { return [][]file{bb(arch)}, nil },
			config: func(string) v1.Config { return v1.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}} },
		},
		{
			name: "agnhost", upstream: "registry.k8s.io/e2e-test-images/agnhost:2.56",
			repo: "cke/kubernetes/agnhost-" + archSuffix, tag: "2.56",
			layers: func(arch string) ([][]file, error) {
				passwdA := passwd + "user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n"
				groupA := group + "user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n"
				return [][]file{busyboxLayerWithout(o, applets, arch, "nc"), {
					{path: "etc/passwd", data: []byte(passwdA), mode: 0o644},
					{path: "etc/group", data: []byte(groupA), mode: 0o644},
					{path: "uploads", dir: true, mode: 0o755},
					{path: "localhost.crt", src: filepath.Join(o.agnhostFiles, "localhost.crt"), mode: 0o644},
					{path: "localhost.key", src: filepath.Join(o.agnhostFiles, "localhost.key"), mode: 0o644},
					{path: "agnhost", src: bin(o, arch, "agnhost"), mode: 0o755},
					{path: "agnhost-2", link: "agnhost"},
					// Upstream's agnhost has bind-tools and netcat-openbsd; the
					// e2e DNS and Service probes run dig and nc -v/-u/-z.
					{path: "usr/local/bin", dir: true, mode: 0o755},
					{path: "usr/local/bin/dig", src: bin(o, arch, "dig"), mode: 0o755},
					{path: "usr/local/bin/nc", src: bin(o, arch, "nc"), mode: 0o755},
				}}, nil
			},
			config: func(string) v1.Config {
				return v1.Config{Entrypoint: []string{"/agnhost"}, Cmd: []string{"pause"}, Env: []string{defaultPath},
					ExposedPorts: map[string]struct{}{"80/tcp": {}, "8080/tcp": {}, "8081/tcp": {}, "9376/tcp": {}, "5000/tcp": {}}}
			},
		},
		{
			// Upstream: Debian jessie with dnsutils; the DNS conformance
			// specs run dig in it next to agnhost.
			name: "jessie-dnsutils", upstream: "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7",
			repo: "cke/kubernetes/jessie-dnsutils-" + archSuffix, tag: "1.7",
			layers: func(arch string) ([][]file, error) {
				return [][]file{bb(arch), {
					{path: "usr/local/bin", dir: true, mode: 0o755},
					{path: "usr/local/bin/dig", src: bin(o, arch, "dig"), mode: 0o755},
				}}, nil
			},
			config: func(string) v1.Config { return v1.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}} },
		},
		{
			name: "conformance", upstream: "registry.k8s.io/conformance:" + o.k8sVersion,
			repo: "cke/kubernetes/conformance-" + archSuffix, tag: o.k8sVersion,
			layers: func(arch string) ([][]file, error) {
				return [][]file{bb(arch), {
					{path: "usr/local/bin", dir: true, mode: 0o755},
					{path: "kubernetes/cluster", dir: true, mode: 0o755},
					{path: "usr/local/bin/ginkgo", src: bin(o, arch, "ginkgo"), mode: 0o755},
					{path: "usr/local/bin/e2e.test", src: bin(o, arch, "e2e.test"), mode: 0o755},
					{path: "usr/local/bin/kubectl", src: bin(o, arch, "kubectl"), mode: 0o755},
					{path: "usr/local/bin/kubeconformance", src: bin(o, arch, "go-runner"), mode: 0o755},
					{path: "run_e2e.sh", src: bin(o, arch, "go-runner"), mode: 0o755},
					{path: "gorunner", src: bin(o, arch, "go-runner"), mode: 0o755},
				}}, nil
			},
			// ENV block of test/conformance/image/Dockerfile.
			config: func(string) v1.Config {
				return v1.Config{Entrypoint: []string{"kubeconformance"}, Env: []string{defaultPath,
					`E2E_FOCUS=\[Conformance\]`, "E2E_SKIP=", "E2E_PROVIDER=local", "E2E_PARALLEL=1",
					"E2E_VERBOSITY=4", "RESULTS_DIR=/tmp/results", "KUBECONFIG="}}
			},
		},
		{
			name: "sonobuoy", upstream: "sonobuoy/sonobuoy:" + o.sonobuoyVersion,
			repo: "cke/sonobuoy/sonobuoy-" + archSuffix, tag: o.sonobuoyVersion,
			layers: func(arch string) ([][]file, error) {
				return [][]file{bb(arch), {{path: "sonobuoy", src: bin(o, arch, "sonobuoy"), mode: 0o755}}}, nil
			},
			config: func(string) v1.Config {
				return v1.Config{Cmd: []string{"/sonobuoy", "aggregator", "--no-exit", "-v", "3", "--logtostderr"},
					WorkingDir: "/", Env: []string{defaultPath}}
			},
		},
		{
			// Lab infrastructure (cluster DNS), not part of the porting
			// story: amd64 only, under a plain name.
			name: "coredns", upstream: "registry.k8s.io/coredns/coredns:" + o.corednsVersion,
			repo: "lab/coredns", tag: o.corednsVersion, arches: []string{"amd64"},
			layers: func(arch string) ([][]file, error) {
				return [][]file{{{path: "coredns", src: bin(o, arch, "coredns"), mode: 0o755}}}, nil
			},
			config: func(string) v1.Config {
				return v1.Config{Entrypoint: []string{"/coredns"}, Env: []string{defaultPath},
					ExposedPorts: map[string]struct{}{"53/tcp": {}, "53/udp": {}}}
			},
		},
	}
}

func (s spec) platforms() []string {
	if len(s.arches) > 0 {
		return s.arches
	}
	return arches
}

// inputKey hashes everything an image is made of.
func inputKey(s spec) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %s %s %v\n", recipe, s.name, s.repo, s.tag, s.platforms())
	for _, a := range s.platforms() {
		ls, err := s.layers(a)
		if err != nil {
			return "", err
		}
		for _, l := range ls {
			for _, f := range l {
				fmt.Fprintf(h, "%s|%s|%s|%v|%o|", f.path, f.link, f.data, f.dir, f.mode)
				if f.src != "" {
					fh, err := os.Open(f.src)
					if err != nil {
						return "", err
					}
					_, err = io.Copy(h, fh)
					fh.Close()
					if err != nil {
						return "", err
					}
				}
			}
		}
		c, _ := json.Marshal(s.config(a))
		h.Write(c)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// buildCached returns the image index for s, from the OCI layout cache when
// its inputs are unchanged.
func buildCached(o options, s spec) (v1.ImageIndex, error) {
	key, err := inputKey(s)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.cache, s.name+"-"+key)
	if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
		p, err := layout.FromPath(dir)
		if err == nil {
			outer, err := p.ImageIndex()
			if err == nil {
				m, err := outer.IndexManifest()
				if err == nil && len(m.Manifests) == 1 {
					return outer.ImageIndex(m.Manifests[0].Digest)
				}
			}
		}
	}
	idx, err := build(o, s)
	if err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := p.AppendIndex(idx); err != nil {
		return nil, fmt.Errorf("writing layout %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		return nil, err
	}
	// Drop older builds of the same image.
	old, _ := filepath.Glob(filepath.Join(o.cache, s.name+"-*"))
	for _, d := range old {
		if d != dir {
			os.RemoveAll(d)
		}
	}
	return idx, nil
}

func build(o options, s spec) (v1.ImageIndex, error) {
	tmp, err := os.MkdirTemp(o.cache, "tmp-"+s.name)
	if err != nil {
		if err := os.MkdirAll(o.cache, 0o755); err != nil {
			return nil, err
		}
		if tmp, err = os.MkdirTemp(o.cache, "tmp-"+s.name); err != nil {
			return nil, err
		}
	}
	defer os.RemoveAll(tmp)
	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range s.platforms() {
		ls, err := s.layers(arch)
		if err != nil {
			return nil, err
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		for i, l := range ls {
			path := filepath.Join(tmp, fmt.Sprintf("%s-%d.tar.gz", arch, i))
			if err := writeLayer(path, l); err != nil {
				return nil, err
			}
			layer, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
			if err != nil {
				return nil, err
			}
			// Read it now: the temp file goes away when build returns.
			layer, err = materialize(layer)
			if err != nil {
				return nil, err
			}
			if img, err = mutate.AppendLayers(img, layer); err != nil {
				return nil, err
			}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
		cf.Config = s.config(arch)
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return idx, nil
}

// materialize keeps the compressed bytes of a layer in memory so the index
// can be written after the temp files are gone.
func materialize(l v1.Layer) (v1.Layer, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// writeLayer writes a reproducible gzipped tar of fs (sorted, owned by root,
// time zero).
func writeLayer(path string, fs []file) error {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].path < fs[j].path })
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	seen := map[string]bool{}
	epoch := time.Unix(0, 0).UTC()
	for _, f := range fs {
		if seen[f.path] {
			continue
		}
		seen[f.path] = true
		h := &tar.Header{Name: f.path, ModTime: epoch, Mode: f.mode, Format: tar.FormatPAX}
		switch {
		case f.dir:
			h.Typeflag, h.Name = tar.TypeDir, f.path+"/"
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case f.src != "":
			src, err := os.Open(f.src)
			if err != nil {
				return err
			}
			st, err := src.Stat()
			if err != nil {
				src.Close()
				return err
			}
			h.Typeflag, h.Size = tar.TypeReg, st.Size()
			if err := tw.WriteHeader(h); err != nil {
				src.Close()
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			if err != nil {
				return fmt.Errorf("adding %s: %w", f.src, err)
			}
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := tw.Write(f.data); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}
