package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/testkit/faultserver"
)

// Tests for issue 13: hostile and degraded mirrors. Time bounds are
// generous (a loaded 2-core CI box): they assert order and cause.

// syncBuf is a log sink safe for the racer's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCancelMidDownload(t *testing.T) {
	fs := faults(t)
	o := opts(t, fs.URL+"/trickle-2000")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	a, err := Fetch(ctx, o)
	if a != nil {
		a.Cleanup()
		t.Fatal("fetch succeeded")
	}
	t.Logf("took %s: %v", time.Since(start), err)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if c := failure.ClassOf(err); c == failure.Download {
		t.Errorf("an interrupted run is reported as a download failure (class %s)", c)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %s after the cancel", time.Since(start))
	}
}

func TestCancelMidRetryWait(t *testing.T) {
	fs := faults(t)
	o := opts(t, fs.URL+"/status-503-ra30")
	o.Deadline = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	_, err := Fetch(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if failure.ClassOf(err) == failure.Download {
		t.Errorf("interrupted run reported as class download: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s: the retry wait ignored the cancel", d)
	}
	// And the same in a tree's in-place retry: covered by retrying's sleep.
}

// A Retry-After date a year ahead must not park the run: the wait is
// capped by what is left of the deadline, so the mirror is given up at once.
func TestRetryAfterDateCappedByDeadline(t *testing.T) {
	fs := faults(t)
	o := opts(t, fs.URL+"/status-503-radate")
	o.Deadline = 3 * time.Second
	start := time.Now()
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Download)
	if d := time.Since(start); d > 2*time.Second+o.Deadline {
		t.Errorf("took %s", d)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("final error does not name the mirror's cause: %v", err)
	}
	// Without a deadline the wait is still capped.
	var ferr fetchError
	ferr.resp = nil
	s := &session{minBackoff: defaultMinBackoff, maxBackoff: defaultMaxBackoff}
	if w, _ := s.retryWait(context.Background(), 1, &ferr); w > defaultMaxBackoff {
		t.Errorf("wait %s", w)
	}
}

func TestDeadlineErrorWrapsCause(t *testing.T) {
	fs := faults(t)
	o := opts(t, fs.URL+"/trickle-1000")
	o.Deadline = 1500 * time.Millisecond
	o.Stall = 10 * time.Second
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Download)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, DeadlineExceeded) = false: %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("a deadline is reported as a cancel: %v", err)
	}
	if strings.Contains(err.Error(), "not tried") {
		t.Errorf("a mirror that was downloading is reported as not tried: %v", err)
	}
}

