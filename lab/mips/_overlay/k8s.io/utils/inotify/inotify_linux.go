//go:build linux

// Lab build overlay (see lab/README.md, "The mips64le node"): replaces
// k8s.io/utils/inotify/inotify_linux.go in the mips64le kubelet only, via
// `go build -overlay`. Same API as upstream; the difference is readEvents.
//
// Upstream casts a pointer into a byte buffer to *syscall.InotifyEvent and
// reads its uint32 fields. The buffer has no alignment guarantee, so those
// loads can be unaligned. A real MIPS kernel traps and fixes an unaligned
// load in software; qemu-user delivers SIGBUS instead and the kubelet dies
// (cadvisor's raw cgroup watcher is the first reader). Here every event
// header is decoded field by field with encoding/binary: no pointer into the
// buffer, no alignment assumption, on any architecture.

package inotify // import "k8s.io/utils/inotify"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// struct inotify_event: int32 wd, uint32 mask, uint32 cookie, uint32 len,
// then len bytes of NUL-padded name.
const eventHeaderSize = syscall.SizeofInotifyEvent

// rawEvent is one decoded struct inotify_event.
type rawEvent struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string // without the NUL padding; "" when the kernel sent none
}

// decodeEvents splits a read(2) result into events. It stops at the first
// header or name that does not fit in b and reports how many bytes it used.
func decodeEvents(b []byte) (events []rawEvent, used int) {
	order := binary.NativeEndian
	for len(b)-used >= eventHeaderSize {
		h := b[used : used+eventHeaderSize]
		nameLen := int(order.Uint32(h[12:16]))
		if nameLen < 0 || nameLen > len(b)-used-eventHeaderSize {
			break
		}
		nameBytes := b[used+eventHeaderSize : used+eventHeaderSize+nameLen]
		if i := bytes.IndexByte(nameBytes, 0); i >= 0 {
			nameBytes = nameBytes[:i]
		}
		events = append(events, rawEvent{
			wd:     int32(order.Uint32(h[0:4])),
			mask:   order.Uint32(h[4:8]),
			cookie: order.Uint32(h[8:12]),
			name:   string(nameBytes),
		})
		used += eventHeaderSize + nameLen
	}
	return events, used
}

// NewWatcher creates and returns a new inotify instance using inotify_init(2)
func NewWatcher() (*Watcher, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if fd == -1 {
		return nil, os.NewSyscallError("inotify_init", err)
	}
	w := &Watcher{
		fd:      fd,
		watches: map[string]*watch{},
		paths:   map[int]string{},
		Event:   make(chan *Event),
		Error:   make(chan error),
		done:    make(chan bool, 1),
	}
	go w.readEvents()
	return w, nil
}

// Close closes an inotify watcher instance
// It sends a message to the reader goroutine to quit and removes all watches
// associated with the inotify instance
func (w *Watcher) Close() error {
	if w.isClosed {
		return nil
	}
	w.isClosed = true
	w.done <- true
	for p := range w.watches {
		_ = w.RemoveWatch(p)
	}
	return nil
}

// AddWatch adds path to the watched file set.
// The flags are interpreted as described in inotify_add_watch(2).
func (w *Watcher) AddWatch(path string, flags uint32) error {
	if w.isClosed {
		return errors.New("inotify instance already closed")
	}
	existing, known := w.watches[path]
	if known {
		existing.flags |= flags
		flags |= syscall.IN_MASK_ADD
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	wd, err := syscall.InotifyAddWatch(w.fd, path, flags)
	if err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: path, Err: err}
	}
	if !known {
		w.watches[path] = &watch{wd: uint32(wd), flags: flags}
		w.paths[wd] = path
	}
	return nil
}

// Watch adds path to the watched file set, watching all events.
func (w *Watcher) Watch(path string) error {
	return w.AddWatch(path, InAllEvents)
}

// RemoveWatch removes path from the watched file set.
func (w *Watcher) RemoveWatch(path string) error {
	wt, ok := w.watches[path]
	if !ok {
		return fmt.Errorf("can't remove non-existent inotify watch for: %s", path)
	}
	// EINVAL means the kernel already dropped the watch (or the fd is gone):
	// forget it here as well, or no later event would ever clean it up.
	if ok, errno := syscall.InotifyRmWatch(w.fd, wt.wd); ok == -1 && errno != syscall.EINVAL {
		return os.NewSyscallError("inotify_rm_watch", errno)
	}
	delete(w.watches, path)
	w.mu.Lock()
	delete(w.paths, int(wt.wd))
	w.mu.Unlock()
	return nil
}

