package sonorun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/confrun/confrun/internal/atomicfile"
)

// ImageRecord is one image a run used.
type ImageRecord struct {
	Role string `json:"role,omitempty"`
	Ref  string `json:"ref"`
	// Digest is the image ID the kubelet resolved, when seen.
	Digest string `json:"digest,omitempty"`
}

// Record describes a run: run.json when it is over, .confrun-run.json while
// it is in progress (what --resume needs).
type Record struct {
	ConfrunVersion  string        `json:"confrunVersion"`
	SonobuoyVersion string        `json:"sonobuoyVersion,omitempty"`
	Arch            string        `json:"arch"`
	Platform        string        `json:"platform"`
	Release         string        `json:"release"`
	ServerVersion   string        `json:"serverVersion"`
	Product         string        `json:"product"`
	Mode            Mode          `json:"mode"`
	Focus           string        `json:"focus"`
	Skip            string        `json:"skip"`
	Parallel        bool          `json:"parallel"`
	Namespace       string        `json:"namespace"`
	Context         string        `json:"context,omitempty"`
	Nodes           []string      `json:"nodes"`
	Images          []ImageRecord `json:"images"`
	Started         time.Time     `json:"started"`
	Finished        *time.Time    `json:"finished,omitempty"`
	// Status is running, complete, failed or interrupted.
	Status string `json:"status"`
	// Result is the e2e plugin's verdict (passed, failed) when known.
	Result string `json:"result,omitempty"`
	Files  Files  `json:"files,omitempty"`
	// JUnitConverted is true when junit_01.xml was produced from e2e.log
	// because the tarball held none.
	JUnitConverted bool `json:"junitConverted,omitempty"`
}

// AddDigests fills image digests from what the kubelet resolved.
func (r *Record) AddDigests(seen map[string]string) {
	for i := range r.Images {
		if d, ok := seen[r.Images[i].Ref]; ok && r.Images[i].Digest == "" {
			r.Images[i].Digest = d
		}
	}
	sort.SliceStable(r.Images, func(i, j int) bool { return r.Images[i].Role < r.Images[j].Role })
}

// WriteState records the run in progress in dir.
func WriteState(dir string, r Record) error {
	return writeJSON(filepath.Join(dir, StateFile), r, true)
}

// ReadState reads the record of the run in progress in dir; it returns
// fs.ErrNotExist (wrapped) when there is none.
func ReadState(dir string) (Record, error) {
	var r Record
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return r, fmt.Errorf("reading the record of the run in progress: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("parsing %s: %w (delete it and use `confrun run --cleanup`)", filepath.Join(dir, StateFile), err)
	}
	return r, nil
}

// ClearState removes the record of the run in progress.
func ClearState(dir string) error {
	err := os.Remove(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// WriteRecord writes run.json atomically.
func WriteRecord(dir string, r Record, force bool) error {
	return writeJSON(filepath.Join(dir, RunFile), r, force)
}

func writeJSON(path string, v any, force bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), atomicfile.Options{Force: force})
}
