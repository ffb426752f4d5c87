package cliutil

import (
	"errors"
	"fmt"
)

// Exit codes shared by all verbs.
const (
	// ExitOK means the command did all it was asked.
	ExitOK = 0
	// ExitFailure means the command ran but found a failure (a failed check,
	// a missing image, a failed test).
	ExitFailure = 1
	// ExitUsage means the input was unusable: bad flags, bad files.
	ExitUsage = 2
	// ExitIncomplete means the command produced output that is known to be
	// incomplete (for example a truncated e2e.log).
	ExitIncomplete = 3
)

// ExitError carries an exit code with an error. A nil Err with a non-zero
// Code means the command already said what went wrong.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// WithExitCode wraps err so that main exits with code.
func WithExitCode(code int, err error) error {
	return &ExitError{Code: code, Err: err}
}

// UsageError is a shortcut for input errors (exit 2).
func UsageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// ExitCode returns the exit code for err: 0 for nil, the ExitError's code
// when there is one, 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}
