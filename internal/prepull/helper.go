package prepull

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/confrun/confrun/internal/arch"
)

// ParseArches parses the architecture names ResolveHelper is given.
func ParseArches(names []string) ([]arch.Arch, error) {
	var out []arch.Arch
	for _, n := range names {
		a, err := arch.Parse(n)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// InstallHelper copies the running binary to dir/confrun (mode 0755), the
// first step of a pod-mode pod: the image containers then run
// dir/confrun from the shared emptyDir, whatever their image holds. The
// copy is written beside its final name and renamed, so a container never
// starts a half-written binary.
func InstallHelper(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the running binary: %w", err)
	}
	return copyExecutable(self, dir)
}

func copyExecutable(src, dir string) (dst string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", src, err)
	}
	defer in.Close()
	dst = filepath.Join(dir, "confrun")
	tmp, err := os.CreateTemp(dir, ".confrun-*")
	if err != nil {
		return "", fmt.Errorf("creating the helper in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		return "", fmt.Errorf("copying %s to %s: %w", src, dir, err)
	}
	if err = tmp.Chmod(0o755); err != nil {
		return "", fmt.Errorf("making %s executable: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("moving the helper into place at %s: %w", dst, err)
	}
	return dst, nil
}
