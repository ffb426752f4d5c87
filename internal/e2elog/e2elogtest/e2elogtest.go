// Package e2elogtest gives tests the real e2e.log/junit_01.xml pairs kept in
// internal/e2elog/testdata/samples and the lab's (lab/.state/samples).
package e2elogtest

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Samples are the names of the real sample pairs.
var Samples = []string{"v1.34-node-basic", "v1.34-node-basic-succinct", "v1.34-beforesuite-failure"}

// SampleDir is the directory of sample name.
func SampleDir(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "samples", name)
}

// JUnit reads the junit_01.xml in dir, plain or gzipped.
func JUnit(t testing.TB, dir string) []byte {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, "junit_01.xml")); err == nil {
		return b
	}
	f, err := os.Open(filepath.Join(dir, "junit_01.xml.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Logs returns the sample e2e.logs concatenated, repeated to at least size
// bytes: input for benchmarks.
func Logs(tb testing.TB, size int) []byte {
	tb.Helper()
	var one []byte
	for _, name := range Samples {
		b, err := os.ReadFile(filepath.Join(SampleDir(name), "e2e.log"))
		if err != nil {
			tb.Fatal(err)
		}
		one = append(one, b...)
	}
	return bytes.Repeat(one, size/len(one)+1)
}