// Redaction: no channel of fetch carries the password.
func TestRedactMirrorPassword(t *testing.T) {
	fs := faults(t)
	const pass = "s3cr3tPa55"
	withPass := func(u string) string { return strings.Replace(u, "http://", "http://alice:"+pass+"@", 1) }
	var logBuf syncBuf
	for _, mirrors := range [][]string{
		{withPass(fs.URL + "/status-404"), withPass(fs.URL + "/status-503"), withPass(fs.URL + "/good")},
		{withPass(fs.URL + "/status-500"), withPass(fs.Refused)},
		{withPass(fs.URL+"/good") + "pkgs/slurm-apk/slurm-client-{version}-x86_64-alpine.tar.gz"},
	} {
		o := opts(t, mirrors...)
		o.Log = zerolog.New(&logBuf).Level(zerolog.DebugLevel)
		o.Deadline = 5 * time.Second
		a, err := Fetch(context.Background(), o)
		var text string
		if a != nil {
			text = a.URL + " " + a.Mirror + " " + a.ChecksumSource
			a.Cleanup()
		}
		if err != nil {
			text += err.Error() + " " + failure.HintOf(err)
		}
		if strings.Contains(text, pass) {
			t.Errorf("password in result or error: %s", text)
		}
	}
	if _, err := Fetch(context.Background(), opts(t, "http://bob:"+pass+"@exa mple/")); err == nil || strings.Contains(err.Error(), pass) {
		t.Errorf("bad-URL error carries the password: %v", err)
	}
	if strings.Contains(logBuf.String(), pass) {
		t.Errorf("password in the log:\n%s", logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "alice:"+Redacted+"@") {
		t.Errorf("log does not show the redacted mirror")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@h/x":                   "http://u:xxxxx@h/x",
		"mirror=https://u:p%40q@h:8/ x":    "mirror=https://u:xxxxx@h:8/ x",
		"a http://h/x b file:///x":         "a http://h/x b file:///x",
		`"url":"http://tok@h/"`:            `"url":"http://tok@h/"`,
		"http://a:b@h1/ and ftp://c:d@h2/": "http://a:xxxxx@h1/ and ftp://c:xxxxx@h2/",
		"http://u:p@h/path@x":              "http://u:xxxxx@h/path@x",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	RedactWriter(&b).Write([]byte("x http://u:pw@h/ y"))
	if strings.Contains(b.String(), "pw") {
		t.Error(b.String())
	}
}

// Item 2: a 200 with an HTML page (no checksum published) is a fault of
// that mirror: the next one serves the bundle.
func TestHTMLPageMovesOn(t *testing.T) {
	fs := faults(t)
	a, _, err := timed(t, 20*time.Second, opts(t, fs.URL+"/html", fs.URL+"/good"))
	if err != nil {
		t.Fatalf("%v (hint %s)", err, failure.HintOf(err))
	}
	if a.Mirror != fs.URL+"/good" {
		t.Errorf("mirror = %s", a.Mirror)
	}
	// The first archive name asked for is the zstd one: its HTML page
	// already makes the mirror fail.
	if h := fs.Hits("html", "/"+zstdTarball); h != 1 {
		t.Errorf("html mirror hits = %d", h)
	}
	_, _, err = timed(t, 20*time.Second, opts(t, fs.URL+"/html"))
	wantClass(t, err, failure.Archive)
	if !strings.Contains(err.Error(), "HTML") {
		t.Errorf("error does not say what was served: %v", err)
	}
}

func serveMap(t *testing.T, files map[string][]byte) *faultserver.Server {
	t.Helper()
	fs, err := faultserver.New(faultserver.Files(files))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	return fs
}

// Item 9: an index over 4 MiB or in a redirect loop falls back to the
// bundle's own layouts; a checksum file over 1 MiB is an integrity failure.
func TestBrokenIndexFallsBack(t *testing.T) {
	fs := serveMap(t, map[string][]byte{
		"pkgs/slurm/index.json": bytes.Repeat([]byte(" "), maxIndexFile+10),
		tarball:                 testBundle,
		tarball + ".sha256":     []byte(sum(testBundle) + "\n"),
	})
	a, _, err := timed(t, 20*time.Second, opts(t, fs.URL+"/good"))
	if err != nil {
		t.Fatalf("oversized index: %v", err)
	}
	if a.Layout != "tarball" {
		t.Errorf("layout %s", a.Layout)
	}
	// A redirect loop on the index only.
	loop := serveMap(t, map[string][]byte{tarball: testBundle, tarball + ".sha256": []byte(sum(testBundle) + "\n")})
	mux := http.NewServeMux()
	mux.HandleFunc("/pkgs/slurm/index.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	mux.Handle("/", http.StripPrefix("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loop.URL+"/good"+r.URL.Path, http.StatusFound)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a, _, err = timed(t, 20*time.Second, opts(t, srv.URL))
	if err != nil {
		t.Fatalf("index redirect loop: %v", err)
	}
	if a.Layout != "tarball" {
		t.Errorf("layout %s", a.Layout)
	}
}

func TestChecksumFileTooLarge(t *testing.T) {
	fs := serveMap(t, map[string][]byte{
		tarball:             testBundle,
		tarball + ".sha256": bytes.Repeat([]byte("#"), maxChecksumFile+10),
	})
	_, _, err := timed(t, 20*time.Second, opts(t, fs.URL+"/good"))
	wantClass(t, err, failure.Integrity)
}

// Item 3: a trickling first mirror loses to a healthy second one.
func TestHedgeTrickle(t *testing.T) {
	fs := faults(t)
	o := opts(t, fs.URL+"/trickle-1000", fs.URL+"/good")
	o.Stall = time.Minute // bytes keep coming: no stall
	o.Deadline = time.Minute
	a, _, err := timed(t, 30*time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
	if a.Mirror != fs.URL+"/good" {
		t.Errorf("mirror = %s", a.Mirror)
	}
	if n := fs.Hits("good", "/"+tarball); n != 1 {
		t.Errorf("good mirror got %d requests for the bundle", n)
	}
}

// The fleet: 20 concurrent fetches behind a 5 KB/s first mirror all
// succeed, and the healthy mirror serves each bundle about once (the
// hedge adds at most one extra download per fetch). Set HEDGE=off to see
// the run without hedging (the "before" figure).
func TestHedgeFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet test")
	}
	fs := faults(t)
	const fleet = 20
	var wg sync.WaitGroup
	errs := make([]error, fleet)
	start := time.Now()
	for i := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts(t, fs.URL+"/trickle-5000", fs.URL+"/good")
			o.Log = zerolog.Nop()
			o.Stall, o.Deadline = 5*time.Minute, 5*time.Minute
			if os.Getenv("HEDGE") == "off" {
				o.HedgeGrace = -1
			}
			a, err := Fetch(context.Background(), o)
			if a != nil {
				a.Cleanup()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Errorf("fetch %d: %v", i, err)
		}
	}
	served := fs.Served("good")
	t.Logf("%d concurrent fetches of %d bytes behind a 5 KB/s mirror: %s in all; healthy mirror served %d bytes (%.2f× the fleet's need)",
		fleet, len(big), took.Round(time.Millisecond), served, float64(served)/float64(fleet*len(big)))
	if float64(served) > 1.05*fleet*float64(len(big)) {
		t.Errorf("healthy mirror served %d bytes, more than 1.05 × %d × %d", served, fleet, len(big))
	}
	if took > 2*time.Minute {
		t.Errorf("took %s", took)
	}
}

