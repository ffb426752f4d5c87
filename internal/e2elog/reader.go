package e2elog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"
)

// The log is read in chunks by a goroutine of its own, so that copying it
// from the kernel overlaps with parsing, and parsed in place: a line is a
// view of a chunk (see view). A line that a chunk cuts is carried to the
// room kept before the next chunk's data.

const (
	// chunkData is the size of each read.
	chunkData = 256 << 10
	// chunks is the number of chunk buffers: one parsed, the others read
	// ahead.
	chunks = 4
	// maxHead is how much of the log Parse looks at to tell whether it is
	// a text log.
	maxHead = 64 << 10
)

type chunk struct {
	buf []byte // room for a carried line (lineReader.max bytes), then the data
	n   int    // bytes of data
	esc int    // index in the data of its first ESC, -1 if none
	err error  // the error that ended the input after the data
}

// lineReader reads the log for Parse. It finds lines as
// bufio.Reader.ReadSlice('\n') would with a buffer of max bytes: a line of
// max bytes or more is seen cut at max bytes.
type lineReader struct {
	r   io.Reader
	max int // the longest line examined in full, less one
	// buf[start:end] are the bytes not yet parsed; err ended the input
	// after them.
	buf        []byte
	start, end int
	err        error
	// esc is the position in buf of the next ESC (0x1b) at or after
	// escFrom, or -1 when buf[escFrom:escTo] holds none.
	esc, escFrom, escTo int

	full chan chunk
	free chan []byte
	done chan struct{}
}

func newLineReader(r io.Reader, max int) *lineReader {
	lr := &lineReader{r: r, max: max, buf: make([]byte, max+chunkData), esc: -1}
	lr.start, lr.end = max, max
	lr.escFrom, lr.escTo = max, max
	return lr
}

