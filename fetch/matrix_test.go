package fetch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/internal/testkit/faultserver"
	"slurm-installer/internal/testkit/registrytest"
	"slurm-installer/oci"
)

// Issue 22: every fault × every step of reading a mirror. The first mirror
// spoils one step (the rest it serves well); the healthy second mirror must
// win, well within the timeouts (20 s) and the deadline (60 s), and serve
// the bundle once: at most one extra download. A first mirror that is
// dead or refuses connections altogether is the "mirror" row.

// The faults, as faultserver modes (see its package comment).
var matrixFaults = []struct{ name, mode string }{
	{"dead", "hang"},     // accepts the request, never answers
	{"refused", "close"}, // the connection is closed without an answer
	{"headers-then-silence", "silent"},
	{"trickle", "drip-20"}, // 20 bytes a second
	{"200-with-html", "html"},
	{"5xx", "status-503"},
	{"wrong-checksum", "corrupt"},
}

// matrixBundle is the bundle every step leads to: 64 KiB (a registry blob
// of 4 KiB or more is the bundle to faultserver).
var matrixBundle = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i * 13 % 253)
	}
	return b
}()

const matrixName = "slurm-client-22.05.8-x86_64-alpine.tar.gz"

// appHubSteps: what the mirror holds so that the step is read on the way
// to the bundle, and the version asked for.
func appHubSteps() map[string]struct {
	files   map[string][]byte
	version string
} {
	b := matrixBundle
	side := []byte(sum(b) + "  " + matrixName + "\n")
	listing := []byte(fmt.Sprintf("<html>\r\n<head><title>Index of /pkgs/slurm-apk/</title></head>\r\n<body>\r\n<h1>Index of /pkgs/slurm-apk/</h1><hr><pre><a href=\"../\">../</a>\r\n"+
		"<a href=\"%s\">%s</a>%*s23-Nov-2026 07:00    %12d\r\n</pre><hr></body>\r\n</html>\r\n", matrixName, matrixName, 51-len(matrixName), "", len(b)))
	type s = struct {
		files   map[string][]byte
		version string
	}
	return map[string]s{
		"index":   {map[string][]byte{"pkgs/slurm/index.json": indexJSON(bundleJSON("22.05.8", "x86_64", "../slurm-apk/"+matrixName, b)), apk + matrixName: b}, "22.05.8"},
		"listing": {map[string][]byte{apk: listing, apk + matrixName: b, apk + matrixName + ".sha256": side}, "22.05"},
		"sidecar": {map[string][]byte{apk + matrixName: b, apk + matrixName + ".sha256": side}, "22.05.8"},
		"sums":    {map[string][]byte{apk + matrixName: b, apk + "SHA256SUMS": side}, "22.05.8"},
		"bundle":  {map[string][]byte{apk + matrixName: b, apk + matrixName + ".sha256": side}, "22.05.8"},
	}
}

// matrixOpts: timeouts far above what a case may take, a short grace.
func matrixOpts(t *testing.T, version string, mirrors ...string) Options {
	o := opts(t, mirrors...)
	o.Version = version
	o.Timeout, o.Stall, o.Deadline = 20*time.Second, 20*time.Second, time.Minute
	o.HedgeGrace = 500 * time.Millisecond
	o.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	return o
}

// matrixBound is the most a case may take: far below the timeouts and
// the deadline, generous for a loaded machine.
const matrixBound = 10 * time.Second

func matrixRun(t *testing.T, o Options, good string, goodBundleHits func() int) {
	t.Helper()
	start := time.Now()
	a, err := Fetch(context.Background(), o)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("after %s: %v", took, err)
	}
	t.Cleanup(a.Cleanup)
	checkFile(t, a, matrixBundle)
	if a.Mirror != good {
		t.Errorf("served by %s, want the healthy second mirror", a.Mirror)
	}
	if took > matrixBound {
		t.Errorf("took %s, want under %s (timeouts 20 s, deadline 60 s)", took, matrixBound)
	}
	if n := goodBundleHits(); n != 1 {
		t.Errorf("the healthy mirror served the bundle %d times, want once", n)
	}
}

