package nodepull

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Line is one line of the helper's standard output: a result as it
// completes, or the end of the run.
type Line struct {
	Result *Result `json:"result,omitempty"`
	Done   *Done   `json:"done,omitempty"`
}

// Done ends the helper's output.
type Done struct {
	Runtime  string `json:"runtime,omitempty"`
	Platform string `json:"platform,omitempty"`
	OK       int    `json:"ok"`
	Failed   int    `json:"failed"`
}

// WriteLine writes one JSON line.
func WriteLine(w io.Writer, l Line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// ReadLines calls fn for every Line in r; lines that are not the helper's
// JSON (a runtime's own messages) are skipped.
func ReadLines(r io.Reader, fn func(Line)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		b := sc.Bytes()
		if len(b) == 0 || b[0] != '{' {
			continue
		}
		var l Line
		if json.Unmarshal(b, &l) != nil || (l.Result == nil && l.Done == nil) {
			continue
		}
		fn(l)
	}
	return sc.Err()
}

// TerminationLimit is what the kubelet keeps of a termination message.
const TerminationLimit = 4096

// FormatTermination renders results as a JSON array of at most limit
// bytes for the container's termination message, the fallback channel when
// the log cannot be read. It drops detail (messages, names, digests) until
// the array fits; the index always identifies the image.
func FormatTermination(results []Result, limit int) string {
	for level := 0; level <= 4; level++ {
		short := make([]Result, len(results))
		for i, r := range results {
			short[i] = compact(r, level)
		}
		b, err := json.Marshal(short)
		if err == nil && len(b) <= limit {
			return string(b)
		}
	}
	// Not even the bare statuses fit: say so in words.
	ok := 0
	for _, r := range results {
		if r.OK() {
			ok++
		}
	}
	return fmt.Sprintf("%d of %d images placed; see the pod log for each", ok, len(results))
}

func compact(r Result, level int) Result {
	msgLimit := []int{-1, 300, 120, 40, 0}[level]
	if level >= 1 {
		r.Tagged = nil
	}
	if level >= 2 {
		r.Target, r.ImageID = "", ""
	}
	if level >= 3 {
		r.Digest = ""
	}
	if msgLimit >= 0 && len(r.Message) > msgLimit {
		r.Message = r.Message[:msgLimit]
	}
	return r
}

// ParseTermination reads what FormatTermination wrote.
func ParseTermination(msg string) ([]Result, error) {
	msg = strings.TrimSpace(msg)
	if !strings.HasPrefix(msg, "[") {
		return nil, fmt.Errorf("not a result list: %.80q", msg)
	}
	var out []Result
	if err := json.Unmarshal([]byte(msg), &out); err != nil {
		return nil, fmt.Errorf("parsing the termination message: %w", err)
	}
	return out, nil
}

// ExecOptions configure Execute.
type ExecOptions struct {
	Options
	// Address is containerd's socket.
	Address string
	// Namespace is the CRI plugin's containerd namespace (k8s.io).
	Namespace string
	// TerminationLog receives the short results (the kubelet's
	// terminationMessagePath); empty: none.
	TerminationLog string
}

// Execute is `confrun helper node-pull`: it connects to the runtime,
// places the images, prints a Line per result and a final Done line to
// out, and writes the short results to the termination log. The error is
// set when the runtime cannot be reached or an image was not placed.
func Execute(ctx context.Context, o ExecOptions, out io.Writer) error {
	c, err := Dial(o.Address, o.Namespace)
	if err != nil {
		writeTermination(o.TerminationLog, err.Error())
		return err
	}
	defer c.Close()
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	rt, err := RuntimeVersion(vctx, c)
	cancel()
	if err != nil {
		err = fmt.Errorf("the container runtime at %s does not answer (is this the node's containerd socket?): %w", o.Address, err)
		writeTermination(o.TerminationLog, err.Error())
		return err
	}
	var werr error
	results := Run(ctx, c, o.Options, func(r Result) {
		if err := WriteLine(out, Line{Result: &r}); err != nil && werr == nil {
			werr = err
		}
	})
	done := Done{Runtime: rt, Platform: o.Platform}
	for _, r := range results {
		if r.OK() || (o.CheckOnly && r.Status == StatusMissing) {
			done.OK++
		} else {
			done.Failed++
		}
	}
	if err := WriteLine(out, Line{Done: &done}); err != nil && werr == nil {
		werr = err
	}
	writeTermination(o.TerminationLog, FormatTermination(results, TerminationLimit))
	if werr != nil {
		return fmt.Errorf("writing results: %w", werr)
	}
	if done.Failed > 0 {
		return fmt.Errorf("%d of %d images were not placed", done.Failed, len(results))
	}
	return nil
}

func writeTermination(path, msg string) {
	if path == "" {
		return
	}
	_ = os.WriteFile(path, []byte(msg), 0o644)
}
