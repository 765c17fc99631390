package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Errors Download.Run and Watch return of their own (the caller words
// them and gives them a Kind).
var (
	ErrStalled   = errors.New("stalled")                              // no body bytes for the stall time
	ErrPreempted = errors.New("another mirror answered first")        // Claim said no
	ErrShort     = errors.New("body ended before its length")         // closed early, resumes spent
	ErrNoRange   = errors.New("answered a range from another offset") // a 206 that is not the range asked for
)

// SizeError: more bytes than the limit, or not the size promised.
type SizeError struct {
	Got, Limit int64 // bytes announced or received; the limit
	Promised   int64 // the size metadata promised (Download.Size), 0 if none
}

func (e *SizeError) Error() string {
	if e.Promised > 0 {
		return fmt.Sprintf("%d bytes where %d were promised", e.Got, e.Promised)
	}
	return fmt.Sprintf("larger than the limit (%d > %d bytes)", e.Got, e.Limit)
}

// WriteError is a failure of Download.W or Download.Restart: local, not
// the mirror's.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// Part is one answer to a GET of a download, its status checked.
type Part struct {
	Body      io.ReadCloser
	Partial   bool   // 206
	Start     int64  // a 206's first byte (Content-Range)
	Length    int64  // this answer's Content-Length, -1 unknown
	Validator string // a strong ETag or Last-Modified, for If-Range; "" none
}

// Download is one file streamed from a mirror and resumed after a break:
// the one resumable downloader of AppHub mirrors (fetch) and registries
// (oci).
type Download struct {
	// Open GETs the file from byte from (> 0: with a Range, and an If-Range
	// when validator is not empty) under ctx, which Run cancels when the
	// body stalls. It returns a Part for a 200 or a 206, or the caller's
	// own error, which Run returns unchanged.
	Open func(ctx context.Context, from int64, validator string) (*Part, error)
	// Claim, when set, is called with the file's size (-1 unknown) once an
	// answer's headers are in, before a byte is read; false ends Run with
	// ErrPreempted.
	Claim func(size int64) bool
	// W receives the bytes in order; Restart is called before a server
	// that ignored the range (or whose file changed) sends the file again
	// from its start.
	W       io.Writer
	Restart func() error
	Limit   int64 // the most bytes taken (> 0)
	Size    int64 // the size metadata promises (an index, a descriptor); 0 = unknown
	Stall   time.Duration
	Resumes int // how often a body that broke after bringing bytes is resumed
	// Resumable says whether a read error is worth resuming (the caller's
	// classification: a reset connection is, a certificate error is not).
	Resumable func(error) bool
	// Resuming, when set, is told of each resume: from where and why.
	Resuming func(from int64, err error)
}

// Run downloads the file and returns how many bytes W received.
func (d *Download) Run(ctx context.Context) (n int64, err error) {
	var validator string
	var high int64 // the most bytes any answer got to: a resume must go further
	limit := d.Limit
	if d.Size > 0 {
		limit = min(limit, d.Size)
	}
	for resume := 0; ; resume++ {
		actx, cancel := context.WithCancelCause(ctx)
		p, err := d.Open(actx, n, validator)
		if err != nil {
			cancel(nil)
			return n, err
		}
		size := p.Length
		if p.Partial && size >= 0 {
			size += p.Start // the whole file's
		}
		if n > 0 && p.Partial && p.Start != n || n == 0 && p.Partial && p.Start != 0 {
			p.Body.Close()
			cancel(nil)
			return n, ErrNoRange
		}
		if d.Claim != nil && !d.Claim(max(size, d.Size, -1)) {
			p.Body.Close()
			cancel(nil)
			return n, ErrPreempted
		}
		if n > 0 && !p.Partial {
			// The range was ignored, or the file changed (If-Range): start over.
			if d.Restart != nil {
				if err := d.Restart(); err != nil {
					p.Body.Close()
					cancel(nil)
					return n, &WriteError{err}
				}
			}
			n = 0
		}
		if validator == "" {
			validator = p.Validator
		}
		if size > limit {
			p.Body.Close()
			cancel(nil)
			return n, &SizeError{Got: size, Limit: limit, Promised: d.Size}
		}
		w := Watch(ctx, p.Body, d.Stall, cancel)
		got, err := io.Copy(writer{d.W}, io.LimitReader(w, limit+1-n))
		w.Stop()
		p.Body.Close()
		cancel(nil)
		n += got
		var we *WriteError
		switch {
		case errors.As(err, &we):
			return n, err
		case err != nil:
			if n > high && ctx.Err() == nil && resume < d.Resumes && (errors.Is(err, ErrStalled) || d.Resumable == nil || d.Resumable(err)) {
				high = n
				if d.Resuming != nil {
					d.Resuming(n, err)
				}
				continue
			}
			return n, err
		case n > limit:
			return n, &SizeError{Got: n, Limit: limit, Promised: d.Size}
		case size >= 0 && n < size:
			// Closed early without an error (a proxy, HTTP/1.0): resume too.
			if n > high && ctx.Err() == nil && resume < d.Resumes {
				high = n
				if d.Resuming != nil {
					d.Resuming(n, ErrShort)
				}
				continue
			}
			return n, fmt.Errorf("%w: %d of %d bytes", ErrShort, n, size)
		case d.Size > 0 && n != d.Size:
			return n, &SizeError{Got: n, Limit: limit, Promised: d.Size}
		}
		return n, nil
	}
}

// writer marks W's failures as local.
type writer struct{ w io.Writer }

func (w writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, &WriteError{err}
	}
	return n, nil
}

// Watched is a body under a stall watchdog: when no bytes come for the
// stall time, cancel(ErrStalled) cuts the request, and the read that was
// waiting returns ErrStalled (or the caller's context's error, when that
// ended first).
type Watched struct {
	r       io.Reader
	ctx     context.Context
	stall   time.Duration
	t       *time.Timer
	stalled atomic.Bool
}

// Watch starts the watchdog on r (the body of a request made under a
// context that cancel cancels; ctx is the caller's, above it).
func Watch(ctx context.Context, r io.Reader, stall time.Duration, cancel context.CancelCauseFunc) *Watched {
	w := &Watched{r: r, ctx: ctx, stall: stall}
	w.t = time.AfterFunc(stall, func() { w.stalled.Store(true); cancel(ErrStalled) })
	return w
}

func (w *Watched) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.t.Reset(w.stall)
	}
	if err != nil && err != io.EOF {
		if w.ctx.Err() != nil {
			return n, w.ctx.Err()
		}
		if w.stalled.Load() {
			return n, ErrStalled
		}
	}
	return n, err
}

// Stop stops the watchdog.
func (w *Watched) Stop() { w.t.Stop() }
