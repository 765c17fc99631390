package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/rs/zerolog"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/httpx"
)

type session struct {
	o          Options
	log        zerolog.Logger
	version    string        // "latest" or a version
	arch       string        // canonical
	want       string        // the pinned digest, lower-case hex, or ""
	timeout    time.Duration // response headers
	connect    time.Duration // TCP connect and TLS handshake
	stall      time.Duration // no body bytes for this long
	raceDelay  time.Duration
	deadline   time.Duration
	retries    int
	maxBytes   int64
	tempDir    string
	minBackoff time.Duration
	maxBackoff time.Duration
	client     *retryablehttp.Client
	outOfTime  bool // a retry was dropped because it would pass the deadline
	hedgeGrace time.Duration
}

func (s *session) close() { s.client.HTTPClient.CloseIdleConnections() }

// mirrorGo is one go at one mirror as the code that reads from it sees
// it: the session, and the state of this go that is not the session's.
// The context passed alongside carries only cancellation and deadlines.
type mirrorGo struct {
	*session
	g   *run    // the racer's run of this go; nil outside a race (Candidates, tests): its methods then do nothing
	dir string  // the directory a file:// mirror's reads are confined to; "" = "/" (see localfs.go)
	bud *budget // the byte budget of the tree download in progress; nil outside one (see tree.go)
}

