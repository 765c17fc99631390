package fetch

import (
	"context"
	"crypto/sha256"
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
)

type session struct {
	o          Options
	log        zerolog.Logger
	version    string // "latest" or a version
	arch       string // canonical
	want       string // --sha256, lower-case hex, or ""
	timeout    time.Duration
	deadline   time.Duration
	retries    int
	maxBytes   int64
	tempDir    string
	minBackoff time.Duration
	maxBackoff time.Duration
	client     *retryablehttp.Client
	outOfTime  bool // a retry was dropped because it would pass the deadline
}

func (s *session) close() { s.client.HTTPClient.CloseIdleConnections() }

// newClient returns a retryablehttp client that makes exactly one attempt
// per call: Fetch schedules retries itself, across mirrors. Its retry
// policy still classifies transport errors (a TLS certificate error is not
// worth retrying, a reset connection is).
func newClient(hc *http.Client, timeout time.Duration) *retryablehttp.Client {
	if hc == nil {
		dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       30 * time.Second,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		}}
	}
	return &retryablehttp.Client{
		HTTPClient:   hc,
		RetryMax:     0,
		CheckRetry:   retryablehttp.DefaultRetryPolicy,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
}

// kind says what a failed attempt means for the mirror.
type kind int

const (
	kNotFound  kind = iota // an answer (404, 403, 410, other 4xx, missing file): move on, never retry
	kRetry                 // connection error, timeout, 408, 429, 5xx: try other mirrors, then retry
	kFatal                 // neither (TLS certificate, redirect loop, bad listing): give up on the mirror
	kIntegrity             // bytes failed verification
	kOversize              // more bytes than MaxBytes
	kLocal                 // writing to TempDir failed: abort the whole Fetch
)

// fetchError is one failed attempt at one URL.
type fetchError struct {
	kind       kind
	url        string // redacted
	cause      string // short, lower-case: "404 not found", "connection refused"
	retryAfter time.Duration
	err        error  // underlying, if any
	hint       string // for kIntegrity: what to do about it
}

func (e *fetchError) Error() string { return e.url + ": " + e.cause }
func (e *fetchError) short() string { return e.Error() }

func (e *fetchError) asLocal() error {
	return failure.New(failure.FileSystem, "writing the download to disk: %w", e.err).
		WithHint("check that the temporary directory is writable and has space (set TMPDIR)")
}

func urlString(u *url.URL) string { return u.Redacted() }

func notFound(u *url.URL, cause string) *fetchError {
	return &fetchError{kind: kNotFound, url: urlString(u), cause: cause}
}

// body is an open download: an HTTP response body guarded by the stall
// watchdog, or a local file.
type body struct {
	r           io.Reader
	size        int64 // announced size, -1 if unknown
	contentType string
	close       func()
}

// open starts fetching u. The returned body must be closed.
func (s *session) open(ctx context.Context, u *url.URL) (*body, *fetchError) {
	if u.Scheme == "file" {
		return s.openFile(u)
	}
	actx, cancel := context.WithCancel(ctx)
	var stalled atomic.Bool
	wd := time.AfterFunc(s.timeout, func() { stalled.Store(true); cancel() })
	stop := func() { wd.Stop(); cancel() }
	req, err := retryablehttp.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		stop()
		return nil, &fetchError{kind: kFatal, url: urlString(u), cause: err.Error(), err: err}
	}
	req.Header.Set("User-Agent", "slurm-installer")
	resp, err := s.client.Do(req)
	if err != nil || resp == nil {
		if resp != nil {
			resp.Body.Close()
		}
		stop()
		return nil, s.transportError(ctx, u, err, stalled.Load())
	}
	if resp.StatusCode != http.StatusOK {
		stop()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, statusError(u, resp)
	}
	wd.Reset(s.timeout)
	rd := &watchReader{r: resp.Body, wd: wd, timeout: s.timeout, stalled: &stalled, ctx: ctx}
	return &body{r: rd, size: resp.ContentLength, contentType: resp.Header.Get("Content-Type"),
		close: func() { stop(); resp.Body.Close() }}, nil
}

func (s *session) openFile(u *url.URL) (*body, *fetchError) {
	f, err := os.Open(u.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFound(u, "no such file")
		}
		return nil, &fetchError{kind: kNotFound, url: urlString(u), cause: err.Error(), err: err}
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, notFound(u, "not a regular file")
	}
	return &body{r: f, size: fi.Size(), close: func() { f.Close() }}, nil
}

