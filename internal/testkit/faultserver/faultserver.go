// Package faultserver is an HTTP mirror on 127.0.0.1 that misbehaves on
// request, for tests of fail-over, retries, resume and deadlines. It serves
// the files of a handler (a directory, or a map) under
// /<mode>/<path>, where mode is one of:
//
//	good            serve normally (Range and If-Range honoured)
//	status-CODE     always answer CODE (429 and 503 add Retry-After: 1)
//	status-CODE-raN always answer CODE with Retry-After: N
//	truncate        a request without Range gets the headers of the whole
//	                body, half of it, then a cut connection; ranges work
//	stall           like truncate, but the connection stays open and silent
//	flaky-N         the first N requests (of any path) answer 503
//	slow-MS         the body is sent in 10 pieces over MS milliseconds
//	norange         ignores Range; the first request is cut after half
//	changing        every request gets other bytes (same size, new ETag);
//	                the first is cut after half; If-Range is honoured
//
// truncate, stall, norange and changing only touch bodies of at least
// 4 KiB (the bundle), not checksum files or indexes.
//
//	hang            accepts the request and never answers
//	trickle-BPS     bodies of at least 4 KiB are sent at BPS bytes
//	                a second (Content-Length announced); others served normally
//	html            any archive name (.tar.gz, .tgz, ...) answers 200 with an
//	                HTML error page, like a proxy's or a CDN's; all else 404
//	loop            every request redirects to itself
//
// status-CODE-radate sends Retry-After as an HTTP date a year ahead.
//
// Faults for any body, whatever its size:
//
//	silent          the headers of the whole body (200, Content-Length),
//	                then nothing until the client goes away
//	drip-BPS        the body at BPS bytes a second, in pieces every 100 ms
//	close           the connection is closed without an answer
//	corrupt         wrong checksums: in a text body every run of 64 hex
//	                digits is replaced by another digest; any other body
//	                has its last byte flipped
//
// A mode may name the one step of reading a mirror it spoils, as
// MODE~STEP (e.g. silent~index, drip-50~sidecar, status-503~manifest);
// every other request is served normally. The steps:
//
//	index     pkgs/slurm/index.json (and its signature)
//	listing   an autoindex listing (a path ending in "/")
//	sidecar   a <file>.sha256
//	sums      a SHA256SUMS
//	bundle    an archive (.tar.gz, ...) or a registry blob of 4 KiB or more
//	manifest  a registry manifest (/v2/…/manifests/…)
//	tags      a registry tag list (/v2/…/tags/list)
//	blob      a registry blob under 4 KiB (a config)
//
// With a targeted mode, html answers the step with its HTML page, whatever
// the name.
//
// Besides the HTTP server, Blackhole is a TCP address that accepts
// connections and never answers, and Refused one where nothing listens.
package faultserver

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// minFault is the smallest body that truncate, stall, norange and changing touch.
const minFault = 4096

// Server is a running fault server.
type Server struct {
	URL       string // http://127.0.0.1:PORT; mirrors are URL+"/<mode>"
	Blackhole string // http://127.0.0.1:PORT of a listener that never answers
	Refused   string // http://127.0.0.1:PORT where nothing listens

	files http.Handler
	srv   *httptest.Server
	bh    net.Listener
	quit  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	hits   map[string]int   // by mode+path
	flaky  map[string]int   // by mode
	served map[string]int64 // body bytes by mode
	conns  []net.Conn
	fixed  string // the mode of every request (NewFixed), "" = the first path segment
}

// NewFixed starts a fault server over files that serves every request in
// mode, with the path as it comes (a registry's /v2/… API behind it).
func NewFixed(files http.Handler, mode string) (*Server, error) {
	s, err := New(files)
	if err == nil {
		s.fixed = mode
	}
	return s, err
}

// step says whether path (and, for blobs, the body's size) is the step
// a targeted mode spoils.
func step(target, path string, size func() (int, bool)) bool {
	small := func() bool { n, ok := size(); return ok && n < minFault }
	switch target {
	case "index":
		return strings.HasSuffix(path, "/index.json") || strings.HasSuffix(path, "/index.json.minisig")
	case "listing":
		return strings.HasSuffix(path, "/") && !strings.Contains(path, "/v2/")
	case "sidecar":
		return strings.HasSuffix(path, ".sha256")
	case "sums":
		return strings.HasSuffix(path, "/SHA256SUMS")
	case "bundle":
		return isArchive(path) || strings.Contains(path, "/blobs/") && !small()
	case "manifest":
		return strings.Contains(path, "/manifests/")
	case "tags":
		return strings.HasSuffix(path, "/tags/list")
	case "blob":
		return strings.Contains(path, "/blobs/") && small()
	}
	return false
}

