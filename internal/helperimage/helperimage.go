// Package helperimage assembles and pushes the confrun helper image: a
// multi-arch image holding nothing but a static confrun binary at /confrun
// (no shell, no libc), so that confrun can run itself on every node of a
// cluster whatever its CPU architecture. It needs no Docker engine: images
// are assembled with go-containerregistry and pushed to a registry.
//
// Binaries come, per architecture, from (first match wins): an explicit
// path, a directory of cross-compiled binaries named confrun-linux-<goarch>
// (what `make cross` writes to bin/), the running binary when it is a static
// confrun for that architecture, or `go build` from the confrun source tree.
//
// The image is reproducible: the same binaries give the same digest, so
// pushing again is a no-op for the registry.
package helperimage

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/confrun/confrun/internal/arch"
)

// Entrypoint is where the binary sits in the image; it is also the image's
// entrypoint, so a pod only gives arguments.
const Entrypoint = "/confrun"

// ModulePath is confrun's Go module; MainPackage its command.
const (
	ModulePath  = "github.com/confrun/confrun"
	MainPackage = ModulePath + "/cmd/confrun"
)

// DefaultRepository is the repository below a registry that Push uses when
// given only a registry host.
const DefaultRepository = "confrun/helper"

// Options say where the binaries come from.
type Options struct {
	// Arches are the architectures to include; at least one.
	Arches []arch.Arch
	// Binaries maps a GOARCH to the path of a static confrun binary.
	Binaries map[string]string
	// BinaryDir holds cross-compiled binaries named confrun-linux-<goarch>.
	BinaryDir string
	// SourceDir is the confrun module to build missing binaries from;
	// default: the module containing the working directory, if any.
	SourceDir string
	// WorkDir receives built binaries; default a temporary directory that
	// Build removes after the image is assembled.
	WorkDir string
	// Log receives one line per step (which binary, builds); may be nil.
	Log io.Writer
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Build assembles the multi-arch image index in memory. The layers read
// their binaries when the index is written, so binaries must stay in place
// until Push returns; Build copies built binaries into memory for that
// reason and never refers to its temporary directory afterwards.
func Build(ctx context.Context, o Options) (v1.ImageIndex, error) {
	if len(o.Arches) == 0 {
		return nil, errors.New("no architecture given for the helper image")
	}
	work := o.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "confrun-helper-")
		if err != nil {
			return nil, fmt.Errorf("creating a build directory: %w", err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	seen := map[string]bool{}
	for _, a := range o.Arches {
		if seen[a.Platform()] {
			continue
		}
		seen[a.Platform()] = true
		bin, err := o.binary(ctx, a, work)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("reading the confrun binary for %s: %w", a.Platform(), err)
		}
		if err := CheckStatic(bytes.NewReader(data), a); err != nil {
			return nil, fmt.Errorf("%s: %w", bin, err)
		}
		img, err := Image(data, a)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: "linux", Architecture: a.GOARCH, Variant: a.Variant},
			},
		})
	}
	return idx, nil
}

// Image returns a single-arch image holding binary at /confrun.
func Image(binary []byte, a arch.Arch) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(binaryTar(binary))), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the layer for %s: %w", a.Platform(), err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, fmt.Errorf("assembling the image for %s: %w", a.Platform(), err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", a.GOARCH, a.Variant
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = []string{Entrypoint}
	cf.Config.Env = []string{"PATH=/"}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":  "confrun helper",
		"org.opencontainers.image.source": "https://" + ModulePath,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the config for %s: %w", a.Platform(), err)
	}
	return img, nil
}

// binaryTar is the layer content: /confrun, mode 0755, fixed timestamps.
func binaryTar(binary []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_ = tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(Entrypoint, "/"), Mode: 0o755, Size: int64(len(binary)),
		Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX})
	_, _ = tw.Write(binary)
	_ = tw.Close()
	return buf.Bytes()
}

// CheckStatic reports an error unless r is a statically linked Linux ELF
// executable for the architecture (no interpreter: it must start in an
// image without libc).
func CheckStatic(r io.ReaderAt, a arch.Arch) error {
	f, err := elf.NewFile(r)
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	if want := elfMachine(a.GOARCH); want != elf.EM_NONE && f.Machine != want {
		return fmt.Errorf("built for %s, not %s", f.Machine, a.Platform())
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (build it with CGO_ENABLED=0)")
		}
	}
	return nil
}

