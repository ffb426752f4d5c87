//go:build !linux

package junitconv

import "io"

// startWriteback returns w: only Linux is asked to start writing early.
func startWriteback(w io.Writer) io.Writer { return w }