// Item 4: a stale (rolled back) signed index on the first mirror is that
// mirror's fault; the up-to-date second mirror serves the bundle.
func TestStaleIndexMovesOn(t *testing.T) {
	idx := func(serial int) []byte {
		return []byte(strings.Replace(string(indexJSON(bundleJSON("22.05.8", "x86_64", "../slurm-apk/b.tar.gz", testBundle))), `"serial":1`, fmt.Sprintf(`"serial":%d`, serial), 1))
	}
	stale := serveMap(t, map[string][]byte{"pkgs/slurm/index.json": idx(3), "pkgs/slurm/index.json.minisig": []byte("sig"), apk + "b.tar.gz": testBundle})
	fresh := serveMap(t, map[string][]byte{"pkgs/slurm/index.json": idx(7), "pkgs/slurm/index.json.minisig": []byte("sig"), apk + "b.tar.gz": testBundle})
	accept := func(i *index.Index) error {
		if i.Serial < 5 {
			return fmt.Errorf("serial %d is below the last seen 5", i.Serial)
		}
		return nil
	}
	o := opts(t, stale.URL+"/good", fresh.URL+"/good")
	o.RequireSignedIndex, o.IndexVerifier, o.AcceptIndex = true, func(_, _ []byte) error { return nil }, accept
	a, _, err := timed(t, 20*time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Mirror != fresh.URL+"/good" || a.IndexSerial != 7 {
		t.Errorf("mirror %s serial %d", a.Mirror, a.IndexSerial)
	}
	if stale.Hits("good", "/"+apk+"b.tar.gz") != 0 {
		t.Error("the stale index's bundle was downloaded")
	}
	// Only stale mirrors: integrity (exit 5), naming the cause.
	o = opts(t, stale.URL+"/good")
	o.RequireSignedIndex, o.IndexVerifier, o.AcceptIndex = true, func(_, _ []byte) error { return nil }, accept
	_, _, err = timed(t, 20*time.Second, o)
	wantClass(t, err, failure.Integrity)
	if !strings.Contains(err.Error(), "below the last seen") {
		t.Errorf("err = %v", err)
	}
}

// Item 11: honest verification state. The seed layout publishes checksums
// for versioned names only; a latest download is verified against the
// checksum of the version its VERSION names.
func TestLatestVerifiedByVersionedChecksum(t *testing.T) {
	b := tgzOf("22.05.8\n")
	latest := apk + "slurm-client-latest-x86_64-alpine.tar.gz"
	versioned := apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz"
	latestOpts := func(mirrors ...string) Options {
		o := opts(t, mirrors...)
		o.Version = "latest"
		return o
	}
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		how   bundle.Verification
		class failure.Class
	}{
		{"sidecar", map[string][]byte{latest: b, versioned: b, versioned + ".sha256": []byte(sum(b) + "  slurm-client-22.05.8-x86_64-alpine.tar.gz\n")}, VerifiedSidecar, 0},
		{"sha256sums", map[string][]byte{latest: b, apk + "SHA256SUMS": []byte(sum(b) + "  slurm-client-22.05.8-x86_64-alpine.tar.gz\n")}, VerifiedSHA256SUMS, 0},
		{"mismatch", map[string][]byte{latest: b, versioned + ".sha256": []byte(sum([]byte("x")) + "\n")}, "", failure.Integrity},
		{"none", map[string][]byte{latest: b}, VerifiedNone, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := serveMap(t, tc.files)
			a, err := Fetch(context.Background(), latestOpts(fs.URL+"/good"))
			if tc.class != 0 {
				wantClass(t, err, tc.class)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer a.Cleanup()
			if a.Verification != tc.how {
				t.Errorf("verification = %q, want %q (%s)", a.Verification, tc.how, a.ChecksumSource)
			}
			if tc.how != VerifiedNone && a.Version != "22.05.8" {
				t.Errorf("version = %q", a.Version)
			}
			if a.Origin != a.URL {
				t.Errorf("origin %q", a.Origin)
			}
		})
	}
	// --require-checksum: the unverified mirror is a fault of that mirror; a
	// verified second mirror serves; alone it is exit 5.
	bare := serveMap(t, map[string][]byte{latest: b})
	good := serveMap(t, map[string][]byte{latest: b, versioned + ".sha256": []byte(sum(b) + "\n")})
	o := latestOpts(bare.URL+"/good", good.URL+"/good")
	o.RequireChecksum = true
	a, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a.Cleanup()
	if a.Verification != VerifiedSidecar || a.Mirror != good.URL+"/good" {
		t.Errorf("verification %q from %s", a.Verification, a.Mirror)
	}
	o = latestOpts(bare.URL + "/good")
	o.RequireChecksum = true
	_, err = Fetch(context.Background(), o)
	wantClass(t, err, failure.Integrity)
	if !strings.Contains(err.Error(), "a checksum is required") {
		t.Errorf("error %q does not say a checksum is required", err)
	}
	if st := failure.Steps(err); !slices.Equal(st, []failure.Step{failure.PinDigest, failure.PinKey}) {
		t.Errorf("remedies %v: want a pinned digest or a pinned key", st)
	}
	// Pinned and index.
	o = opts(t, good.URL+"/good")
	o.Version, o.SHA256 = "latest", sum(b)
	if a, err = Fetch(context.Background(), o); err != nil || a.Verification != VerifiedPinned {
		t.Fatalf("%v %+v", err, a)
	}
	a.Cleanup()
}