func elfMachine(goarch string) elf.Machine {
	switch goarch {
	case "amd64":
		return elf.EM_X86_64
	case "arm64":
		return elf.EM_AARCH64
	case "arm":
		return elf.EM_ARM
	case "386":
		return elf.EM_386
	case "mips64le", "mipsle":
		return elf.EM_MIPS
	case "loong64":
		return elf.EM_LOONGARCH
	case "riscv64":
		return elf.EM_RISCV
	case "ppc64le":
		return elf.EM_PPC64
	case "s390x":
		return elf.EM_S390
	}
	return elf.EM_NONE
}

// binary finds or builds the confrun binary for a.
func (o *Options) binary(ctx context.Context, a arch.Arch, work string) (string, error) {
	if p := o.Binaries[a.GOARCH]; p != "" {
		o.logf("helper image %s: using %s", a.Platform(), p)
		return p, nil
	}
	if o.BinaryDir != "" {
		p := filepath.Join(o.BinaryDir, "confrun-linux-"+a.GOARCH)
		if _, err := os.Stat(p); err == nil {
			o.logf("helper image %s: using %s", a.Platform(), p)
			return p, nil
		}
	}
	if p, ok := selfBinary(a); ok {
		o.logf("helper image %s: using the running confrun (%s)", a.Platform(), p)
		return p, nil
	}
	src := o.SourceDir
	if src == "" {
		var err error
		if src, err = FindSource("."); err != nil {
			return "", fmt.Errorf("no confrun binary for %s: pass one (e.g. build them with `make cross` and point at bin/), or run from the confrun source tree so it can be built: %w", a.Platform(), err)
		}
	}
	out := filepath.Join(work, "confrun-linux-"+a.GOARCH)
	o.logf("helper image %s: go build in %s", a.Platform(), src)
	if err := GoBuild(ctx, src, a, out); err != nil {
		return "", err
	}
	return out, nil
}

// selfBinary returns the running executable when it is a static confrun
// built for a (not a test binary, not a cgo build).
func selfBinary(a arch.Arch) (string, bool) {
	if a.GOARCH != runtime.GOARCH {
		return "", false
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Path != MainPackage {
		return "", false
	}
	exe, err := os.Executable()
	if err != nil {
		return "", false
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if CheckStatic(f, a) != nil {
		return "", false
	}
	return exe, true
}

// FindSource walks up from dir to the directory whose go.mod declares the
// confrun module.
func FindSource(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[0] == "module" && f[1] == ModulePath {
					return d, nil
				}
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod of %s above %s", ModulePath, dir)
		}
		d = parent
	}
}

// GoBuild cross-compiles a static confrun for a into out.
func GoBuild(ctx context.Context, src string, a arch.Arch, out string) error {
	gobin := "go"
	if gr := runtime.GOROOT(); gr != "" {
		if p := filepath.Join(gr, "bin", "go"); fileExists(p) {
			gobin = p
		}
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/confrun")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH, "GOFLAGS=-buildvcs=false")
	if a.GOARCH == "arm" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(a.Variant, "v"))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building confrun for %s in %s: %w\n%s", a.Platform(), src, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Push writes the index to ref (repository[:tag]) and returns the pushed
// reference by digest (repository@sha256:...). Registries on localhost,
// loopback and private addresses are spoken to over plain HTTP.
func Push(ctx context.Context, ref string, idx v1.ImageIndex, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the index digest: %w", err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return "", fmt.Errorf("pushing the helper image to %s: %w", ref, err)
	}
	return r.Context().Digest(d.String()).String(), nil
}

// Ref returns the reference the helper image gets in a registry
// ("host:port" or "host:port/some/repo"): DefaultRepository below a bare
// host, tagged with the start of the index digest so that different
// binaries never overwrite each other's tag.
func Ref(registry string, idx v1.ImageIndex) (string, error) {
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the index digest: %w", err)
	}
	repo := strings.TrimSuffix(registry, "/")
	if !strings.Contains(repo, "/") {
		repo += "/" + DefaultRepository
	}
	return repo + ":sha-" + d.Hex[:12], nil
}

// BuildAndPush builds the image for the architectures and pushes it below
// registry (see Ref); it returns the pushed reference by digest.
func BuildAndPush(ctx context.Context, registry string, o Options, opts ...remote.Option) (string, error) {
	idx, err := Build(ctx, o)
	if err != nil {
		return "", err
	}
	ref, err := Ref(registry, idx)
	if err != nil {
		return "", err
	}
	o.logf("pushing helper image %s", ref)
	return Push(ctx, ref, idx, opts...)
}