// watchReader resets the stall watchdog on every read that brings bytes.
type watchReader struct {
	r       io.Reader
	wd      *time.Timer
	timeout time.Duration
	stalled *atomic.Bool
	ctx     context.Context // the caller's: distinguishes the deadline from a stall
}

func (w *watchReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.wd.Reset(w.timeout)
	}
	if err != nil && err != io.EOF {
		if w.ctx.Err() != nil {
			return n, w.ctx.Err()
		}
		if w.stalled.Load() {
			return n, errStalled
		}
	}
	return n, err
}

var errStalled = errors.New("stalled")

func statusError(u *url.URL, resp *http.Response) *fetchError {
	cause := strings.ToLower(resp.Status)
	if cause == "" {
		cause = strconv.Itoa(resp.StatusCode)
	}
	switch c := resp.StatusCode; {
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || (c >= 500 && c != http.StatusNotImplemented) || c < 200:
		return &fetchError{kind: kRetry, url: urlString(u), cause: cause, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	default:
		// 404, 403, 410, other 4xx, 501, and 2xx/3xx we cannot use: an answer.
		return &fetchError{kind: kNotFound, url: urlString(u), cause: cause}
	}
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); 0 when
// absent or unparseable.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// transportError classifies an error from the HTTP client or a body read.
func (s *session) transportError(ctx context.Context, u *url.URL, err error, stalled bool) *fetchError {
	fe := &fetchError{kind: kRetry, url: urlString(u), err: err}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		fe.cause = "deadline exceeded"
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			fe.cause = "interrupted"
		}
	case stalled || errors.Is(err, errStalled):
		fe.cause = fmt.Sprintf("timed out: nothing received for %s", s.timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		fe.cause = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		fe.cause = "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		fe.cause = fmt.Sprintf("timed out after %s", s.timeout)
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
func (s *session) readSmall(ctx context.Context, u *url.URL, limit int64) ([]byte, string, *fetchError) {
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
		return nil, "", &fetchError{kind: kFatal, url: urlString(u), cause: fmt.Sprintf("larger than %d bytes", limit)}
	}
	return data, b.contentType, nil
}

func (s *session) readError(ctx context.Context, u *url.URL, err error) *fetchError {
	if u.Scheme == "file" {
		return &fetchError{kind: kFatal, url: urlString(u), cause: err.Error(), err: err}
	}
	return s.transportError(ctx, u, err, false)
}

// download streams u into w while hashing it. limit caps the bytes;
// announced (> 0) is the size the index promises: more is an integrity
// failure, and so is less.
func (s *session) download(ctx context.Context, u *url.URL, w io.Writer, limit, announced int64) (digest string, n int64, ferr *fetchError) {
	b, ferr := s.open(ctx, u)
	if ferr != nil {
		return "", 0, ferr
	}
	defer b.close()
	if announced > 0 {
		limit = min(limit, announced)
	}
	if b.size > limit {
		return "", 0, s.sizeError(u, b.size, limit, announced)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), &capReader{r: b.r, n: limit + 1})
	var we *writeError
	switch {
	case errors.As(err, &we):
		return "", n, &fetchError{kind: kLocal, url: urlString(u), cause: we.err.Error(), err: we.err}
	case err != nil:
		return "", n, s.readError(ctx, u, err)
	case n > limit:
		return "", n, s.sizeError(u, n, limit, announced)
	case announced > 0 && n != announced:
		return "", n, &fetchError{kind: kIntegrity, url: urlString(u),
			cause: fmt.Sprintf("got %d bytes, the index says %d", n, announced)}
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (s *session) sizeError(u *url.URL, n, limit, announced int64) *fetchError {
	if announced > 0 && limit == announced {
		return &fetchError{kind: kIntegrity, url: urlString(u),
			cause: fmt.Sprintf("more bytes than the index says (%d > %d)", n, announced)}
	}
	return &fetchError{kind: kOversize, url: urlString(u),
		cause: fmt.Sprintf("larger than the download limit (%d > %d bytes)", n, limit)}
}

// capReader reads at most n bytes.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// writeError marks a failure to write locally, as opposed to a failure to
// read from the mirror.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}

// baseName is the file name at the end of u's path.
func baseName(u *url.URL) string { return path.Base(u.Path) }