// newClient returns a retryablehttp client that makes exactly one attempt
// per call: Fetch schedules retries itself, across mirrors. Its retry
// policy still classifies transport errors (a TLS certificate error is not
// worth retrying, a reset connection is). Proxies come from HTTP_PROXY,
// HTTPS_PROXY and NO_PROXY; roots, when not nil, replace the system's
// trusted CAs (the caller adds its own to a copy of the system pool).
func newClient(hc *http.Client, connect, header time.Duration, roots *x509.CertPool) *retryablehttp.Client {
	if hc == nil {
		hc = &http.Client{Transport: httpx.Transport(connect, header, roots)}
	}
	return &retryablehttp.Client{
		HTTPClient:   hc,
		RetryMax:     0,
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
}

// kind says what a failed attempt means for the mirror: the one
// error-kind type of every source (httpx.Kind; oci's Kind is the same).
type kind = httpx.Kind

const (
	kNotFound   = httpx.NotFound   // an answer (404, 403, 410, other 4xx, missing file): move on, never retry
	kRetry      = httpx.Retry      // connection error, timeout, 408, 429, 5xx: try other mirrors, then retry
	kFatal      = httpx.Fatal      // neither (TLS certificate, redirect loop, bad listing): give up on the mirror
	kIntegrity  = httpx.Integrity  // bytes failed verification
	kOversize   = httpx.Oversize   // more bytes than MaxBytes
	kLocal      = httpx.Local      // writing to TempDir failed: abort the whole Fetch
	kPreempted  = httpx.Preempted  // another mirror's response won the race: not a failure of this one
	kBadArchive = httpx.BadArchive // the bytes are not an archive of the expected type (an HTML error page)
	kUnrunnable = httpx.Unrunnable // the index has bundles for the selector, but none can run in the root: this mirror is done
)

// fetchError is one failed attempt at one URL. It wraps the error that
// caused it (err), so errors.Is(err, context.Canceled) and friends hold
// through it; cause is the short text for logs. Its advice is the one
// carrier's, failure.Hints (Hint: Redact applies; Fix: no URLs in the
// Args), handed whole to the run's *failure.Error (see advice).
type fetchError struct {
	kind  kind
	url   string         // redacted
	cause string         // short, lower-case: "404 not found", "connection refused"
	resp  *http.Response // status and headers of a retryable answer (Retry-After), nil if none
	err   error          // underlying, if any
	failure.Hints
}

func (e *fetchError) Error() string { return Redact(e.url + ": " + e.cause) }
func (e *fetchError) short() string { return e.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// advice is e's advice as the run's error carries it: the hint redacted.
func (e *fetchError) advice() failure.Hints {
	h := e.Hints
	h.Hint = Redact(h.Hint)
	return h
}

// asLocal is a failure to write the download: it names the URL and the
// directory, not the temp file, and mentions TMPDIR only when Fetch chose
// the directory itself.
func (e *fetchError) asLocal(s *session) error {
	cause := e.err
	var pe *fs.PathError
	if errors.As(cause, &pe) {
		cause = pe.Err
	}
	hint := fmt.Sprintf("check that %s is writable and has space", s.tempDir)
	if s.o.TempDir == "" {
		hint += " (or set TMPDIR to another directory)"
	}
	return failure.New(failure.FileSystem, "writing the download of %s to %s: %w", Redact(e.url), s.tempDir, &wrapped{msg: cause.Error(), err: e.err}).
		WithHint("%s", hint)
}

// wrapped shows msg and unwraps to err.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

func urlString(u *url.URL) string { return Redact(u.Redacted()) }

func notFound(u *url.URL, cause string) *fetchError {
	return &fetchError{kind: kNotFound, url: urlString(u), cause: cause}
}

// body is an open download: an HTTP response body guarded by the stall
// watchdog, or a local file.
type body struct {
	r            io.Reader
	size         int64 // announced size, -1 if unknown
	contentType  string
	validator    string // ETag (strong) or Last-Modified, for If-Range; "" if none
	acceptRanges bool
	partial      bool  // 206: the body starts at the offset asked for
	start        int64 // where a 206 body starts
	close        func()
}

// open starts fetching u, its body under the stall watchdog
// (httpx.Watch). The returned body must be closed.
func (s *mirrorGo) open(ctx context.Context, u *url.URL) (*body, *fetchError) {
	sctx, scancel := context.WithCancelCause(ctx)
	b, ferr := s.request(sctx, u, 0, "")
	if ferr != nil {
		scancel(nil)
		return nil, ferr
	}
	w, closeBody := httpx.Watch(ctx, b.r, s.stall, scancel), b.close
	b.r, b.close = w, func() { w.Stop(); closeBody(); scancel(nil) }
	return b, nil
}

// request starts fetching u from byte offset from (> 0: with Range, and
// If-Range: validator when there is one), under ctx (which a stall
// watchdog above may cancel). A server that ignores the range answers 200
// with the whole body; body.partial says which it was.
func (s *mirrorGo) request(ctx context.Context, u *url.URL, from int64, validator string) (*body, *fetchError) {
	if u.Scheme == "file" {
		b, ferr := s.openFile(u)
		if b != nil {
			b.r = meterReader{r: b.r, g: s.g}
		}
		return b, ferr
	}
	actx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	// Until the headers come: the dialer bounds the connect, the transport
	// the wait for headers; the watchdog is the backstop for both.
	wd := time.AfterFunc(s.connect+s.timeout, func() { timedOut.Store(true); cancel() })
	stop := func() { wd.Stop(); cancel() }
	req, err := retryablehttp.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		stop()
		return nil, &fetchError{kind: kFatal, url: urlString(u), cause: err.Error(), err: err}
	}
	req.Header.Set("User-Agent", "slurm-installer")
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		if validator != "" {
			req.Header.Set("If-Range", validator)
		}
	}
	s.g.waiting(true)
	resp, err := s.client.Do(req)
	s.g.waiting(false)
	if err != nil || resp == nil {
		if resp != nil {
			resp.Body.Close()
		}
		stop()
		return nil, s.transportError(ctx, u, err, timedOut.Load())
	}
	wd.Stop()
	ok := resp.StatusCode == http.StatusOK
	b := &body{size: resp.ContentLength, contentType: resp.Header.Get("Content-Type"),
		acceptRanges: strings.Contains(strings.ToLower(resp.Header.Get("Accept-Ranges")), "bytes")}
	if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		b.validator = etag
	} else if lm := resp.Header.Get("Last-Modified"); lm != "" {
		b.validator = lm
	}
	if from > 0 && resp.StatusCode == http.StatusPartialContent {
		start, ok2 := httpx.ContentRangeStart(resp.Header.Get("Content-Range"))
		if ok2 && start == from {
			ok, b.partial, b.start = true, true, start
			if b.size >= 0 {
				b.size += start // the whole file's size
			}
		}
	}
	if !ok {
		stop()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, statusError(u, resp)
	}
	b.r = meterReader{r: resp.Body, g: s.g}
	b.close = func() { stop(); resp.Body.Close() }
	return b, nil
}

// meterReader reports the bytes read from a mirror to the racer (every
// body: the racer judges a go by all it reads, not only the bundle).
type meterReader struct {
	r io.Reader
	g *run
}

func (m meterReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.g.got(n)
	return n, err
}

