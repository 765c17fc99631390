package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"slurm-installer/internal/failure"
)

func TestMain(m *testing.M) {
	// Proxy settings are read once per process: set them before any request.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		proxyLn = ln
		os.Setenv("HTTP_PROXY", "http://"+ln.Addr().String())
		os.Setenv("NO_PROXY", "direct.test")
	}
	goleak.VerifyTestMain(m)
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// mirror is a fake AppHub: files by path, nginx-like autoindex for paths
// ending in "/", request counts, and per-path overrides.
type fakeMirror struct {
	t     *testing.T
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	json  bool                                                     // autoindex_format json
	hook  func(w http.ResponseWriter, r *http.Request, n int) bool // n: hits on this path so far (1-based); true = handled
	srv   *httptest.Server
}

func newMirror(t *testing.T, files map[string][]byte) *fakeMirror {
	m := &fakeMirror{t: t, files: files, hits: map[string]int{}}
	m.srv = httptest.NewServer(m)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeMirror) URL() string { return m.srv.URL }

func (m *fakeMirror) count(p string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[p]
}

func (m *fakeMirror) total() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.hits {
		n += c
	}
	return n
}

func (m *fakeMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.hits[r.URL.Path]++
	n := m.hits[r.URL.Path]
	hook := m.hook
	m.mu.Unlock()
	if hook != nil && hook(w, r, n) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if b, ok := m.files[p]; ok {
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/") {
		m.autoindex(w, p)
		return
	}
	http.NotFound(w, r)
}

// autoindex lists the children of dir like nginx does.
func (m *fakeMirror) autoindex(w http.ResponseWriter, dir string) {
	type ent struct {
		name string
		dir  bool
		size int
	}
	seen := map[string]*ent{}
	for p, b := range m.files {
		rest, ok := strings.CutPrefix(p, dir)
		if !ok || rest == "" {
			continue
		}
		name, _, isDir := strings.Cut(rest, "/")
		seen[name] = &ent{name: name, dir: isDir, size: len(b)}
	}
	if len(seen) == 0 {
		http.NotFound(w, nil)
		return
	}
	var es []*ent
	for _, e := range seen {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	if m.json {
		var out []map[string]any
		for _, e := range es {
			j := map[string]any{"name": e.name, "type": "file", "mtime": "Mon, 23 Nov 2026 07:00:00 GMT", "size": e.size}
			if e.dir {
				j = map[string]any{"name": e.name, "type": "directory", "mtime": "Mon, 23 Nov 2026 07:00:00 GMT"}
			}
			out = append(out, j)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, "<html>\r\n<head><title>Index of /%s</title></head>\r\n<body>\r\n<h1>Index of /%s</h1><hr><pre><a href=\"../\">../</a>\r\n", dir, dir)
	for _, e := range es {
		if e.dir {
			fmt.Fprintf(w, "<a href=\"%s/\">%s/</a>%*s23-Nov-2026 07:00                   -\r\n", e.name, e.name, 50-len(e.name), "")
		} else {
			fmt.Fprintf(w, "<a href=\"%s\">%s</a>%*s23-Nov-2026 07:00    %12d\r\n", e.name, e.name, 51-len(e.name), "", e.size)
		}
	}
	fmt.Fprint(w, "</pre><hr></body>\r\n</html>\r\n")
}

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
}

func opts(t *testing.T, mirrors ...string) Options {
	return Options{
		Mirrors: mirrors, Version: "22.05.8", Arch: "x86_64", Timeout: 2 * time.Second, Deadline: 20 * time.Second,
		Retries: 2, TempDir: t.TempDir(), Log: testLog(t), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
}

func mustFetch(t *testing.T, o Options) *Artifact {
	t.Helper()
	a, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatalf("Fetch: %v (hint: %s)", err, failure.HintOf(err))
	}
	t.Cleanup(a.Cleanup)
	return a
}

func wantClass(t *testing.T, err error, c failure.Class) {
	t.Helper()
	if err == nil {
		t.Fatalf("Fetch succeeded, want a %s error", c)
	}
	if got := failure.ClassOf(err); got != c {
		t.Fatalf("class = %s, want %s; err = %v", got, c, err)
	}
	if h, fix := failure.Advice(err); h == "" && len(fix) == 0 && c != failure.Usage {
		t.Errorf("no advice (hint or remedy) on %v", err)
	}
}

func checkFile(t *testing.T, a *Artifact, want []byte) {
	t.Helper()
	got, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("artifact content = %q, want %q", got, want)
	}
	if a.SHA256 != sum(want) || a.Size != int64(len(want)) {
		t.Fatalf("artifact sha256/size = %s/%d, want %s/%d", a.SHA256, a.Size, sum(want), len(want))
	}
}

