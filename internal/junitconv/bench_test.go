package junitconv

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkConvert converts ~20 MB of real sample logs, concatenated.
func BenchmarkConvert(b *testing.B) {
	var one []byte
	for _, n := range []string{"v1.34-node-basic", "v1.34-node-basic-succinct", "v1.34-beforesuite-failure"} {
		d, err := os.ReadFile(filepath.Join(samples, n, "e2e.log"))
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, d...)
	}
	in := bytes.Repeat(one, (20<<20)/len(one)+1)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Convert(context.Background(), bytes.NewReader(in), io.Discard, Options{SpoolDir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
	}
}
