package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPlainLinesAreThrottled(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := New(&buf, "prepull", 4, Options{Now: c.now})
	b.Set(0, "")
	b.Set(1, "a") // too soon: suppressed
	c.t = c.t.Add(11 * time.Second)
	b.Set(2, "b")
	b.Set(4, "d") // completion always printed
	b.Finish("done")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], "2/4 (50%)") || !strings.Contains(lines[2], "4/4 (100%)") || !strings.Contains(lines[3], "done") {
		t.Fatalf("unexpected lines:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "\r") {
		t.Fatal("plain output must not contain carriage returns")
	}
}

func TestTTYRedrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Now()}
	b := New(&buf, "run", 10, Options{TTY: true, Now: c.now})
	b.Set(5, "spec x")
	c.t = c.t.Add(time.Second)
	b.Printf("FAILED: spec y")
	b.Finish("")
	out := buf.String()
	if !strings.Contains(out, "\r\033[K") || !strings.Contains(out, "[============            ] 5/10") {
		t.Fatalf("no live bar in %q", out)
	}
	if !strings.Contains(out, "FAILED: spec y\n") {
		t.Fatalf("message lost in %q", out)
	}
}
