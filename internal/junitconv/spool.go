package junitconv

import (
	"fmt"
	"io"
	"os"
)

// spoolMemLimit is how much testcase XML is held in memory before it
// goes to a temporary file.
const spoolMemLimit = 2 << 20

// spoolChunk is how much testcase XML is gathered before it is set aside
// in memory or written to the spool file; spoolSlack is room for the
// testcase that fills a chunk, so that appending it does not grow it.
const (
	spoolChunk = 256 << 10
	spoolSlack = 128 << 10
)

// spool holds the testcases written while the log is read, until the
// suite totals are known: in memory up to its limit, then in a temporary
// file, so that memory stays bounded whatever the log's size. The
// converter appends to buf and calls flush.
type spool struct {
	dir   string
	limit int
	// mem are full chunks held in memory, memSize bytes, until the
	// spool has a file.
	mem     [][]byte
	memSize int64
	// buf is the chunk being filled.
	buf     []byte
	f       *os.File
	written int64 // bytes in f
}

func newSpool(dir string, limit int) *spool {
	return &spool{dir: dir, limit: limit, buf: make([]byte, 0, spoolChunk+spoolSlack)}
}

// size is the number of bytes written to the spool.
func (s *spool) size() int64 { return s.written + s.memSize + int64(len(s.buf)) }

// flush sets buf aside once it is full: in memory while the spool fits
// its limit, in the file once it does not.
func (s *spool) flush() error {
	if s.f == nil && s.size() <= int64(s.limit) {
		if len(s.buf) >= spoolChunk {
			s.mem = append(s.mem, s.buf)
			s.memSize += int64(len(s.buf))
			s.buf = make([]byte, 0, spoolChunk+spoolSlack)
		}
		return nil
	}
	if s.f != nil && len(s.buf) < spoolChunk {
		return nil
	}
	return s.drain()
}

// drain writes what the spool holds in memory to its file, creating it.
func (s *spool) drain() error {
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "confrun-junit-*.spool")
		if err != nil {
			return fmt.Errorf("creating a spool file for the testcases: %w", err)
		}
		// Nameless from the start: nothing is left behind, whatever
		// happens.
		if err := os.Remove(f.Name()); err != nil {
			_ = f.Close()
			return fmt.Errorf("creating a spool file for the testcases: %w", err)
		}
		s.f = f
	}
	for len(s.mem) > 0 {
		if err := s.write(s.mem[0]); err != nil {
			return err
		}
		s.memSize -= int64(len(s.mem[0]))
		s.mem = s.mem[1:]
	}
	s.mem = nil
	if err := s.write(s.buf); err != nil {
		return err
	}
	s.buf = s.buf[:0]
	return nil
}

func (s *spool) write(b []byte) error {
	n, err := s.f.Write(b)
	s.written += int64(n)
	if err != nil {
		return fmt.Errorf("writing the testcase spool: %w", err)
	}
	return nil
}

// copySection appends the testcases written to the spool between offsets
// start and end to o, without the newline that separates them from the
// testcases before start: from memory, or read from the file straight into
// o's buffer.
func (s *spool) copySection(o *output, start, end int64) error {
	if start > 0 {
		start++
	}
	if start >= end {
		return nil
	}
	if s.f == nil {
		var off int64
		for _, b := range append(s.mem, s.buf) {
			from, to := max(start-off, 0), min(end-off, int64(len(b)))
			off += int64(len(b))
			if from < to {
				o.buf = append(o.buf, b[from:to]...)
				o.fill()
			}
		}
		return o.err
	}
	if len(s.buf) > 0 || len(s.mem) > 0 {
		if err := s.drain(); err != nil {
			return err
		}
	}
	for start < end {
		o.fill() // leaves room
		n := len(o.buf)
		m := int(min(end-start, int64(cap(o.buf)-n)))
		k, err := s.f.ReadAt(o.buf[n:n+m], start)
		o.buf = o.buf[:n+k]
		start += int64(k)
		if k < m {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading the testcase spool: %w", err)
		}
	}
	return o.err
}

// close lets the spool file go. The kernel frees its pages as it closes
// it, which takes a while for a large one: that is left to a goroutine, to
// overlap with syncing the result.
func (s *spool) close() {
	if f := s.f; f != nil {
		s.f = nil
		go f.Close()
	}
}