// readEvents reads from the inotify file descriptor, converts the
// received events into Event objects and sends them via the Event channel
func (w *Watcher) readEvents() {
	buf := make([]byte, eventHeaderSize*4096)
	for {
		n, err := syscall.Read(w.fd, buf)
		var done bool
		select {
		case done = <-w.done:
		default:
		}
		if n == 0 || done {
			close(w.Event)
			if err := syscall.Close(w.fd); err != nil {
				w.Error <- os.NewSyscallError("close", err)
			}
			close(w.Error)
			return
		}
		if n < 0 {
			w.Error <- os.NewSyscallError("read", err)
			continue
		}
		if n < eventHeaderSize {
			w.Error <- errors.New("inotify: short read in readEvents()")
			continue
		}
		events, _ := decodeEvents(buf[:n])
		for _, raw := range events {
			// Events for a watched path itself carry no name: always report
			// the watched path, plus the entry's name when there is one.
			w.mu.Lock()
			p, known := w.paths[int(raw.wd)]
			w.mu.Unlock()
			if !known {
				continue
			}
			ev := &Event{Mask: raw.mask, Cookie: raw.cookie, Name: p}
			if raw.name != "" {
				ev.Name = p + "/" + raw.name
			}
			w.Event <- ev
		}
	}
}

// String formats the event e in the form
// "filename: 0xEventMask = IN_ACCESS|IN_ATTRIB_|..."
func (e *Event) String() string {
	names := ""
	rest := e.Mask
	for _, b := range eventBits {
		if rest&b.Value == b.Value {
			rest &^= b.Value
			names += "|" + b.Name
		}
	}
	if rest != 0 {
		names += fmt.Sprintf("|%#x", rest)
	}
	if names != "" {
		names = " == " + names[1:]
	}
	return fmt.Sprintf("%q: %#x%s", e.Name, e.Mask, names)
}

// Flags for AddWatch and event masks, as in inotify(7).
const (
	InDontFollow uint32 = syscall.IN_DONT_FOLLOW
	InOneshot    uint32 = syscall.IN_ONESHOT
	InOnlydir    uint32 = syscall.IN_ONLYDIR

	InAccess       uint32 = syscall.IN_ACCESS
	InAllEvents    uint32 = syscall.IN_ALL_EVENTS
	InAttrib       uint32 = syscall.IN_ATTRIB
	InClose        uint32 = syscall.IN_CLOSE
	InCloseNowrite uint32 = syscall.IN_CLOSE_NOWRITE
	InCloseWrite   uint32 = syscall.IN_CLOSE_WRITE
	InCreate       uint32 = syscall.IN_CREATE
	InDelete       uint32 = syscall.IN_DELETE
	InDeleteSelf   uint32 = syscall.IN_DELETE_SELF
	InModify       uint32 = syscall.IN_MODIFY
	InMove         uint32 = syscall.IN_MOVE
	InMovedFrom    uint32 = syscall.IN_MOVED_FROM
	InMovedTo      uint32 = syscall.IN_MOVED_TO
	InMoveSelf     uint32 = syscall.IN_MOVE_SELF
	InOpen         uint32 = syscall.IN_OPEN

	InIsdir     uint32 = syscall.IN_ISDIR
	InIgnored   uint32 = syscall.IN_IGNORED
	InQOverflow uint32 = syscall.IN_Q_OVERFLOW
	InUnmount   uint32 = syscall.IN_UNMOUNT
)

// eventBits names the mask bits for String, in upstream's order.
var eventBits = []struct {
	Value uint32
	Name  string
}{
	{InAccess, "IN_ACCESS"},
	{InAttrib, "IN_ATTRIB"},
	{InClose, "IN_CLOSE"},
	{InCloseNowrite, "IN_CLOSE_NOWRITE"},
	{InCloseWrite, "IN_CLOSE_WRITE"},
	{InCreate, "IN_CREATE"},
	{InDelete, "IN_DELETE"},
	{InDeleteSelf, "IN_DELETE_SELF"},
	{InModify, "IN_MODIFY"},
	{InMove, "IN_MOVE"},
	{InMovedFrom, "IN_MOVED_FROM"},
	{InMovedTo, "IN_MOVED_TO"},
	{InMoveSelf, "IN_MOVE_SELF"},
	{InOpen, "IN_OPEN"},
	{InIsdir, "IN_ISDIR"},
	{InIgnored, "IN_IGNORED"},
	{InQOverflow, "IN_Q_OVERFLOW"},
	{InUnmount, "IN_UNMOUNT"},
}