const apk = "pkgs/slurm-apk/"

var testBundle = tgzOf("pretend this is a gzipped tarball of the SLURM client")

// tgzOf is a real .tar.gz holding one file, VERSION, with content: bytes
// that pass the archive sniff of unverified downloads.
func tgzOf(content string) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "usr/local/slurm/VERSION", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	gz.Close()
	return b.Bytes()
}

func TestDirectURLSubstitution(t *testing.T) {
	m := newMirror(t, map[string][]byte{
		"dl/slurm-22.05.8-amd64.tar.gz":        testBundle,
		"dl/slurm-22.05.8-amd64.tar.gz.sha256": []byte(sum(testBundle) + "  slurm-22.05.8-amd64.tar.gz\n"),
	})
	a := mustFetch(t, opts(t, m.URL()+"/dl/slurm-{version}-{arch}.tar.gz"))
	checkFile(t, a, testBundle)
	if a.Layout != "direct" || a.Version != "22.05.8" || a.Name != "slurm-22.05.8-amd64.tar.gz" || a.Tree {
		t.Errorf("artifact = %+v", a)
	}
	if a.ChecksumSource != "sidecar "+m.URL()+"/dl/slurm-22.05.8-amd64.tar.gz.sha256" {
		t.Errorf("checksum source = %q", a.ChecksumSource)
	}
	if a.Mirror != m.URL()+"/dl/slurm-{version}-{arch}.tar.gz" {
		t.Errorf("mirror = %q", a.Mirror)
	}
	if n := m.count("/dl/slurm-22.05.8-x86_64.tar.gz"); n != 1 {
		t.Errorf("x86_64 spelling tried %d times, want 1", n)
	}
	a.Cleanup()
	if _, err := os.Stat(a.Path); !os.IsNotExist(err) {
		t.Errorf("Cleanup left %s", a.Path)
	}
}

func TestTarballLayout(t *testing.T) {
	for _, tc := range []struct {
		name, version, arch, file string
	}{
		{"arch-specific", "22.05.8", "x86_64", "slurm-client-22.05.8-x86_64-alpine.tar.gz"},
		{"alias spelling", "22.05.8", "aarch64", "slurm-client-22.05.8-arm64-alpine.tar.gz"},
		{"arch-less", "22.05.8", "x86_64", "slurm-client-22.05.8-alpine.tar.gz"},
		{"latest", "latest", "x86_64", "slurm-client-latest-x86_64-alpine.tar.gz"},
		{"latest arch-less", "latest", "amd64", "slurm-client-latest-alpine.tar.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMirror(t, map[string][]byte{
				apk + tc.file:             testBundle,
				apk + tc.file + ".sha256": []byte(sum(testBundle) + "\n"),
			})
			o := opts(t, m.URL())
			o.Version, o.Arch = tc.version, tc.arch
			a := mustFetch(t, o)
			checkFile(t, a, testBundle)
			if a.Layout != "tarball" || a.Name != tc.file || a.URL != m.URL()+"/"+apk+tc.file || a.Mirror != m.URL() {
				t.Errorf("artifact = %+v", a)
			}
			wantV := tc.version
			if wantV == "latest" {
				wantV = ""
			}
			if a.Version != wantV {
				t.Errorf("version = %q, want %q", a.Version, wantV)
			}
			if !strings.HasPrefix(a.ChecksumSource, "sidecar ") {
				t.Errorf("checksum source = %q", a.ChecksumSource)
			}
		})
	}
}

