package e2elog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds the parser arbitrary logs, seeded with every handcrafted
// and real log: it must never panic or hang, and what it reports must hold
// together.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/v*/*.log")
	more, _ := filepath.Glob("testdata/samples/*/e2e.log")
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 8<<10 {
			b = b[:8<<10]
		}
		f.Add(b)
	}
	f.Add([]byte("------------------------------\n• [FAILED] [1.0 seconds]\n[It] x\na.go:1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, size := range []int{4096, 1 << 20} {
			var specs []Spec
			log, err := Parse(context.Background(), bytes.NewReader(in), Options{BufferSize: size, MaxMessageBytes: 1024}, func(s Spec) error {
				specs = append(specs, s)
				return nil
			})
			if err != nil {
				var ne *NotE2ELogError
				if !errors.As(err, &ne) {
					t.Fatalf("unexpected error type: %v", err)
				}
				continue
			}
			if len(log.Runs) == 0 {
				t.Fatal("no runs and no error")
			}
			if log.Lines != int64(bytes.Count(in, []byte("\n"))) && log.Lines != int64(bytes.Count(in, []byte("\n"))+1) {
				t.Fatalf("read %d lines of %d", log.Lines, bytes.Count(in, []byte("\n")))
			}
			named := map[int]int{}
			for _, s := range specs {
				if s.Run < 0 || s.Run >= len(log.Runs) {
					t.Fatalf("spec in run %d of %d", s.Run, len(log.Runs))
				}
				if s.State == "" || s.NodeType == "" {
					t.Fatalf("spec without state or node type: %+v", s)
				}
				if strings.ContainsAny(s.JUnitName(), "\n") {
					t.Fatalf("name with newline: %q", s.JUnitName())
				}
				if s.Failure != nil && len(s.Failure.Message) > 1024+200 {
					t.Fatalf("message of %d bytes past the cap", len(s.Failure.Message))
				}
				if s.NodeType == "It" && s.State.Ran() {
					named[s.Run]++
				}
			}
			for i, r := range log.Runs {
				if r.NamedRan != named[i] {
					t.Fatalf("run %d counts %d named, callback saw %d", i, r.NamedRan, named[i])
				}
			}
		}
	})
}
