package sonorun

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmware-tanzu/sonobuoy/pkg/client"
	"github.com/vmware-tanzu/sonobuoy/pkg/config"

	"github.com/confrun/confrun/internal/atomicfile"
)

// Names of the files a run leaves in its results folder.
const (
	TarballFile = "sonobuoy.tar.gz"
	E2ELogFile  = "e2e.log"
	JUnitFile   = "junit_01.xml"
	RunFile     = "run.json"
	// StateFile records a run in progress, for --resume.
	StateFile = ".confrun-run.json"
	// e2eResultsDir is where the e2e plugin's files sit in the tarball.
	e2eResultsDir = "plugins/e2e/results/global/"
)

// runFiles are moved aside together when an earlier run is kept.
var runFiles = []string{TarballFile, E2ELogFile, JUnitFile, RunFile}

// Files are the paths retrieval wrote.
type Files struct {
	Tarball string `json:"tarball"`
	E2ELog  string `json:"e2eLog,omitempty"`
	JUnit   string `json:"junit,omitempty"`
}

// KeepEarlier moves an earlier run's files in dir to
// dir/previous/<timestamp>/ so that a new run never overwrites them. It
// returns the folder it moved them to, or "" when there was nothing.
func KeepEarlier(dir string, now time.Time) (string, error) {
	var present []string
	for _, f := range runFiles {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		return "", nil
	}
	dest := filepath.Join(dir, "previous", now.UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", fmt.Errorf("keeping the earlier run's results: %w", err)
	}
	for _, f := range present {
		if err := os.Rename(filepath.Join(dir, f), filepath.Join(dest, f)); err != nil {
			return "", fmt.Errorf("keeping the earlier run's %s: %w", f, err)
		}
	}
	return dest, nil
}

// Retrieve copies the results tarball out of the aggregator (through exec,
// as `sonobuoy retrieve` does) into dir/sonobuoy.tar.gz and extracts the
// e2e plugin's e2e.log and junit_01.xml beside it. Every file is written
// atomically; existing files are replaced only with force.
func Retrieve(ctx context.Context, sc *client.SonobuoyClient, ns, dir string, force bool) (Files, error) {
	reader, errc, err := sc.RetrieveResults(&client.RetrieveConfig{Namespace: ns, Path: config.AggregatorResultsPath})
	if err != nil {
		return Files{}, fmt.Errorf("retrieving results from the aggregator in %s: %w", ns, err)
	}
	if reader == nil { // the library reports some failures only on errc
		return Files{}, fmt.Errorf("retrieving results from the aggregator in %s: %w", ns, <-errc)
	}
	files := Files{Tarball: filepath.Join(dir, TarballFile)}
	saveErr := SaveTarball(ctx, reader, files.Tarball, force)
	// Drain what is left (tar padding, the gzip trailer, or everything after
	// an error) so the exec stream's goroutine can finish and report.
	_, _ = io.Copy(io.Discard, reader)
	if err := <-errc; err != nil {
		return files, fmt.Errorf("streaming results from the aggregator: %w", err)
	}
	if errors.Is(saveErr, errNoTarball) {
		return files, fmt.Errorf("the aggregator in %s returned no results tarball (is the run complete? see `confrun run --resume`)", ns)
	}
	if saveErr != nil {
		return files, saveErr
	}
	return ExtractE2E(files.Tarball, dir, force)
}

var errNoTarball = errors.New("no results tarball in the stream")

// SaveTarball reads the stream `sonobuoy splat` writes in the aggregator (a
// gzip-compressed tar holding the run's results tarball) and saves the
// first results tarball in it to dest, atomically.
func SaveTarball(ctx context.Context, stream io.Reader, dest string, force bool) error {
	gz, err := gzip.NewReader(stream)
	if err != nil {
		return fmt.Errorf("reading the results stream: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return errNoTarball
		}
		if err != nil {
			return fmt.Errorf("reading the results stream: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || !strings.HasSuffix(hdr.Name, ".tar.gz") {
			continue
		}
		if err := atomicfile.Write(dest, atomicfile.Options{Force: force}, func(w io.Writer) error {
			_, err := io.Copy(w, tr)
			return err
		}); err != nil {
			return fmt.Errorf("saving the results tarball: %w", err)
		}
		return nil
	}
}

// ExtractE2E writes e2e.log and junit_01.xml from a sonobuoy results
// tarball into dir. A tarball without an e2e.log is an error; one without
// a JUnit returns Files.JUnit == "" so the caller can convert the log.
func ExtractE2E(tarball, dir string, force bool) (Files, error) {
	files := Files{Tarball: tarball}
	f, err := os.Open(tarball)
	if err != nil {
		return files, fmt.Errorf("opening results tarball: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return files, fmt.Errorf("reading results tarball %s: %w", tarball, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("reading results tarball %s: %w", tarball, err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if hdr.Typeflag != tar.TypeReg || path.Dir(name)+"/" != e2eResultsDir {
			continue
		}
		var dest *string
		switch path.Base(name) {
		case E2ELogFile:
			dest = &files.E2ELog
		case JUnitFile:
			dest = &files.JUnit
		default:
			continue
		}
		p := filepath.Join(dir, path.Base(name))
		if err := atomicfile.Write(p, atomicfile.Options{Force: force}, func(w io.Writer) error {
			_, err := io.Copy(w, tr)
			return err
		}); err != nil {
			return files, fmt.Errorf("extracting %s: %w", name, err)
		}
		*dest = p
	}
	if files.E2ELog == "" {
		return files, fmt.Errorf("results tarball %s has no %s%s: the e2e plugin wrote no log (see the plugin's pod logs in the tarball)", tarball, e2eResultsDir, E2ELogFile)
	}
	return files, nil
}