var (
	errStalled  = httpx.ErrStalled
	errTimedOut = errors.New("timed out")
	errTooLarge = errors.New("too large")
)

// ctxCause is the short cause for a context error.
func ctxCause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline exceeded"
	}
	return "interrupted"
}

func statusError(u *url.URL, resp *http.Response) *fetchError {
	cause := strings.ToLower(resp.Status)
	if cause == "" {
		cause = strconv.Itoa(resp.StatusCode)
	}
	switch httpx.StatusKind(resp.StatusCode) {
	case kRetry:
		// Keep the status and headers only: go-retryablehttp's backoff reads Retry-After from them.
		return &fetchError{kind: kRetry, url: urlString(u), cause: cause, resp: &http.Response{StatusCode: resp.StatusCode, Header: resp.Header.Clone()}}
	default:
		// 404, 403, 410, other 4xx, 501, and 2xx/3xx we cannot use: an answer.
		return &fetchError{kind: kNotFound, url: urlString(u), cause: cause}
	}
}

// transportError classifies an error from the HTTP client or a body read.
func (s *session) transportError(ctx context.Context, u *url.URL, err error, stalled bool) *fetchError {
	fe := &fetchError{kind: kRetry, url: urlString(u), err: err}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		// The run's deadline, an interrupt, or another mirror won: wrap
		// the context's error itself, not the transport's view of it.
		fe.cause, fe.err = ctxCause(ctx.Err()), ctx.Err()
	case errors.Is(err, errStalled):
		fe.cause, fe.err = fmt.Sprintf("stalled: no body bytes for %s", s.stall), errStalled
	case stalled:
		// The watchdog cancelled the request: that is a timeout of this
		// mirror, not a cancellation of the run.
		fe.cause, fe.err = fmt.Sprintf("timed out: no response within %s", s.connect+s.timeout), errTimedOut
	case isDialTimeout(err):
		fe.cause = fmt.Sprintf("connect timed out after %s", s.connect)
	case errors.Is(err, syscall.ECONNREFUSED):
		fe.cause = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		fe.cause = "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		fe.cause = fmt.Sprintf("timed out: no response headers within %s", s.timeout)
	case errors.As(err, new(*tls.CertificateVerificationError)) || errors.As(err, new(x509.UnknownAuthorityError)):
		fe.kind = kFatal
		fe.cause = "TLS certificate not trusted: " + err.Error()
		fe.Suggest(failure.GiveCACert)
	default:
		var de *net.DNSError
		if errors.As(err, &de) {
			fe.cause = "cannot resolve host " + de.Name
			if de.IsNotFound {
				// An unknown host does not come back in a second.
				fe.kind = kFatal
			}
			return fe
		}
		fe.cause = err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			fe.cause = ue.Err.Error()
		}
		if ok, _ := retryablehttp.DefaultRetryPolicy(context.Background(), nil, err); !ok {
			fe.kind = kFatal
		}
	}
	return fe
}

// readSmall fetches a small file (index, checksum, listing) into memory,
// refusing more than limit bytes.
func (s *mirrorGo) readSmall(ctx context.Context, u *url.URL, limit int64) ([]byte, string, *fetchError) {
	b, ferr := s.open(ctx, u)
	if ferr != nil {
		return nil, "", ferr
	}
	defer b.close()
	data, err := io.ReadAll(io.LimitReader(b.r, limit+1))
	if err != nil {
		return nil, "", s.readError(ctx, u, err)
	}
	if int64(len(data)) > limit {
		return nil, "", &fetchError{kind: kFatal, url: urlString(u), cause: fmt.Sprintf("larger than %d bytes", limit), err: errTooLarge}
	}
	return data, b.contentType, nil
}

func (s *session) readError(ctx context.Context, u *url.URL, err error) *fetchError {
	if u.Scheme == "file" {
		return &fetchError{kind: kFatal, url: urlString(u), cause: err.Error(), err: err}
	}
	return s.transportError(ctx, u, err, false)
}

// maxResumes caps how often one download resumes after a break.
const maxResumes = 8

