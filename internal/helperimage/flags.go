package helperimage

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/confrun/confrun/internal/arch"
	"github.com/confrun/confrun/internal/cliutil"
)

// Flags are the command-line flags of a verb that runs confrun on nodes:
// use a prebuilt helper image, or build one and push it to a registry.
type Flags struct {
	// Image is a prebuilt helper image (--helper-image).
	Image string
	// Registry receives a built image (--helper-registry).
	Registry string
	// BinaryDir holds confrun-linux-<goarch> binaries (--helper-binaries);
	// default the running binary's directory.
	BinaryDir string
}

// AddFlags registers --helper-image, --helper-registry and --helper-binaries.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Image, "helper-image", f.Image, "a prebuilt confrun helper image (multi-arch, static confrun at /confrun) to run on the nodes")
	fs.StringVar(&f.Registry, "helper-registry", f.Registry, "registry (host:port[/repo]) to push a freshly built helper image to when no helper image is given")
	fs.StringVar(&f.BinaryDir, "helper-binaries", f.BinaryDir, "directory with static confrun-linux-<arch> binaries (make cross) for the helper image (default: beside this binary; missing ones are built from source)")
}

// Resolve returns the helper image to run: the given one, or one built for
// the architectures and pushed to the registry. log receives progress lines.
func (f *Flags) Resolve(ctx context.Context, arches []arch.Arch, log io.Writer) (string, error) {
	if f.Image != "" {
		return f.Image, nil
	}
	if f.Registry == "" {
		return "", cliutil.UsageError("no helper image: pass --helper-image REF (a confrun helper image for your nodes' architectures) or --helper-registry HOST:PORT to build and push one")
	}
	dir := f.BinaryDir
	if dir == "" {
		if exe, err := os.Executable(); err == nil {
			dir = filepath.Dir(exe)
		}
	}
	return BuildAndPush(ctx, f.Registry, Options{Arches: arches, BinaryDir: dir, Log: log})
}
