package e2elog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse parses ~20 MB of the real sample logs, concatenated.
func BenchmarkParse(b *testing.B) {
	var one []byte
	for _, n := range []string{"v1.34-node-basic", "v1.34-node-basic-succinct", "v1.34-beforesuite-failure"} {
		d, err := os.ReadFile(filepath.Join("testdata/samples", n, "e2e.log"))
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, d...)
	}
	in := bytes.Repeat(one, (20<<20)/len(one)+1)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(context.Background(), bytes.NewReader(in), Options{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