func TestFaultMatrixAppHub(t *testing.T) {
	for step, st := range appHubSteps() {
		for _, f := range matrixFaults {
			if f.name == "wrong-checksum" && step == "listing" {
				continue // a listing carries no checksum
			}
			t.Run(f.name+"×"+step, func(t *testing.T) {
				t.Parallel()
				fs := serveMap(t, st.files)
				o := matrixOpts(t, st.version, fs.URL+"/"+f.mode+"~"+step, fs.URL+"/good")
				matrixRun(t, o, fs.URL+"/good", func() int { return fs.Hits("good", "/"+apk+matrixName) })
			})
		}
	}
	for _, dead := range []string{"blackhole", "refused"} {
		t.Run(dead+"×mirror", func(t *testing.T) {
			t.Parallel()
			fs := serveMap(t, appHubSteps()["sidecar"].files)
			first := fs.Blackhole
			if dead == "refused" {
				first = fs.Refused
			}
			o := matrixOpts(t, "22.05.8", first, fs.URL+"/good")
			matrixRun(t, o, fs.URL+"/good", func() int { return fs.Hits("good", "/"+apk+matrixName) })
		})
	}
}

// The registry steps, against the real CNCF registry behind two fault
// servers (a reverse proxy each): the first spoils one step, the second
// is healthy and counts the layer's requests.
func TestFaultMatrixRegistry(t *testing.T) {
	reg := registrytest.Start(t, nil)
	p := filepath.Join(t.TempDir(), matrixName)
	if err := os.WriteFile(p, matrixBundle, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := oci.Push(context.Background(), oci.PushOptions{Ref: reg.Ref("hpc/slurm"), Tarball: p, Latest: true, Log: zerolog.Nop(),
		Config: oci.Config{Version: "22.05.8", Arch: "x86_64"}})
	if err != nil {
		t.Fatal(err)
	}
	layer := "/v2/hpc/slurm/blobs/sha256:" + res.SHA256
	up := &url.URL{Scheme: "http", Host: reg.Host}
	proxy := func(t *testing.T, mode string) *faultserver.Server {
		rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.Out.Host = reg.Host }}
		fs, err := faultserver.NewFixed(http.Handler(rp), mode)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fs.Close)
		return fs
	}
	ref := func(fs *faultserver.Server) string {
		return "oci://" + strings.TrimPrefix(fs.URL, "http://") + "/hpc/slurm"
	}
	// Alone, a registry whose manifest, tag list or config sends headers
	// then nothing is cut after the stall time, not held to the deadline.
	for step, version := range map[string]string{"manifest": "22.05.8", "tags": "22.05", "blob": "22.05.8"} {
		t.Run("alone×silent×"+step, func(t *testing.T) {
			t.Parallel()
			bad := proxy(t, "silent~"+step)
			o := matrixOpts(t, version, ref(bad))
			o.Stall, o.Retries = time.Second, 0
			start := time.Now()
			_, err := Fetch(context.Background(), o)
			if took := time.Since(start); err == nil || took > matrixBound {
				t.Fatalf("after %s: err = %v, want a failure within %s (stall 1 s, deadline 60 s)", took, err, matrixBound)
			}
			if !strings.Contains(err.Error(), "stalled") {
				t.Errorf("err = %v, want the stall named", err)
			}
		})
	}
	steps := map[string]string{"manifest": "22.05.8", "tags": "22.05", "blob": "22.05.8", "bundle": "22.05.8"}
	for step, version := range steps {
		for _, f := range matrixFaults {
			if f.name == "wrong-checksum" && step == "tags" {
				continue // a tag list carries no checksum
			}
			t.Run(f.name+"×"+step, func(t *testing.T) {
				t.Parallel()
				bad, good := proxy(t, f.mode+"~"+step), proxy(t, "good")
				o := matrixOpts(t, version, ref(bad), ref(good))
				matrixRun(t, o, ref(good), func() int { return good.Hits("good", layer) })
			})
		}
	}
}
