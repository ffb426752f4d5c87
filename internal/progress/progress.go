// Package progress shows how far a long wait has come: a live bar redrawn in
// place on a terminal, plain timestamped lines otherwise (CI logs, pipes).
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Bar tracks done-of-total units of one task. It is safe for concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	label    string
	total    int
	done     int
	detail   string
	start    time.Time
	last     time.Time
	lastDone int
	now      func() time.Time
	// PlainEvery is the least time between two plain lines while progress
	// changes (default 10s); the first and final states are always printed.
	PlainEvery time.Duration
	// RedrawEvery is the least time between two redraws on a terminal.
	RedrawEvery time.Duration
	finished    bool
}

// Options configure a Bar.
type Options struct {
	// TTY selects the live bar; false selects plain lines.
	TTY bool
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// New starts a bar for label with total units (0 if unknown yet).
func New(w io.Writer, label string, total int, opts Options) *Bar {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	b := &Bar{w: w, tty: opts.TTY, label: label, total: total, now: now, start: now(),
		PlainEvery: 10 * time.Second, RedrawEvery: 100 * time.Millisecond, lastDone: -1}
	return b
}

// SetTotal changes the number of units.
func (b *Bar) SetTotal(total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total = total
	b.render(false)
}

// Set records done units and a short detail (the current item).
func (b *Bar) Set(done int, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.detail = done, detail
	b.render(false)
}

// Add advances by n units.
func (b *Bar) Add(n int, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.detail = detail
	b.render(false)
}

// Printf prints a line above the bar (a failure as it happens, say).
func (b *Bar) Printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty {
		fmt.Fprint(b.w, "\r\033[K")
	}
	fmt.Fprintf(b.w, format, args...)
	if !strings.HasSuffix(format, "\n") {
		fmt.Fprintln(b.w)
	}
	if b.tty && !b.finished {
		b.render(true)
	}
}

// Finish draws the final state with msg and ends the bar.
func (b *Bar) Finish(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	if msg != "" {
		b.detail = msg
	}
	b.render(true)
	b.finished = true
	if b.tty {
		fmt.Fprintln(b.w)
	}
}

func (b *Bar) render(force bool) {
	if b.finished {
		return
	}
	now := b.now()
	if b.tty {
		if !force && now.Sub(b.last) < b.RedrawEvery && b.done != b.total {
			return
		}
		b.last = now
		fmt.Fprintf(b.w, "\r\033[K%s", b.line(now, true))
		return
	}
	first := b.lastDone < 0
	if !force && !first && (b.done == b.lastDone || now.Sub(b.last) < b.PlainEvery) && !(b.done == b.total && b.done != b.lastDone) {
		return
	}
	b.last, b.lastDone = now, b.done
	fmt.Fprintf(b.w, "%s %s\n", now.Format("15:04:05"), b.line(now, false))
}

func (b *Bar) line(now time.Time, bar bool) string {
	elapsed := now.Sub(b.start).Round(time.Second)
	var sb strings.Builder
	sb.WriteString(b.label)
	if b.total > 0 {
		pct := b.done * 100 / b.total
		if bar {
			const width = 24
			filled := width * b.done / b.total
			if filled > width {
				filled = width
			}
			fmt.Fprintf(&sb, " [%s%s]", strings.Repeat("=", filled), strings.Repeat(" ", width-filled))
		}
		fmt.Fprintf(&sb, " %d/%d (%d%%)", b.done, b.total, pct)
		if b.done > 0 && b.done < b.total {
			remaining := time.Duration(float64(now.Sub(b.start)) / float64(b.done) * float64(b.total-b.done)).Round(time.Second)
			fmt.Fprintf(&sb, " elapsed %s, ~%s left", elapsed, remaining)
		} else {
			fmt.Fprintf(&sb, " elapsed %s", elapsed)
		}
	} else {
		fmt.Fprintf(&sb, " %d done, elapsed %s", b.done, elapsed)
	}
	if b.detail != "" {
		d := b.detail
		if bar && len(d) > 60 {
			d = d[:57] + "..."
		}
		sb.WriteString(" ")
		sb.WriteString(d)
	}
	return sb.String()
}
