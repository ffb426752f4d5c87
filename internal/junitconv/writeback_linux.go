//go:build linux

package junitconv

import (
	"io"
	"os"
	"syscall"
)

// writebackChunk is how much of the result is written before the kernel
// is asked to start writing it to disk.
const writebackChunk = 1 << 20

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing the range's
// dirty pages, do not wait.
const syncFileRangeWrite = 2

// startWriteback returns w, when it is a file, with the kernel asked to
// start writing each megabyte to disk as soon as it is written, so that the
// fsync that makes the result durable (atomicfile) finds little left to
// do. It changes nothing about durability, which rests on that fsync.
func startWriteback(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return w
	}
	return &writeback{f: f}
}

type writeback struct {
	f                *os.File
	written, started int64
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackChunk {
		if rc, cerr := w.f.SyscallConn(); cerr == nil {
			_ = rc.Control(func(fd uintptr) {
				_ = syscall.SyncFileRange(int(fd), w.started, w.written-w.started, syncFileRangeWrite)
			})
		}
		w.started = w.written
	}
	return n, err
}
