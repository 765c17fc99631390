// Package failure gives every error the installer returns a class from the
// exit-code table of design.md §3, so main.go can map any wrapped error to
// its exit code with errors.As and the log can say what went wrong and what
// to do next.
package failure

import (
	"errors"
	"fmt"
)

// Class is a row of the exit-code table (design.md §3). Its value is the exit code.
type Class int

// The classes, one per exit code.
const (
	OK           Class = 0
	Internal     Class = 1 // a bug
	Usage        Class = 2 // bad flag, bad URL, unknown arch, bad configuration
	NotInstalled Class = 3 // demo mode or nothing installed (verify, status)
	Download     Class = 4 // no mirror served the artifact in time
	Integrity    Class = 5 // checksum or signature mismatch, or a required one missing
	Archive      Class = 6 // corrupt archive, unsafe entry, over size limits
	FileSystem   Class = 7 // permission, read-only, disk full
	Verify       Class = 8 // binaries do not run here, wrong arch/libc, version mismatch
	Locked       Class = 9 // another install holds the lock
)

var names = map[Class]string{
	OK: "ok", Internal: "internal", Usage: "usage", NotInstalled: "not-installed",
	Download: "download", Integrity: "integrity", Archive: "archive",
	FileSystem: "filesystem", Verify: "verification", Locked: "locked",
}

// String names the class in logs and in the receipt ("download", "integrity", ...).
func (c Class) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is an error with a class and an optional hint that tells the user
// what to do about it.
type Error struct {
	Class Class
	Err   error
	Hint  string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the process exit code for this error.
func (e *Error) ExitCode() int { return int(e.Class) }

// New returns an error of class c with a message built like fmt.Errorf
// (so %w wraps).
func New(c Class, format string, args ...any) *Error {
	return &Error{Class: c, Err: fmt.Errorf(format, args...)}
}

// Wrap gives err the class c unless it is nil. An err that already carries a
// class keeps it: the innermost classification wins.
func Wrap(c Class, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Class: c, Err: err}
}

// WithHint sets the hint and returns e, for chaining.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// ClassOf returns the class carried by err: OK for nil, Internal when err
// carries none.
func ClassOf(err error) Class {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Internal
}

// HintOf returns the first hint found in err's chain, or "".
func HintOf(err error) string {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return ""
		}
		if e.Hint != "" {
			return e.Hint
		}
		err = e.Err
	}
	return ""
}