// Item 6: a file:// mirror is confined to its directory: symlinks and ".."
// leading out of it are refused, a FIFO does not hang the run.
func TestFileMirrorConfined(t *testing.T) {
	outside := t.TempDir()
	secret := tgzOf("host file\n")
	os.WriteFile(outside+"/host.tgz", secret, 0o644)
	os.WriteFile(outside+"/shadow", []byte("root:$6$secrethash:19000:0:99999:7:::\n"), 0o600)

	dir := t.TempDir()
	os.MkdirAll(dir+"/pkgs/slurm-apk", 0o755)
	os.MkdirAll(dir+"/pkgs/slurm", 0o755)
	os.Symlink(outside+"/host.tgz", dir+"/"+tarball)
	_, err := Fetch(context.Background(), opts(t, "file://"+dir))
	if err == nil {
		t.Fatal("a symlink out of the mirror was followed")
	}
	if !strings.Contains(err.Error(), "outside the mirror directory") {
		t.Errorf("err = %v", err)
	}
	// A relative link that climbs out, and a sidecar linked to a host file.
	os.Remove(dir + "/" + tarball)
	rel, _ := filepath.Rel(dir+"/pkgs/slurm-apk", outside+"/host.tgz")
	os.Symlink(rel, dir+"/"+tarball)
	_, err = Fetch(context.Background(), opts(t, "file://"+dir))
	if err == nil {
		t.Fatal("a ../ link out of the mirror was followed")
	}
	os.Remove(dir + "/" + tarball)
	os.WriteFile(dir+"/"+tarball, testBundle, 0o644)
	os.Symlink(outside+"/shadow", dir+"/"+tarball+".sha256")
	a, err := Fetch(context.Background(), opts(t, "file://"+dir))
	if err == nil {
		a.Cleanup()
		if a.Verification != VerifiedNone {
			t.Errorf("verified by a file outside the mirror: %s", a.ChecksumSource)
		}
	} else if strings.Contains(err.Error(), "secrethash") || strings.Contains(failure.HintOf(err), "secrethash") {
		t.Errorf("the linked host file's contents are in the error: %v", err)
	}
	// An index naming ../../ outside the mirror.
	os.Remove(dir + "/" + tarball + ".sha256")
	os.Remove(dir + "/" + tarball)
	relIdx, _ := filepath.Rel(dir+"/pkgs/slurm", outside+"/host.tgz")
	os.WriteFile(dir+"/pkgs/slurm/index.json", indexJSON(bundleJSON("22.05.8", "x86_64", relIdx, secret)), 0o644)
	if a, err := Fetch(context.Background(), opts(t, "file://"+dir)); err == nil {
		a.Cleanup()
		t.Fatal("the index led out of the mirror")
	}

	// A FIFO as a direct file:// mirror (and as the tarball) is refused at once.
	fifo := dir + "/pkgs/slurm-apk/fifo.tar.gz"
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Fetch(context.Background(), opts(t, "file://"+fifo)); done <- err }()
	select {
	case err := <-done:
		wantClass(t, err, failure.Download)
		if !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a FIFO mirror hangs the run")
	}
}

