// Package atomicfile writes result files so that a reader never sees a
// half-written file and an existing result is never replaced by accident.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned (wrapped) when the destination exists and the caller
// did not ask to overwrite it.
var ErrExists = errors.New("file exists")

// Options control a write.
type Options struct {
	// Force replaces an existing file. Without it an existing file is an
	// error wrapping ErrExists.
	Force bool
	// Perm is the file mode of the new file (default 0o644).
	Perm fs.FileMode
}

// Write creates path by calling fill with a temporary file in the same
// directory, syncing it, and renaming it into place. If fill fails nothing
// is left behind and an existing file at path is untouched.
func Write(path string, opts Options, fill func(w io.Writer) error) (err error) {
	if opts.Perm == 0 {
		opts.Perm = 0o644
	}
	if !opts.Force {
		if _, statErr := os.Lstat(path); statErr == nil {
			return fmt.Errorf("%s: %w (pass --force to overwrite it, or choose another output path)", path, ErrExists)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file beside %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = fill(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(opts.Perm); err != nil {
		return fmt.Errorf("setting mode of %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if !opts.Force {
		// Link fails if path appeared meanwhile, so a concurrent writer's
		// result is not replaced either.
		if err = os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("%s: %w (pass --force to overwrite it)", path, ErrExists)
			} else {
				err = fmt.Errorf("moving result into place at %s: %w", path, err)
			}
			return err
		}
		_ = os.Remove(tmp.Name())
	} else if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("moving result into place at %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// WriteFile is Write for data already in memory.
func WriteFile(path string, data []byte, opts Options) error {
	return Write(path, opts, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