// read reads once into b as bufio.Reader.fill does: a reader that returns
// nothing a hundred times makes no progress.
func read(r io.Reader, b []byte) (int, error) {
	for range 100 {
		n, err := r.Read(b)
		if n < 0 || n > len(b) {
			return 0, errors.New("e2elog: the reader returned an invalid count")
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// head reads the start of the log and returns its first maxHead bytes (or
// max, if less), as bufio.Reader.Peek(maxHead) would. A read error before
// them is returned, unless max is less than maxHead (bufio.ErrBufferFull
// then hides it and the error is met later). It then starts reading ahead.
func (lr *lineReader) head() ([]byte, int64, error) {
	want := min(maxHead, lr.max)
	for lr.end-lr.start < want && lr.err == nil {
		n, err := read(lr.r, lr.buf[lr.end:])
		lr.end += n
		lr.err = err
	}
	head := lr.buf[lr.start:min(lr.end, lr.start+want)]
	if lr.err != nil && len(head) < want && lr.max >= maxHead && !errors.Is(lr.err, io.EOF) {
		return nil, 0, lr.err
	}
	if lr.err == nil && lr.end < len(lr.buf) {
		// Fill the first chunk before parsing, as later ones are.
		n, err := read(lr.r, lr.buf[lr.end:])
		lr.end += n
		lr.err = err
	}
	if lr.err == nil {
		lr.full = make(chan chunk, chunks)
		lr.free = make(chan []byte, chunks)
		lr.done = make(chan struct{})
		for range chunks - 1 {
			lr.free <- make([]byte, lr.max+chunkData)
		}
		go lr.readAhead()
	}
	return head, int64(lr.end - lr.start), nil
}

// readAhead reads chunks until the input ends or stop.
func (lr *lineReader) readAhead() {
	defer close(lr.full)
	for {
		c := chunk{esc: -1}
		select {
		case c.buf = <-lr.free:
		case <-lr.done:
			return
		}
		c.n, c.err = read(lr.r, c.buf[lr.max:])
		// Looked for here, beside the parser.
		data := c.buf[lr.max : lr.max+c.n]
		c.esc = bytes.IndexByte(data, 0x1b)
		select {
		case lr.full <- c:
		case <-lr.done:
			return
		}
		if c.err != nil {
			return
		}
	}
}

// stop ends reading ahead and waits for it.
func (lr *lineReader) stop() {
	if lr.done == nil {
		return
	}
	close(lr.done)
	for range lr.full {
	}
	lr.done = nil
}

// next moves to the next chunk, carrying the unparsed bytes (fewer than
// max) along, and returns the number of bytes read.
func (lr *lineReader) next() int64 {
	c, ok := <-lr.full
	if !ok {
		lr.err = io.ErrUnexpectedEOF // not reached: the last chunk has an error
		return 0
	}
	carry := lr.end - lr.start
	copy(c.buf[lr.max-carry:lr.max], lr.buf[lr.start:lr.end])
	lr.free <- lr.buf
	lr.buf, lr.start, lr.end, lr.err = c.buf, lr.max-carry, lr.max+c.n, c.err
	// The first ESC from here on: in the carried bytes, or where the
	// reader found it in the data.
	lr.esc, lr.escFrom, lr.escTo = -1, lr.start, lr.end
	if i := bytes.IndexByte(lr.buf[lr.start:lr.max], 0x1b); i >= 0 {
		lr.esc = lr.start + i
	} else if c.esc >= 0 {
		lr.esc = lr.max + c.esc
	}
	return int64(c.n)
}

// hasESC reports whether buf[from:to] holds an ESC. Lines are asked in
// order, so each byte is searched once.
func (lr *lineReader) hasESC(from, to int) bool {
	if lr.esc >= 0 && lr.esc < from {
		lr.esc, lr.escFrom, lr.escTo = -1, from, from
	}
	if lr.esc < 0 && lr.escTo < to {
		f := max(lr.escFrom, lr.escTo, from)
		if i := bytes.IndexByte(lr.buf[f:lr.end], 0x1b); i >= 0 {
			lr.esc = f + i
		}
		lr.escFrom, lr.escTo = f, lr.end
	}
	return lr.esc >= from && lr.esc < to
}

// readLines feeds every line to the parser. A line of max bytes or more is
// fed cut at max bytes, its tail skipped.
func (p *parser) readLines(ctx context.Context, lr *lineReader) error {
	long := false // skipping the tail of a long line
	for {
		if !long && p.quiet() && p.versionsKnown() {
			p.outputLines(ctx, lr)
		} else if !long && p.rs.blk != nil {
			p.blockLines(ctx, lr)
		}
		if i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n'); i >= 0 {
			from, to := lr.start, lr.start+i+1
			lr.start = to
			switch {
			case long:
				long = false
			case i >= lr.max:
				p.log.LongLines++
				p.feed(lr.buf[from:from+lr.max], lr.hasESC(from, from+lr.max))
			case lr.hasESC(from, to):
				p.feed(lr.buf[from:to], true)
			case !p.quiet() || !p.output(lr.buf[from:to-1]):
				p.feed(lr.buf[from:to], false)
			}
			if p.err != nil {
				return p.err
			}
			if p.lineNo&0xffff == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			continue
		}
		if !long && lr.end-lr.start >= lr.max {
			// The head of a long line, before its end is read.
			long = true
			p.log.LongLines++
			p.feed(lr.buf[lr.start:lr.start+lr.max], lr.hasESC(lr.start, lr.start+lr.max))
			if p.err != nil {
				return p.err
			}
		}
		if long {
			lr.start = lr.end
		}
		if lr.err != nil {
			// The last line, without a newline, and the error.
			if lr.end > lr.start {
				p.feed(lr.buf[lr.start:lr.end], lr.hasESC(lr.start, lr.end))
				lr.start = lr.end
				if p.err != nil {
					return p.err
				}
			}
			if errors.Is(lr.err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading the log at line %d: %w", p.lineNo, lr.err)
		}
		p.log.Bytes += lr.next()
	}
}

// outputLines passes over the lines of test output that come next while
// the parser is quiet, counting them: the lines output would take, one
// after the other.
func (p *parser) outputLines(ctx context.Context, lr *lineReader) {
	n := p.lineNo
	for {
		from, to, b, ok := lr.peekLine()
		if !ok || lr.hasESC(from, to) || !testOutput(b) {
			break
		}
		lr.start = to
		p.lineNo++
	}
	p.checkContext(ctx, n)
}

// peekLine returns the next line if the buffer holds all of it and it is
// not long: where it is in the buffer, and what it holds before its line
// end.
func (lr *lineReader) peekLine() (from, to int, b []byte, ok bool) {
	i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n')
	if i < 0 || i >= lr.max {
		return 0, 0, nil, false
	}
	from, to = lr.start, lr.start+i+1
	b = lr.buf[from : to-1]
	for len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return from, to, b, true
}

// checkContext checks ctx, as readLines does at every 65536th line, if
// the lines taken since line n passed one.
func (p *parser) checkContext(ctx context.Context, n int64) {
	if p.lineNo>>16 != n>>16 {
		if err := ctx.Err(); err != nil && p.err == nil {
			p.err = err
		}
	}
}

// blockLines takes the lines of a Ginkgo v2 result block's body that come
// next, as feed would, while they neither end nor change the block: lines
// of the failure message, and captured output.
func (p *parser) blockLines(ctx context.Context, lr *lineReader) {
	blk := p.rs.blk
	if blk.h.format == GinkgoV1 || blk.h.format == FormatAuto && p.format == GinkgoV1 || !blk.locDone ||
		p.rs.wr != nil || p.rs.sum != nil || p.rs.afterDelim || !p.versionsKnown() {
		return
	}
	n := p.lineNo
	for {
		from, to, b, ok := lr.peekLine()
		if !ok || len(b) <= 2 || b[0] != ' ' || b[1] != ' ' || lr.hasESC(from, to) {
			break
		}
		s := view(b)
		if !blk.inSection && !blk.done {
			if b[2] != ' ' && (b[2] == '<' || b[2] == 'I' || strings.HasSuffix(s, sectionStart)) {
				break // a section, or where the failure happened
			}
			p.addMsg(blk, s[2:])
		} else if blk.inSection && b[2] == '<' && strings.HasPrefix(s, sectionEnd) ||
			blk.done && blk.fail.Panic == "" && blk.h.state == Panicked || !testOutput(b) {
			break // the section's end, a forwarded panic, an interrupt
		}
		lr.start = to
		p.lineNo++
	}
	p.checkContext(ctx, n)
}

// view is b as a string without a copy. The parser's lines are views of
// the read buffer: valid only until the next line is read, so whatever the
// parser keeps from a line it copies (strings.Clone).
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