func Test404MovesOnWithoutRetry(t *testing.T) {
	empty := newMirror(t, map[string][]byte{})
	good := newMirror(t, map[string][]byte{apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz": testBundle})
	o := opts(t, empty.URL(), good.URL())
	o.MinBackoff = 5 * time.Second // a retry would show
	start := time.Now()
	a := mustFetch(t, o)
	checkFile(t, a, testBundle)
	if a.Mirror != good.URL() || a.ChecksumSource != "none published" {
		t.Errorf("artifact = %+v", a)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	for p, n := range empty.hits {
		if n != 1 {
			t.Errorf("%s requested %d times, want 1", p, n)
		}
	}
	// index, zstd name, 2 arch spellings, arch-less, 2 tree spellings.
	if n := empty.total(); n != 7 {
		t.Errorf("empty mirror got %d requests, want 7: %v", n, empty.hits)
	}
}

// deadAddr is a local port nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestRefusedThenGood(t *testing.T) {
	good := newMirror(t, map[string][]byte{apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz": testBundle})
	o := opts(t, deadAddr(t), good.URL())
	o.MinBackoff, o.MaxBackoff = 5*time.Second, 5*time.Second
	start := time.Now()
	a := mustFetch(t, o)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a refused first mirror cost %s", d)
	}
	if a.Mirror != good.URL() {
		t.Errorf("mirror = %s", a.Mirror)
	}
}

func Test503ThenOK(t *testing.T) {
	const file = "/" + apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz"
	m := newMirror(t, map[string][]byte{apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz": testBundle})
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == file && n <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	a := mustFetch(t, opts(t, m.URL()))
	checkFile(t, a, testBundle)
	if n := m.count(file); n != 3 {
		t.Errorf("artifact requested %d times, want 3", n)
	}
	if n := m.count("/pkgs/slurm/index.json"); n != 1 {
		t.Errorf("index requested %d times, want 1 (a 404 is not retried)", n)
	}

	// With no retries left, the 503 is the answer.
	m2 := newMirror(t, nil)
	m2.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	}
	o := opts(t, m2.URL())
	o.Retries = 1
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Download)
	// Two tries on the (optional) index, then two on the bundle itself.
	if m2.count("/pkgs/slurm/index.json") != 2 || m2.total() != 4 || !strings.Contains(err.Error(), "503") {
		t.Errorf("requests = %d (index %d), err = %v", m2.total(), m2.count("/pkgs/slurm/index.json"), err)
	}
}

func TestRetryAfter(t *testing.T) {
	const file = "/" + apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz"
	m := newMirror(t, map[string][]byte{apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz": testBundle})
	var first time.Time
	var second time.Duration
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != file {
			return false
		}
		if n == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		second = time.Since(first)
		return false
	}
	o := opts(t, m.URL())
	o.MinBackoff, o.MaxBackoff = time.Millisecond, time.Millisecond
	mustFetch(t, o)
	if second < 900*time.Millisecond {
		t.Errorf("retried after %s, want the 1s Retry-After", second)
	}

	// A Retry-After beyond the deadline gives up at once.
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return true
	}
	o.Deadline = 5 * time.Second
	start := time.Now()
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Download)
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %s for a retry past the deadline", d)
	}
}

func TestAllDeadWithinDeadline(t *testing.T) {
	busy := newMirror(t, nil)
	busy.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "busy", http.StatusBadGateway)
		return true
	}
	o := opts(t, deadAddr(t), busy.URL(), deadAddr(t))
	o.Retries, o.Deadline = 1000, 1500*time.Millisecond
	o.MinBackoff, o.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	start := time.Now()
	_, err := Fetch(context.Background(), o)
	d := time.Since(start)
	wantClass(t, err, failure.Download)
	if d > 2500*time.Millisecond {
		t.Errorf("took %s with a 1.5s deadline", d)
	}
	msg := err.Error()
	for _, want := range []string{"connection refused", "502", "deadline"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if busy.total() < 3 {
		t.Errorf("busy mirror tried %d times; want retries", busy.total())
	}
}