// New starts a fault server over files (e.g. http.FileServer(http.Dir(d))
// or Files(map)).
func New(files http.Handler) (*Server, error) {
	s := &Server{files: files, quit: make(chan struct{}), hits: map[string]int{}, flaky: map[string]int{}, served: map[string]int64{}}
	bh, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.bh = bh
	s.Blackhole = "http://" + bh.Addr().String()
	s.wg.Add(1)
	go s.hold()
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		bh.Close()
		return nil, err
	}
	s.Refused = "http://" + rl.Addr().String()
	rl.Close()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s, nil
}

// hold accepts connections on the blackhole and keeps them silent.
func (s *Server) hold() {
	defer s.wg.Done()
	for {
		c, err := s.bh.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
	}
}

// Close stops everything, including handlers that stall or hang.
func (s *Server) Close() {
	close(s.quit)
	s.bh.Close()
	s.wg.Wait()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Hits says how many requests mode+path got (path with a leading "/").
func (s *Server) Hits(mode, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[mode+path]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	mode, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	rest = "/" + rest
	if s.fixed != "" {
		mode, rest = s.fixed, r.URL.Path
	}
	s.mu.Lock()
	s.hits[mode+rest]++
	n := s.hits[mode+rest]
	s.flaky[mode]++
	nm := s.flaky[mode]
	s.mu.Unlock()
	w = &countingWriter{ResponseWriter: w, s: s, mode: mode}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = rest, ""
	spec, target, targeted := strings.Cut(mode, "~")
	if targeted && !step(target, rest, func() (int, bool) { b, ok := s.get(r2); return len(b), ok }) {
		s.files.ServeHTTP(w, r2)
		return
	}
	name, arg, _ := strings.Cut(spec, "-")
	switch name {
	case "truncate", "stall", "norange", "changing":
		if b, ok := s.get(r2); !ok || len(b) < minFault {
			s.files.ServeHTTP(w, r2)
			return
		}
	}
	switch name {
	case "good":
		s.files.ServeHTTP(w, r2)
	case "status":
		codeS, ra, _ := strings.Cut(arg, "-ra")
		code, _ := strconv.Atoi(codeS)
		if code < 100 {
			code = 500
		}
		if ra == "date" {
			w.Header().Set("Retry-After", time.Now().Add(365*24*time.Hour).UTC().Format(http.TimeFormat))
		} else if ra != "" {
			w.Header().Set("Retry-After", ra)
		} else if code == 429 || code == 503 {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, http.StatusText(code), code)
	case "flaky":
		fails, _ := strconv.Atoi(arg)
		if nm <= fails {
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		s.files.ServeHTTP(w, r2)
	case "truncate", "stall":
		if r.Header.Get("Range") != "" {
			s.files.ServeHTTP(w, r2)
			return
		}
		s.half(w, r2, name == "stall")
	case "norange":
		r2.Header.Del("Range")
		r2.Header.Del("If-Range")
		if n == 1 {
			s.half(w, r2, false)
			return
		}
		s.files.ServeHTTP(w, r2)
	case "changing":
		body, ok := s.get(r2)
		if !ok {
			s.files.ServeHTTP(w, r2)
			return
		}
		if len(body) > 0 && n > 1 {
			body = bytes.Clone(body)
			body[len(body)-1] ^= byte(n)
		}
		w.Header().Set("ETag", etag(body))
		if n == 1 && r.Header.Get("Range") == "" {
			cut(w, body, false, s.quit, r)
			return
		}
		http.ServeContent(w, r2, "", time.Unix(0, 0), bytes.NewReader(body))
	case "slow":
		ms, _ := strconv.Atoi(arg)
		body, ok := s.get(r2)
		if !ok {
			s.files.ServeHTTP(w, r2)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		for i := range 10 {
			w.Write(body[len(body)*i/10 : len(body)*(i+1)/10])
			w.(http.Flusher).Flush()
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond / 10):
			case <-r.Context().Done():
				return
			case <-s.quit:
				return
			}
		}
	case "trickle":
		bps, _ := strconv.Atoi(arg)
		body, ok := s.get(r2)
		if !ok || len(body) < minFault || bps <= 0 {
			s.files.ServeHTTP(w, r2)
			return
		}
		s.trickle(w, r, body, bps)
	case "silent":
		body, h, ok := s.getWith(r2)
		if !ok {
			s.files.ServeHTTP(w, r2)
			return
		}
		copyHeader(w, h)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
	case "drip":
		bps, _ := strconv.Atoi(arg)
		body, h, ok := s.getWith(r2)
		if !ok || bps <= 0 {
			s.files.ServeHTTP(w, r2)
			return
		}
		copyHeader(w, h)
		s.trickle(w, r, body, bps)
	case "close":
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
	case "corrupt":
		body, h, ok := s.getWith(r2)
		if !ok {
			s.files.ServeHTTP(w, r2)
			return
		}
		copyHeader(w, h)
		body = corrupt(body)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	case "html":
		if !isArchive(rest) && !targeted {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("<!DOCTYPE html><html><head><title>Service unavailable</title></head><body><h1>Our mirror is under maintenance</h1><p>Please try again later.</p></body></html>\n"))
	case "loop":
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	case "hang":
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
	default:
		http.NotFound(w, r)
	}
}

// trickle sends body at bps bytes a second, in pieces of at most bps/10
// bytes every 100 ms, until the client goes away or the server closes.
func (s *Server) trickle(w http.ResponseWriter, r *http.Request, body []byte, bps int) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	piece := max(bps/10, 1)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for off := 0; off < len(body); off += piece {
		if _, err := w.Write(body[off:min(off+piece, len(body))]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		}
	}
}