// download streams u into f while hashing it (httpx.Download: the one
// resumable downloader). limit caps the bytes; announced (> 0) is the
// size the index promises: more is an integrity failure, and so is less.
// A body that breaks after some bytes resumes from the same URL with
// Range and If-Range (the ETag or Last-Modified of the first answer); a
// server that ignores the range, or whose file changed, sends the whole
// body again and the download restarts. The digest is always of the
// whole file as written. show turns on the progress report.
func (s *mirrorGo) download(ctx context.Context, u *url.URL, f *os.File, limit, announced int64, show bool) (digest string, n int64, ferr *fetchError) {
	h := sha256.New()
	var prog *progress
	if show {
		prog = s.newProgress(baseName(u))
		defer prog.done()
	}
	d := &httpx.Download{
		Open: func(ctx context.Context, from int64, validator string) (*httpx.Part, error) {
			b, ferr := s.request(ctx, u, from, validator)
			if ferr != nil {
				return nil, ferr
			}
			length := b.size
			if b.partial && length >= 0 {
				length -= b.start
			}
			return &httpx.Part{Body: closer{b}, Partial: b.partial, Start: b.start, Length: length, Validator: b.validator}, nil
		},
		Claim: func(size int64) bool {
			if !s.g.claim() {
				return false
			}
			prog.setTotal(max(size, announced))
			if s.bud != nil {
				// One file of a tree: the racer judges the tree as one
				// download of unknown size (its rate), not file by file.
				s.g.downloading(-1)
			} else {
				s.g.downloading(max(size, announced))
			}
			return true
		},
		W: io.MultiWriter(s.bud, f, h, prog),
		Restart: func() error {
			s.log.Warn().Str("url", urlString(u)).Msg("server sent the whole file again; restarting the download")
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			h.Reset()
			return f.Truncate(0)
		},
		Limit: limit, Size: announced, Stall: s.stall,
		Resumes:   maxResumes,
		Resumable: func(err error) bool { return s.readError(ctx, u, err).kind == kRetry },
		Resuming: func(from int64, err error) {
			s.log.Warn().Str("url", urlString(u)).Int64("bytes", from).Str("cause", s.readError(ctx, u, err).cause).Msg("download broke; resuming from the same mirror")
		},
	}
	if u.Scheme == "file" {
		d.Resumes = 0
	}
	n, err := d.Run(ctx)
	if err == nil {
		return hex.EncodeToString(h.Sum(nil)), n, nil
	}
	var fe *fetchError
	var se *httpx.SizeError
	var we *httpx.WriteError
	switch {
	case errors.As(err, &fe):
		return "", n, fe
	case errors.Is(err, httpx.ErrPreempted):
		return "", n, &fetchError{kind: kPreempted, url: urlString(u), cause: "another mirror answered first"}
	case errors.Is(err, errOverBudget):
		return "", n, &fetchError{kind: kOversize, url: urlString(u), cause: fmt.Sprintf("the tree is larger than the download limit (%d bytes)", s.maxBytes), err: err}
	case errors.As(err, &we):
		return "", n, &fetchError{kind: kLocal, url: urlString(u), cause: we.Err.Error(), err: we.Err}
	case errors.As(err, &se):
		if se.Promised > 0 && se.Got < se.Promised {
			return "", n, &fetchError{kind: kIntegrity, url: urlString(u), cause: fmt.Sprintf("got %d bytes, the index says %d", se.Got, se.Promised)}
		}
		return "", n, s.sizeError(u, se.Got, se.Limit, announced)
	case errors.Is(err, httpx.ErrShort), errors.Is(err, httpx.ErrNoRange):
		return "", n, &fetchError{kind: kRetry, url: urlString(u), cause: err.Error(), err: err}
	}
	return "", n, s.readError(ctx, u, err)
}

// closer is a body as an io.ReadCloser.
type closer struct{ b *body }

func (c closer) Read(p []byte) (int, error) { return c.b.r.Read(p) }
func (c closer) Close() error               { c.b.close(); return nil }

func (s *session) sizeError(u *url.URL, n, limit, announced int64) *fetchError {
	if announced > 0 && limit == announced {
		return &fetchError{kind: kIntegrity, url: urlString(u),
			cause: fmt.Sprintf("more bytes than the index says (%d > %d)", n, announced)}
	}
	return &fetchError{kind: kOversize, url: urlString(u),
		cause: fmt.Sprintf("larger than the download limit (%d > %d bytes)", n, limit)}
}

func isDialTimeout(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial" && oe.Timeout()
}

// baseName is the file name at the end of u's path.
func baseName(u *url.URL) string { return path.Base(u.Path) }
