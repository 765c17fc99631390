// Package failure gives every error the installer returns a class from the
// exit-code table of docs/DESIGN.md §3, so main.go can map any wrapped error to
// its exit code with errors.As and the log can say what went wrong and what
// to do next.
package failure

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
)

// Class is a row of the exit-code table (docs/DESIGN.md §3). Its value is the exit code.
type Class int

// The classes, one per exit code.
const (
	OK           Class = 0
	Internal     Class = 1   // a bug
	Usage        Class = 2   // bad flag, bad URL, unknown arch, bad configuration
	NotInstalled Class = 3   // demo mode or nothing installed (verify, status)
	Download     Class = 4   // no mirror served the artifact in time
	Integrity    Class = 5   // checksum or signature mismatch, or a required one missing
	Archive      Class = 6   // corrupt archive, unsafe entry, over size limits
	FileSystem   Class = 7   // permission, read-only, disk full
	Verify       Class = 8   // binaries do not run here, wrong arch/libc, version mismatch
	Locked       Class = 9   // another install holds the lock
	Interrupted  Class = 130 // stopped by SIGINT; nothing recorded
	Terminated   Class = 143 // stopped by SIGTERM; nothing recorded
)

var names = map[Class]string{
	OK: "ok", Internal: "internal", Usage: "usage", NotInstalled: "not-installed",
	Download: "download", Integrity: "integrity", Archive: "archive",
	FileSystem: "filesystem", Verify: "verification", Locked: "locked",
	Interrupted: "interrupted", Terminated: "terminated",
}

// String names the class in logs and in the receipt ("download", "integrity", ...).
func (c Class) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Hints is what an error says to do about it: the one carrier of advice.
// Error embeds it, and so does any other package's error that carries
// advice before it becomes an Error (fetch's failed attempts), so advice
// moves from one to the other as one value (see [Error.Carry]).
type Hints struct {
	Hint string   // what to do, in the domain's words (never a flag's name)
	Fix  []Remedy // steps only the command line can word (internal/app renders them)
}

// Suggest adds a remedy (a step that names a flag or a command, worded by
// internal/app) and returns h, for chaining.
func (h *Hints) Suggest(s Step, arg ...string) *Hints {
	h.Fix = append(h.Fix, Remedy{Step: s, Arg: strings.Join(arg, " ")})
	return h
}

// Advised says whether h carries any advice: a hint or a remedy.
func (h *Hints) Advised() bool { return h.Hint != "" || len(h.Fix) > 0 }

// Error is an error with a class and optional advice (its embedded Hints:
// e.Hint, e.Fix) that tells the user what to do about it.
type Error struct {
	Class Class
	Err   error
	Hints
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

// Suggest adds a remedy (a step that names a flag or a command, worded by
// internal/app) and returns e, for chaining.
func (e *Error) Suggest(s Step, arg ...string) *Error {
	e.Hints.Suggest(s, arg...)
	return e
}

// Advise sets the hint and the remedies at once (to carry another error's
// advice, see [Advice]) and returns e.
func (e *Error) Advise(hint string, fix []Remedy) *Error {
	return e.Carry(Hints{Hint: hint, Fix: fix})
}

// Carry makes h the advice of e (replacing any it had) and returns e. The
// remedies are e's own from then on: a later Suggest on e never writes into
// the slice of the error h came from.
func (e *Error) Carry(h Hints) *Error {
	h.Fix = slices.Clip(h.Fix)
	e.Hints = h
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
	h, _ := Advice(err)
	return h
}

// Advice returns the advice of the outermost error in err's chain that has
// any: its hint and its remedies.
func Advice(err error) (hint string, fix []Remedy) {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return "", nil
		}
		if e.Advised() {
			return e.Hint, e.Fix
		}
		err = e.Err
	}
	return "", nil
}

// Steps lists the steps of the remedies Advice finds in err (for tests and
// for callers that act on a remedy).
func Steps(err error) []Step {
	_, fix := Advice(err)
	out := make([]Step, len(fix))
	for i, r := range fix {
		out[i] = r.Step
	}
	return out
}

// Signal is the cause a run's context is cancelled with when the process
// receives SIGINT or SIGTERM (see [SignalContext]). An interrupted build is
// not a failed mirror: its class is Interrupted or Terminated, never one that
// a fallback policy turns into demo mode.
type Signal struct{ Sig os.Signal }

func (s *Signal) Error() string {
	if s.Sig == syscall.SIGTERM {
		return "terminated by SIGTERM"
	}
	return "interrupted by SIGINT"
}

// Is makes a signal a cancellation: errors.Is(err, context.Canceled) holds.
func (s *Signal) Is(target error) bool { return target == context.Canceled }

// Class is Terminated for SIGTERM and Interrupted otherwise.
func (s *Signal) Class() Class {
	if s.Sig == syscall.SIGTERM {
		return Terminated
	}
	return Interrupted
}

// Stopped reports whether ctx was cancelled by a signal (or any other
// cancellation of the run) and returns the error to end the run with: err
// (which may be nil or a symptom of the cancellation, e.g. a killed child)
// wrapped under the signal's class. It returns nil when ctx is live.
func Stopped(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(ctx)
	var sig *Signal
	if !errors.As(cause, &sig) {
		return err // cancelled by the caller, not by a signal: keep err's own class
	}
	e := &Error{Class: sig.Class(), Err: cause, Hints: Hints{
		Hint: "the run was stopped before it finished; the previous install (or nothing) is as it was, and no demo mode was recorded"}}
	if err != nil && !errors.Is(err, context.Canceled) {
		e.Err = fmt.Errorf("%w (while: %w)", cause, err)
	}
	return e
}