var hex64 = regexp.MustCompile(`[0-9a-f]{64}`)

// corrupt returns body with wrong checksums (see the package comment).
func corrupt(body []byte) []byte {
	if len(body) == 0 {
		return body
	}
	if hex64.Match(body) && utf8.Valid(body) {
		return hex64.ReplaceAllFunc(body, func(d []byte) []byte {
			h := sha256.Sum256(d)
			return []byte(hex.EncodeToString(h[:]))
		})
	}
	body = bytes.Clone(body)
	body[len(body)-1] ^= 0xff
	return body
}

func isArchive(p string) bool {
	p = strings.ToLower(p)
	for _, suf := range []string{".tar.gz", ".tgz", ".tar.xz", ".tar.zst", ".tar.bz2", ".zip"} {
		if strings.HasSuffix(p, suf) {
			return true
		}
	}
	return false
}

// Served says how many body bytes mode has sent, over all its paths.
func (s *Server) Served(mode string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[mode]
}

// get returns the bytes files serves for r, if it serves 200.
func (s *Server) get(r *http.Request) ([]byte, bool) {
	b, _, ok := s.getWith(r)
	return b, ok
}

// getWith is get with the answer's headers (those a registry client needs:
// Content-Type, Docker-Content-Digest; the length is the caller's).
func (s *Server) getWith(r *http.Request) ([]byte, http.Header, bool) {
	rec := httptest.NewRecorder()
	r = r.Clone(r.Context())
	r.Header.Del("Range")
	r.Header.Del("If-Range")
	s.files.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		return nil, nil, false
	}
	h := rec.Header().Clone()
	h.Del("Content-Length")
	h.Del("Accept-Ranges")
	return rec.Body.Bytes(), h, true
}

// copyHeader sets h's headers on w.
func copyHeader(w http.ResponseWriter, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
}

// half sends the headers for the whole body and half of it, then cuts the
// connection (or, stall, keeps it open and silent).
func (s *Server) half(w http.ResponseWriter, r *http.Request, stall bool) {
	body, ok := s.get(r)
	if !ok {
		s.files.ServeHTTP(w, r)
		return
	}
	cut(w, body, stall, s.quit, r)
}

func cut(w http.ResponseWriter, body []byte, stall bool, quit chan struct{}, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Accept-Ranges", "bytes")
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	if stall {
		select {
		case <-r.Context().Done():
		case <-quit:
		}
		return
	}
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
		}
	}
}

func etag(b []byte) string {
	h := sha256.Sum256(b)
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

// Files serves a map of path (without leading "/") to bytes, with ETag,
// Last-Modified, Range and If-Range like nginx.
func Files(m map[string][]byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := m[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", etag(b))
		http.ServeContent(w, r, "", time.Unix(1700000000, 0), bytes.NewReader(b))
	})
}

// countingWriter counts the body bytes a mode sends.
type countingWriter struct {
	http.ResponseWriter
	s    *Server
	mode string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.s.mu.Lock()
	c.s.served[c.mode] += int64(n)
	c.s.mu.Unlock()
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return c.ResponseWriter.(http.Hijacker).Hijack()
}