// Item 5: a listing fanning out into thousands of directories is cut off
// as it grows, and the next mirror serves.
func TestTreeFanOutBounded(t *testing.T) {
	var mu sync.Mutex
	listings := 0
	fan := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pkgs/slurm-binaries/x86_64/VERSION" {
			fmt.Fprint(w, "22.05.8\n")
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/pkgs/slurm-binaries/x86_64/") || !strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		listings++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		var es []string
		if r.URL.Path == "/pkgs/slurm-binaries/x86_64/" {
			es = append(es, `{"name":"bin","type":"directory"}`, `{"name":"VERSION","type":"file","size":8}`)
		}
		for i := range 40 {
			es = append(es, fmt.Sprintf(`{"name":"d%d","type":"directory"}`, i))
		}
		fmt.Fprint(w, "["+strings.Join(es, ",")+"]")
	}))
	defer fan.Close()
	fs := faults(t)
	o := opts(t, fan.URL, fs.URL+"/good")
	a, _, err := timed(t, 60*time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Mirror != fs.URL+"/good" {
		t.Errorf("mirror %s", a.Mirror)
	}
	_, _, err = timed(t, 60*time.Second, opts(t, fan.URL))
	mu.Lock()
	n := listings
	mu.Unlock()
	t.Logf("%d listings fetched in all", n)
	if n > 2*(maxTreeListings+10) {
		t.Errorf("%d listings fetched", n)
	}
	wantClass(t, err, failure.Archive)
	if !strings.Contains(err.Error(), "too large") {
		t.Errorf("err = %v", err)
	}
}