func TestIntegrity(t *testing.T) {
	name := "slurm-client-22.05.8-x86_64-alpine.tar.gz"
	corrupt := []byte("pretend this is a gzipped tarball of the SLURM client, corrupted")
	bad := newMirror(t, map[string][]byte{
		apk + name:             corrupt,
		apk + name + ".sha256": []byte(sum(testBundle) + "  " + name + "\n"),
	})
	good := newMirror(t, map[string][]byte{
		apk + name:             testBundle,
		apk + name + ".sha256": []byte(sum(testBundle) + "  " + name + "\n"),
	})

	t.Run("mismatch", func(t *testing.T) {
		_, err := Fetch(context.Background(), opts(t, bad.URL()))
		wantClass(t, err, failure.Integrity)
		for _, want := range []string{sum(testBundle), sum(corrupt), bad.URL() + "/" + apk + name, "sidecar"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		// Nothing left behind.
	})
	t.Run("good second mirror wins", func(t *testing.T) {
		o := opts(t, bad.URL(), good.URL())
		a := mustFetch(t, o)
		checkFile(t, a, testBundle)
		if a.Mirror != good.URL() {
			t.Errorf("mirror = %s", a.Mirror)
		}
		entries, _ := os.ReadDir(o.TempDir)
		if len(entries) != 1 {
			t.Errorf("temp dir holds %d files, want only the artifact", len(entries))
		}
	})
	t.Run("integrity beats download in the final class", func(t *testing.T) {
		_, err := Fetch(context.Background(), opts(t, bad.URL(), deadAddr(t)))
		wantClass(t, err, failure.Integrity)
	})
	t.Run("--sha256 wins", func(t *testing.T) {
		o := opts(t, bad.URL())
		o.SHA256 = strings.ToUpper(sum(corrupt))
		a := mustFetch(t, o)
		checkFile(t, a, corrupt)
		if a.ChecksumSource != "pinned digest" {
			t.Errorf("source = %q", a.ChecksumSource)
		}
		o = opts(t, good.URL())
		o.SHA256 = sum(corrupt)
		_, err := Fetch(context.Background(), o)
		wantClass(t, err, failure.Integrity)
		if !strings.Contains(err.Error(), "(pinned digest)") {
			t.Errorf("error %q does not name the source", err)
		}
		if !slices.Contains(failure.Steps(err), failure.PinDigest) {
			t.Errorf("remedies %v: want the pinned digest", failure.Steps(err))
		}
	})
	t.Run("garbage sidecar", func(t *testing.T) {
		m := newMirror(t, map[string][]byte{apk + name: testBundle, apk + name + ".sha256": []byte("<html>oops</html>")})
		_, err := Fetch(context.Background(), opts(t, m.URL()))
		wantClass(t, err, failure.Integrity)
	})
	t.Run("SHA256SUMS", func(t *testing.T) {
		m := newMirror(t, map[string][]byte{apk + name: testBundle, apk + "SHA256SUMS": []byte(
			sum([]byte("x")) + "  other.tar.gz\n" + sum(testBundle) + " *" + name + "\n")})
		a := mustFetch(t, opts(t, m.URL()))
		if a.ChecksumSource != "SHA256SUMS "+m.URL()+"/"+apk+"SHA256SUMS" {
			t.Errorf("source = %q", a.ChecksumSource)
		}
		m.files[apk+"SHA256SUMS"] = []byte(sum(corrupt) + "  " + name + "\n")
		_, err := Fetch(context.Background(), opts(t, m.URL()))
		wantClass(t, err, failure.Integrity)
	})
}

func TestFileMirror(t *testing.T) {
	dir := t.TempDir()
	name := "slurm-client-22.05.8-x86_64-alpine.tar.gz"
	if err := os.MkdirAll(filepath.Join(dir, apk), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, apk, name), testBundle, 0o644)
	os.WriteFile(filepath.Join(dir, apk, name+".sha256"), []byte(sum(testBundle)+"\n"), 0o644)

	a := mustFetch(t, opts(t, "file://"+dir))
	checkFile(t, a, testBundle)
	if a.Layout != "tarball" || !strings.HasPrefix(a.ChecksumSource, "sidecar file://") {
		t.Errorf("artifact = %+v", a)
	}
	if a.Path == filepath.Join(dir, apk, name) {
		t.Errorf("artifact is the mirror's own file, not a copy")
	}

	a = mustFetch(t, opts(t, "file://"+dir+"/"+apk+"slurm-client-{version}-{arch}-alpine.tar.gz"))
	checkFile(t, a, testBundle)
	if a.Layout != "file" {
		t.Errorf("layout = %q", a.Layout)
	}

	// A missing file is a 404: on to the next mirror at once.
	good := newMirror(t, map[string][]byte{apk + name: testBundle})
	o := opts(t, "file://"+t.TempDir()+"/nothing.tar.gz", good.URL())
	a = mustFetch(t, o)
	if a.Mirror != good.URL() {
		t.Errorf("mirror = %s", a.Mirror)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, ms := range [][]string{
		nil, {""}, {"ftp://apphub/pkgs"}, {"apphub.example/pkgs"}, {"http://"}, {"file://host/srv"}, {"http://a b/"},
	} {
		o := opts(t, ms...)
		_, err := Fetch(context.Background(), o)
		wantClass(t, err, failure.Usage)
		if len(ms) > 0 && ms[0] != "" && !strings.Contains(err.Error(), ms[0]) {
			t.Errorf("error %q does not name the mirror %q", err, ms[0])
		}
	}
	o := opts(t, "http://127.0.0.1/")
	o.SHA256 = "abc"
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Usage)
	o = opts(t, "http://127.0.0.1/")
	o.Arch = "sparc"
	_, err = Fetch(context.Background(), o)
	wantClass(t, err, failure.Usage)
}

