package e2elog_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/confrun/confrun/internal/e2elog"
	"github.com/confrun/confrun/internal/e2elog/e2elogtest"
)

// BenchmarkParse parses ~20 MB of the real sample logs, concatenated.
func BenchmarkParse(b *testing.B) {
	in := e2elogtest.Logs(b, 20<<20)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e2elog.Parse(context.Background(), bytes.NewReader(in), e2elog.Options{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
