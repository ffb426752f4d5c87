// Package cliutil holds what every confrun verb shares: I/O streams, output
// formats, exit codes and the kubectl-style connection flags.
package cliutil

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the standard streams of one command invocation. Commands
// write data to Out and everything meant for a person (progress, warnings)
// to ErrOut, so that `-o json` output stays machine-readable.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// StdStreams returns the process's standard streams.
func StdStreams() IOStreams {
	return IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
}

// IsTerminal reports whether w is a terminal, so that callers can choose a
// live progress bar over plain lines.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
