package junitconv

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/confrun/confrun/internal/e2elog/e2elogtest"
)

// BenchmarkConvert converts ~20 MB of real sample logs, concatenated.
func BenchmarkConvert(b *testing.B) {
	in := e2elogtest.Logs(b, 20<<20)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Convert(context.Background(), bytes.NewReader(in), io.Discard, Options{SpoolDir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
	}
}
