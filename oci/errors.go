package oci

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/httpx"
)

// Sentinels for errors.Is.
var (
	// ErrNotFound: the registry answered that the repository, tag or blob
	// does not exist (or no tag matches the selector). An answer, not a
	// fault: move on to the next mirror, never retry.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the registry refused the request (401/403), with
	// or without credentials.
	ErrUnauthorized = errors.New("access denied by the registry")
)

// Kind says what a failure means for the mirror (the fetch racer's view):
// httpx.Kind, the one error-kind type of every source.
type Kind = httpx.Kind

// The kinds oci reports.
const (
	KindNotFound   = httpx.NotFound   // 404, unknown tag or repo, no matching tag, other 4xx answers: move on
	KindRetry      = httpx.Retry      // connection error, timeout, 429, 5xx, cut body: retry later
	KindFatal      = httpx.Fatal      // TLS certificate, bad answer: give up on this mirror
	KindIntegrity  = httpx.Integrity  // digest mismatch, pinned digest mismatch, wrong media type
	KindOversize   = httpx.Oversize   // layer larger than MaxBytes
	KindLocal      = httpx.Local      // writing the temp file failed
	KindPreempted  = httpx.Preempted  // another mirror won the race (Options.Claim said no)
	KindUnrunnable = httpx.Unrunnable // the registry has bundles for the selector, but Options.Accept took none
)

var kindClass = map[Kind]failure.Class{
	KindNotFound: failure.Download, KindRetry: failure.Download, KindFatal: failure.Download,
	KindIntegrity: failure.Integrity, KindOversize: failure.Archive, KindLocal: failure.FileSystem,
	KindPreempted: failure.Download, KindUnrunnable: failure.Verify,
}

// Error is a failed registry operation. It is always returned inside a
// *failure.Error carrying the class of its Kind.
type Error struct {
	Kind       Kind
	Mirror     string        // oci://HOST/REPO (never with credentials)
	Cause      string        // short, lower case: "tag 22.05.8-x86_64 not found"
	RetryAfter time.Duration // from a 429/503 Retry-After, if any
	Err        error         // underlying, if any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Cause == "" {
		return e.Mirror + ": " + e.Err.Error()
	}
	return e.Mirror + ": " + e.Cause
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes KindNotFound match ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Kind == KindNotFound && !errors.Is(e.Err, ErrUnauthorized)
}

func newErr(kind Kind, r Ref, err error, format string, args ...any) *failure.Error {
	e := &Error{Kind: kind, Mirror: r.String(), Cause: fmt.Sprintf(format, args...), Err: err}
	return &failure.Error{Class: kindClass[kind], Err: e}
}

// KindOf returns the Kind of an error from this package (KindFatal when err
// is not one).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFatal
}

// classify turns an error of oras-go or net/http into one of ours; what
// says what was being done ("resolve tag 22.05.8-x86_64").
func classify(ctx context.Context, r Ref, what string, err error) error {
	var fe *failure.Error
	if errors.As(err, &fe) {
		return err
	}
	if ctx.Err() != nil {
		// Cancelled or out of time: keep the context's error in the chain.
		return newErr(KindRetry, r, fmt.Errorf("%w (%w)", ctx.Err(), err), "%s: %v", what, ctx.Err())
	}
	var resp *errcode.ErrorResponse
	switch {
	case errors.Is(err, auth.ErrBasicCredentialNotFound) || strings.Contains(err.Error(), "missing username or password"):
		return statusErr(r, what+" (no credentials for "+r.Host+" in the Docker config)", http.StatusUnauthorized, nil, err)
	case errors.Is(err, errdef.ErrNotFound):
		return newErr(KindNotFound, r, err, "%s: not found", what)
	case errors.As(err, &resp):
		return statusErr(r, what, resp.StatusCode, nil, err)
	}
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) {
		e := newErr(KindFatal, r, err, "%s: TLS certificate not trusted: %v", what, err)
		e.Suggest(failure.GiveCACert)
		return e
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return newErr(KindRetry, r, err, "%s: connection refused", what)
	case errors.Is(err, syscall.ECONNRESET):
		return newErr(KindRetry, r, err, "%s: connection reset", what)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return newErr(KindRetry, r, err, "%s: timed out", what)
	}
	if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, errors.ErrUnsupported) {
		return newErr(KindRetry, r, err, "%s: %v", what, err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return newErr(KindRetry, r, err, "%s: %v", what, err)
	}
	// Anything else from the transport (a reset, an EOF mid-answer).
	return newErr(KindRetry, r, err, "%s: %v", what, err)
}

// statusErr classifies an HTTP answer that is not a success.
func statusErr(r Ref, what string, code int, h http.Header, err error) error {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e := newErr(KindNotFound, r, errors.Join(ErrUnauthorized, err), "%s: %d %s: the registry wants credentials or refused them", what, code, http.StatusText(code))
		e.Suggest(failure.RegistryLogin)
		return e
	case code == http.StatusNotFound || code == http.StatusGone:
		return newErr(KindNotFound, r, errors.Join(ErrNotFound, err), "%s: %d %s", what, code, http.StatusText(code))
	case httpx.StatusKind(code) == httpx.Retry:
		e := newErr(KindRetry, r, err, "%s: %d %s", what, code, http.StatusText(code))
		if h != nil {
			if s, perr := strconv.Atoi(h.Get("Retry-After")); perr == nil && s > 0 {
				e.Err.(*Error).RetryAfter = min(time.Duration(s)*time.Second, time.Minute)
			}
		}
		return e
	default:
		return newErr(KindNotFound, r, err, "%s: %d %s", what, code, http.StatusText(code))
	}
}