// Item 5: parallel tree files share one byte budget: what lands on disk
// stays within the limit (not 4× it).
func TestTreeBytesBudget(t *testing.T) {
	const limit = 1 << 20
	files := map[string][]byte{}
	var tf []treeFile
	srvFiles := map[string][]byte{}
	for i := range 8 {
		b := bytes.Repeat([]byte{byte(i)}, 600<<10)
		name := fmt.Sprintf("lib/f%d", i)
		files[name] = b
		srvFiles[name] = b
	}
	fs := serveMap(t, srvFiles)
	s, _, err := newSession(Options{Mirrors: []string{fs.URL}, Arch: "x86_64", MaxBytes: limit, TempDir: t.TempDir(), Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for name := range files {
		u, _ := url.Parse(fs.URL + "/good/" + name)
		tf = append(tf, treeFile{rel: name, url: u, size: -1})
	}
	dir := t.TempDir()
	os.MkdirAll(dir+"/lib", 0o755)
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	_, _, ferr := (&mirrorGo{session: s}).downloadTree(context.Background(), root, tf)
	if ferr == nil || ferr.kind != kOversize {
		t.Fatalf("err = %v", ferr)
	}
	var onDisk int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && fi.Mode().IsRegular() {
			onDisk += fi.Size()
		}
		return nil
	})
	t.Logf("%d bytes on disk for a %d-byte limit", onDisk, limit)
	if onDisk > limit+64<<10 {
		t.Errorf("wrote %d bytes, limit %d", onDisk, limit)
	}
}

// Item 10: a local write failure names the URL and the directory, not a
// temp file, and mentions TMPDIR only when Fetch chose the directory.
func TestLocalWriteFailureMessage(t *testing.T) {
	fs := faults(t)
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o644)
	o := opts(t, fs.URL+"/good")
	o.TempDir = notDir
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.FileSystem)
	if !strings.Contains(err.Error(), fs.URL+"/good/") || strings.Contains(err.Error(), "slurm-fetch-") {
		t.Errorf("err = %v", err)
	}
	if h := failure.HintOf(err); strings.Contains(h, "TMPDIR") || !strings.Contains(h, notDir) {
		t.Errorf("hint = %q", h)
	}
}

// A download that is slow but on course to finish soon is not hedged:
// the extra load is only for downloads that would clearly lose.
func TestHedgeSparesHealthyDownload(t *testing.T) {
	fs := faults(t)
	o := opts(t, fs.URL+"/slow-3000", fs.URL+"/good")
	o.Stall, o.Deadline = time.Minute, time.Minute
	a, _, err := timed(t, 30*time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Mirror != fs.URL+"/slow-3000" {
		t.Errorf("mirror = %s", a.Mirror)
	}
	if n := fs.Hits("good", "/"+tarball); n != 0 {
		t.Errorf("hedged a download on course: good mirror got %d bundle requests", n)
	}
}

// Item 4: an expired signed index on the first mirror is that mirror's
// fault too.
func TestExpiredIndexMovesOn(t *testing.T) {
	fresh := indexJSON(bundleJSON("22.05.8", "x86_64", "../slurm-apk/b.tar.gz", testBundle))
	expired := []byte(strings.Replace(string(fresh), "2099-05-22", "2001-05-22", 1))
	old := serveMap(t, map[string][]byte{"pkgs/slurm/index.json": expired, "pkgs/slurm/index.json.minisig": []byte("sig"), apk + "b.tar.gz": testBundle})
	good := serveMap(t, map[string][]byte{"pkgs/slurm/index.json": fresh, "pkgs/slurm/index.json.minisig": []byte("sig"), apk + "b.tar.gz": testBundle})
	o := opts(t, old.URL+"/good", good.URL+"/good")
	o.RequireSignedIndex, o.IndexVerifier = true, func(_, _ []byte) error { return nil }
	a, _, err := timed(t, 20*time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Mirror != good.URL+"/good" || a.Verification != VerifiedSignedIndex {
		t.Errorf("mirror %s verification %s", a.Mirror, a.Verification)
	}
}
