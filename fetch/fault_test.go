package fetch

import (
	"bytes"
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/httpx"
	"slurm-installer/internal/testkit/faultserver"
)

// Tests against internal/testkit/faultserver: real servers on 127.0.0.1, each
// with an elapsed-time bound (generous for a loaded CI box).

const tarball = apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz"

// zstdTarball is the tarball layout's zstd name, asked for before the gzip ones.
const zstdTarball = apk + "slurm-client-22.05.8-x86_64-alpine.tar.zst"

var big = func() []byte {
	b := make([]byte, 256<<10)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}()

func faults(t *testing.T) *faultserver.Server {
	t.Helper()
	fs, err := faultserver.New(faultserver.Files(map[string][]byte{
		tarball:             big,
		tarball + ".sha256": []byte(sum(big) + "  slurm-client-22.05.8-x86_64-alpine.tar.gz\n"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	return fs
}

// defaults is opts with the CLI's network defaults (10s per attempt, 300ms race delay).
func defaults(t *testing.T, mirrors ...string) Options {
	o := opts(t, mirrors...)
	o.Timeout, o.MinBackoff, o.MaxBackoff = 10*time.Second, 0, 0
	return o
}

func timed(t *testing.T, bound time.Duration, o Options) (*Artifact, time.Duration, error) {
	t.Helper()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	start := time.Now()
	a, err := Fetch(context.Background(), o)
	d := time.Since(start)
	if a != nil {
		t.Cleanup(a.Cleanup)
	}
	t.Logf("took %s (%s expected on an idle machine)", d, bound)
	// Generous: a loaded 2-core CI machine is slow. The cases assert order
	// and cause; the bound only catches a run that waited for a timeout it
	// should never have waited for (each is 10 s or more).
	if limit := 3*bound + 4*time.Second; d > limit {
		t.Errorf("took %s, want under %s", d, limit)
	}
	return a, d, err
}

func TestRaceBlackholeRefusedGood(t *testing.T) {
	fs := faults(t)
	for _, first := range []string{fs.Blackhole, fs.URL + "/hang"} {
		a, d, err := timed(t, 2*time.Second, defaults(t, first, fs.Refused, fs.URL+"/good"))
		if err != nil {
			t.Fatal(err)
		}
		checkFile(t, a, big)
		if a.Mirror != fs.URL+"/good" {
			t.Errorf("mirror = %s", a.Mirror)
		}
		if d < 250*time.Millisecond {
			t.Errorf("took %s: the race delay was not waited", d)
		}
	}
}

func TestRacePreferenceKept(t *testing.T) {
	fs := faults(t)
	// A slow body is an answer: the second mirror is never started.
	a, _, err := timed(t, 3*time.Second, defaults(t, fs.URL+"/slow-600", fs.URL+"/good"))
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
	if a.Mirror != fs.URL+"/slow-600" || fs.Hits("good", "/"+tarball) != 0 {
		t.Errorf("mirror = %s, good hits = %d", a.Mirror, fs.Hits("good", "/"+tarball))
	}
	// Without racing, a blackhole costs the whole header timeout.
	o := defaults(t, fs.Blackhole, fs.URL+"/good")
	o.RaceDelay, o.Timeout = -1, 700*time.Millisecond
	_, d, err := timed(t, 3*time.Second, o)
	if err != nil || d < 600*time.Millisecond {
		t.Errorf("no race: err = %v after %s", err, d)
	}
}

func TestFastFailures(t *testing.T) {
	fs := faults(t)
	for _, mode := range []string{"status-500", "status-502", "status-503", "status-429", "status-404", "flaky-100"} {
		t.Run(mode, func(t *testing.T) {
			a, _, err := timed(t, time.Second, defaults(t, fs.URL+"/"+mode, fs.URL+"/good"))
			if err != nil {
				t.Fatal(err)
			}
			if a.Mirror != fs.URL+"/good" {
				t.Errorf("mirror = %s", a.Mirror)
			}
		})
	}
}

func TestFlakyRecovers(t *testing.T) {
	fs := faults(t)
	a, _, err := timed(t, 3*time.Second, defaults(t, fs.URL+"/flaky-2"))
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
}

// A mirror whose first three requests fail (nginx restarting) spends the
// default two retries on its optional index, then skips to the bundle and
// gets it: the benchmark's "503 x3 then healthy" case.
func TestFlakyIndexSkipped(t *testing.T) {
	fs := faults(t)
	o := defaults(t, fs.URL+"/flaky-3")
	o.Retries = 2
	a, _, err := timed(t, 5*time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
	// With a key pinned the index is the only trusted source: never skipped,
	// so the same mirror ends as a download failure on its index.
	fs = faults(t)
	o = defaults(t, fs.URL+"/flaky-3")
	o.Retries = 2
	o.RequireSignedIndex = true
	o.IndexVerifier = func(index, sig []byte) error { return nil }
	_, _, err = timed(t, 5*time.Second, o)
	wantClass(t, err, failure.Download)
}

func TestRetryAfterHonoured(t *testing.T) {
	fs := faults(t)
	o := defaults(t, fs.URL+"/status-503-ra1")
	o.Retries = 1
	_, d, err := timed(t, 4*time.Second, o)
	wantClass(t, err, failure.Download)
	if d < 900*time.Millisecond || fs.Hits("status-503-ra1", "/pkgs/slurm/index.json") != 2 {
		t.Errorf("took %s with %d tries; want Retry-After: 1 waited once", d, fs.Hits("status-503-ra1", "/pkgs/slurm/index.json"))
	}
	// 4xx other than 408 and 429 are never retried.
	o = defaults(t, fs.URL+"/status-403")
	_, _, err = timed(t, time.Second, o)
	wantClass(t, err, failure.Download)
	if n := fs.Hits("status-403", "/pkgs/slurm/index.json"); n != 1 {
		t.Errorf("403 asked %d times", n)
	}
}

func TestAllDeadDeadline(t *testing.T) {
	fs := faults(t)
	o := defaults(t, fs.Blackhole, fs.Refused, fs.URL+"/status-502", fs.URL+"/stall")
	o.Deadline, o.Retries = 1500*time.Millisecond, 100
	_, _, err := timed(t, 3*time.Second, o)
	wantClass(t, err, failure.Download)
	if !strings.Contains(err.Error(), "deadline") {
		t.Errorf("err = %v", err)
	}
}

func TestTruncatedResumes(t *testing.T) {
	fs := faults(t)
	a, _, err := timed(t, 2*time.Second, defaults(t, fs.URL+"/truncate"))
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
	if n := fs.Hits("truncate", "/"+tarball); n != 2 {
		t.Errorf("%d requests for the bundle, want 2 (cut, then resumed)", n)
	}
}

func TestStallResumes(t *testing.T) {
	fs := faults(t)
	o := defaults(t, fs.URL+"/stall")
	o.Stall = 300 * time.Millisecond
	a, _, err := timed(t, 2*time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
}

func TestIgnoredRangeRestarts(t *testing.T) {
	fs := faults(t)
	a, _, err := timed(t, 2*time.Second, defaults(t, fs.URL+"/norange"))
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
}

func TestChangedBodyRejected(t *testing.T) {
	fs := faults(t)
	o := defaults(t, fs.URL+"/changing/"+tarball)
	o.SHA256 = sum(big)
	_, _, err := timed(t, 2*time.Second, o)
	wantClass(t, err, failure.Integrity)
}

func TestCACert(t *testing.T) {
	srv := httptest.NewTLSServer(faultserver.Files(map[string][]byte{tarball: big}))
	t.Cleanup(srv.Close)
	o := defaults(t, srv.URL)
	o.SHA256 = sum(big)
	_, _, err := timed(t, time.Second, o)
	wantClass(t, err, failure.Download)
	if !slices.Contains(failure.Steps(err), failure.GiveCACert) {
		t.Errorf("no remedy naming the CA certificate: %v / %v", err, failure.Steps(err))
	}
	pool, ok := httpx.CertPool(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	if !ok {
		t.Fatal("the test server's certificate did not load")
	}
	o.RootCAs = pool
	a, _, err := timed(t, time.Second, o)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, a, big)
}

// proxyLn is where HTTP_PROXY points (set in TestMain, before the first
// request reads the environment). Loopback hosts are never proxied, so the
// test asks for http://apphub.test/, which only the proxy can reach.
var proxyLn net.Listener

func TestProxyFromEnvironment(t *testing.T) {
	if proxyLn == nil {
		t.Skip("no proxy listener")
	}
	fs := faults(t)
	target := strings.TrimPrefix(fs.URL, "http://")
	var seen []string
	proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.String())
		r.URL.Host = target
		r.Host = target
		r.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		w.Write(buf.Bytes())
	})}
	go proxy.Serve(proxyLn)
	t.Cleanup(func() { proxy.Close(); http.DefaultTransport.(*http.Transport).CloseIdleConnections() })
	a, err := Fetch(context.Background(), defaults(t, "http://apphub.test/good"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Cleanup)
	checkFile(t, a, big)
	if len(seen) == 0 || !strings.HasPrefix(seen[0], "http://apphub.test/good/") {
		t.Errorf("proxy saw %q", seen)
	}
	// NO_PROXY=direct.test: that host is not proxied.
	s, _, err := newSession(defaults(t, "http://direct.test/"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://direct.test/x", nil)
	if u, _ := s.client.HTTPClient.Transport.(*http.Transport).Proxy(req); u != nil {
		t.Errorf("direct.test proxied via %s", u)
	}
}

func TestProgress(t *testing.T) {
	fs := faults(t)
	var live bytes.Buffer
	o := defaults(t, fs.URL+"/slow-600")
	o.Progress, o.ProgressOut = ProgressLive, &live
	if _, _, err := timed(t, 3*time.Second, o); err != nil {
		t.Fatal(err)
	}
	if out := live.String(); strings.Count(out, "\r") < 2 || !strings.Contains(out, "256.0 KiB / 256.0 KiB (100%)") || !strings.HasSuffix(out, "\n") {
		t.Errorf("live progress = %q", out)
	}

	var logged bytes.Buffer
	defer func(q time.Duration) { logQuiet = q }(logQuiet)
	logQuiet = 0
	o = defaults(t, fs.URL+"/slow-600")
	o.Log = testLog(t).Output(&logged)
	o.Progress = ProgressLog
	if _, _, err := timed(t, 3*time.Second, o); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logged.String(), `"message":"downloading `); n < 2 || n > 4 {
		t.Errorf("%d progress log lines (want one per 25%%): %s", n, logged.String())
	}

	var quiet bytes.Buffer
	o = defaults(t, fs.URL+"/good")
	o.Progress, o.ProgressOut = ProgressOff, &quiet
	if _, _, err := timed(t, 3*time.Second, o); err != nil || quiet.Len() != 0 {
		t.Errorf("quiet: err = %v, output %q", err, quiet.String())
	}
}
