package junitconv

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// spoolMemLimit is how much testcase XML is held in memory before it
// goes to a temporary file.
const spoolMemLimit = 2 << 20

// spoolChunk is how much testcase XML is gathered before it is written to
// the spool file.
const spoolChunk = 256 << 10

// spool holds the testcases written while the log is read, until the
// suite totals are known: in memory up to its limit, then in a temporary
// file, so that memory stays bounded whatever the log's size. The
// converter appends to buf and calls flush.
type spool struct {
	dir   string
	limit int
	// buf is everything written while it fits in memory; once the spool
	// has a file, what is not yet written to it.
	buf     []byte
	f       *os.File
	written int64 // bytes in f
}

// size is the number of bytes written to the spool.
func (s *spool) size() int64 { return s.written + int64(len(s.buf)) }

// flush moves buf to the file once it holds more than the spool keeps in
// memory, in chunks of spoolChunk.
func (s *spool) flush() error {
	if s.f == nil {
		if len(s.buf) <= s.limit {
			return nil
		}
		f, err := os.CreateTemp(s.dir, "confrun-junit-*.spool")
		if err != nil {
			return fmt.Errorf("creating a spool file for the testcases: %w", err)
		}
		s.f = f
	} else if len(s.buf) < spoolChunk {
		return nil
	}
	return s.drain()
}

// drain writes buf to the file.
func (s *spool) drain() error {
	n, err := s.f.Write(s.buf)
	s.written += int64(n)
	if err != nil {
		return fmt.Errorf("writing the testcase spool: %w", err)
	}
	s.buf = s.buf[:0]
	return nil
}

// copySection writes the testcases written to the spool between offsets
// start and end to w, without the newline that separates them from the
// testcases before start.
func (s *spool) copySection(w io.ReaderFrom, start, end int64) error {
	if start > 0 {
		start++
	}
	if start >= end {
		return nil
	}
	if s.f == nil {
		_, err := w.ReadFrom(bytes.NewReader(s.buf[start:end]))
		return err
	}
	if len(s.buf) > 0 {
		if err := s.drain(); err != nil {
			return err
		}
	}
	_, err := w.ReadFrom(io.NewSectionReader(s.f, start, end-start))
	return err
}

func (s *spool) close() {
	if s.f != nil {
		_ = s.f.Close()
		_ = os.Remove(s.f.Name())
	}
}