func TestStalledBody(t *testing.T) {
	m := newMirror(t, nil)
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !strings.HasSuffix(r.URL.Path, "-x86_64-alpine.tar.gz") {
			return false
		}
		w.Header().Set("Content-Length", "1000")
		w.Write(make([]byte, 100))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	}
	o := opts(t, m.URL())
	o.Timeout, o.Retries = 300*time.Millisecond, 0
	start := time.Now()
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Download)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a stalled body held the run for %s", d)
	}
	if !strings.Contains(err.Error(), "stalled") {
		t.Errorf("error %q does not say it stalled", err)
	}
}

func TestMaxBytes(t *testing.T) {
	name := "slurm-client-22.05.8-x86_64-alpine.tar.gz"
	m := newMirror(t, map[string][]byte{apk + name: make([]byte, 1000)})
	o := opts(t, m.URL())
	o.MaxBytes = 100
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Archive)
	// Without Content-Length too.
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !strings.HasSuffix(r.URL.Path, name) {
			return false
		}
		for range 10 {
			w.Write(make([]byte, 100))
			w.(http.Flusher).Flush()
		}
		return true
	}
	_, err = Fetch(context.Background(), o)
	wantClass(t, err, failure.Archive)
	entries, _ := os.ReadDir(o.TempDir)
	if len(entries) != 0 {
		t.Errorf("temp dir not cleaned: %v", entries)
	}
}
