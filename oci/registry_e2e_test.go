//go:build e2e

package oci_test

// Against the real CNCF distribution server (Debian's docker-registry 2.8),
// started per test on a free loopback port: `make e2e` installs it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/testkit/registrytest"
	"slurm-installer/oci"
)

type bundle struct {
	path, sha string
	size      int64
}

func mkBundle(t *testing.T, n int) bundle {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return bundle{p, hex.EncodeToString(s[:]), int64(n)}
}

func push(t *testing.T, ref, version string, latest bool, log zerolog.Logger) bundle {
	t.Helper()
	return pushNeeding(t, ref, version, "GLIBC_2.34", latest, log)
}

func pushNeeding(t *testing.T, ref, version, glibc string, latest bool, log zerolog.Logger) bundle {
	t.Helper()
	b := mkBundle(t, 100<<10)
	res, err := oci.Push(context.Background(), oci.PushOptions{Ref: ref, Tarball: b.path, Latest: latest, Log: log,
		Config: oci.Config{Version: version, Arch: "amd64", GlibcNeed: glibc}})
	if err != nil {
		t.Fatalf("push %s: %v", version, err)
	}
	if res.SHA256 != b.sha || res.Size != b.size {
		t.Fatalf("push result %+v, want sha %s", res, b.sha)
	}
	return b
}

func pull(t *testing.T, o oci.Options) (*oci.Result, error) {
	t.Helper()
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	res, err := oci.Fetch(context.Background(), o)
	if err == nil {
		t.Cleanup(res.Cleanup)
	}
	return res, err
}

func wantFile(t *testing.T, res *oci.Result, b bundle) {
	t.Helper()
	data, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	if hex.EncodeToString(s[:]) != b.sha || res.SHA256 != b.sha {
		t.Fatalf("pulled %s (result says %s), want %s", hex.EncodeToString(s[:]), res.SHA256, b.sha)
	}
	if !strings.HasSuffix(res.Path, ".tar.gz") || !strings.HasSuffix(res.Name, ".tar.gz") {
		t.Fatalf("path %q name %q: want .tar.gz", res.Path, res.Name)
	}
}

func TestPushPullSelectors(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("hpc/slurm-client")
	log := zerolog.Nop()
	b8 := push(t, ref, "22.05.8", true, log)
	b11 := push(t, ref, "22.05.11", true, log)
	b23 := push(t, ref, "23.02.1", true, log)
	push(t, ref, "21.08.1", false, log)  // --latest=false: latest stays at 23.02.1
	push(t, ref, "22.050.1", false, log) // not in series 22.05

	for _, c := range []struct {
		sel, arch, want string
		b               bundle
	}{
		{"22.05.8", "x86_64", "22.05.8", b8},
		{"22.05.8", "amd64", "22.05.8", b8},
		{"22.05", "x86_64", "22.05.11", b11},
		{"latest", "amd64", "23.02.1", b23},
		{"", "x86_64", "23.02.1", b23},
	} {
		res, err := pull(t, oci.Options{Ref: ref, Version: c.sel, Arch: c.arch})
		if err != nil {
			t.Fatalf("%s/%s: %v", c.sel, c.arch, err)
		}
		if res.Version != c.want || res.Arch != "x86_64" || res.Config.GlibcNeed != "GLIBC_2.34" {
			t.Fatalf("%s/%s: got %+v, want version %s", c.sel, c.arch, res, c.want)
		}
		if !strings.HasPrefix(res.URL, ref+":") || !strings.Contains(res.URL, "@sha256:") {
			t.Fatalf("url %q", res.URL)
		}
		wantFile(t, res, c.b)
	}
	// Another arch has nothing.
	_, err := pull(t, oci.Options{Ref: ref, Version: "latest", Arch: "arm64"})
	if !errors.Is(err, oci.ErrNotFound) || failure.ClassOf(err) != failure.Download {
		t.Fatalf("arm64: %v (class %v), want not found", err, failure.ClassOf(err))
	}
}

// TestAcceptPicksNewestThatRuns: a registry bundle is judged by its config
// before its layer is downloaded (a Debian 12 root cannot run a bundle that
// needs glibc 2.39): latest and a series fall back to the newest bundle that
// runs, logging each one passed over; an exact version or a pinned digest
// that cannot run is KindUnrunnable (class verification), and nothing is
// downloaded for a refused bundle.
func TestAcceptPicksNewestThatRuns(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("hpc/slurm-client")
	log := zerolog.Nop()
	b7 := pushNeeding(t, ref, "22.05.7", "GLIBC_2.31", false, log)
	b8 := pushNeeding(t, ref, "22.05.8", "GLIBC_2.34", false, log)
	pushNeeding(t, ref, "24.11.4", "GLIBC_2.39", false, log)
	b245 := pushNeeding(t, ref, "24.11.5", "GLIBC_2.39", true, log)
	debian12 := func(c oci.Config) string {
		if c.GlibcNeed == "GLIBC_2.39" {
			return "needs glibc 2.39, the root has 2.36"
		}
		return ""
	}
	var logged bytes.Buffer
	res, err := pull(t, oci.Options{Ref: ref, Version: "latest", Arch: "x86_64", Accept: debian12, Log: zerolog.New(&logged)})
	if err != nil {
		t.Fatalf("latest on a glibc 2.36 root: %v", err)
	}
	if res.Version != "22.05.8" {
		t.Fatalf("latest on a glibc 2.36 root: got %s, want 22.05.8 (the newest that runs)", res.Version)
	}
	wantFile(t, res, b8)
	for _, v := range []string{"skipping 24.11.5: needs glibc 2.39", "skipping 24.11.4: needs glibc 2.39"} {
		if !strings.Contains(logged.String(), v) {
			t.Errorf("log lacks %q:\n%s", v, logged.String())
		}
	}
	// A version window (the controller's, --slurm-version cluster) works the same way.
	res, err = pull(t, oci.Options{Ref: ref, Version: "22.05", Arch: "x86_64", Accept: func(c oci.Config) string {
		if c.Version != "22.05.7" {
			return "outside the controller's window"
		}
		return ""
	}})
	if err != nil || res.Version != "22.05.7" {
		t.Fatalf("series 22.05 with a window: %v %v, want 22.05.7", res, err)
	}
	wantFile(t, res, b7)
	for name, o := range map[string]oci.Options{
		"series 24.11":  {Version: "24.11"},
		"exact 24.11.5": {Version: "24.11.5"},
		"pinned latest": {Version: "latest", SHA256: b245.sha},
	} {
		o.Ref, o.Arch, o.Accept, o.TempDir = ref, "x86_64", debian12, t.TempDir()
		_, err := pull(t, o)
		if oci.KindOf(err) != oci.KindUnrunnable || failure.ClassOf(err) != failure.Verify || !strings.Contains(err.Error(), "needs glibc 2.39") {
			t.Errorf("%s: %v (kind %v, class %v), want unrunnable naming the glibc", name, err, oci.KindOf(err), failure.ClassOf(err))
		}
		if name != "series 24.11" && strings.Contains(fmt.Sprint(err), "24.11.4") {
			t.Errorf("%s: looked past the bundle it names: %v", name, err)
		}
		if left, _ := os.ReadDir(o.TempDir); len(left) != 0 {
			t.Errorf("%s: a refused bundle was downloaded: %v", name, left)
		}
	}
}

func TestPinMissingTagAndSizeLimit(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("slurm")
	b := push(t, ref, "22.05.8", true, zerolog.Nop())

	// The pin equals the layer digest: fine, and recorded as the source.
	res, err := pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", SHA256: strings.ToUpper(b.sha)})
	if err != nil || res.ChecksumSource != "pinned digest" {
		t.Fatalf("pinned: %v %+v", err, res)
	}
	// A pin that differs: integrity, exit 5, nothing left in TempDir.
	tmp := t.TempDir()
	_, err = pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", SHA256: strings.Repeat("ab", 32), TempDir: tmp})
	if failure.ClassOf(err) != failure.Integrity || !strings.Contains(err.Error(), b.sha) || !slices.Contains(failure.Steps(err), failure.PinDigest) {
		t.Fatalf("wrong pin: %v (class %v, remedies %v)", err, failure.ClassOf(err), failure.Steps(err))
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
	// Missing tag and missing repository: not found, class download (move on).
	for _, o := range []oci.Options{{Ref: ref, Version: "99.1.1"}, {Ref: ref, Version: "99.1"}, {Ref: reg.Ref("nope"), Version: "latest"}} {
		o.Arch = "x86_64"
		_, err := pull(t, o)
		if !errors.Is(err, oci.ErrNotFound) || failure.ClassOf(err) != failure.Download || oci.KindOf(err) != oci.KindNotFound {
			t.Fatalf("%+v: %v, want not found", o, err)
		}
	}
	// Size limit: refused from the descriptor, the blob is never requested.
	var blobGets atomic.Int32
	hc := &http.Client{Transport: roundTrip(func(req *http.Request) (*http.Response, error) {
		if strings.Contains(req.URL.Path, "/blobs/sha256:"+b.sha) {
			blobGets.Add(1)
		}
		return http.DefaultTransport.RoundTrip(req)
	})}
	_, err = pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", MaxBytes: b.size - 1, Client: oci.ClientOptions{HTTPClient: hc}})
	if failure.ClassOf(err) != failure.Archive || oci.KindOf(err) != oci.KindOversize || !slices.Contains(failure.Steps(err), failure.RaiseMaxSize) {
		t.Fatalf("size limit: %v (class %v, remedies %v)", err, failure.ClassOf(err), failure.Steps(err))
	}
	if n := blobGets.Load(); n != 0 {
		t.Fatalf("the layer was requested %d times despite the size limit", n)
	}
	// A cancelled context stays a cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = oci.Fetch(ctx, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", TempDir: t.TempDir()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The registry's own storage is corrupted: the bytes it serves do not match
// the layer digest. Integrity (5), and nothing is left behind.
func TestDigestMismatchFromRegistry(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("slurm")
	b := push(t, ref, "22.05.8", true, zerolog.Nop())
	data := filepath.Join(reg.Dir, "docker/registry/v2/blobs/sha256", b.sha[:2], b.sha, "data")
	raw, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(data, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	_, err = pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", TempDir: tmp})
	if failure.ClassOf(err) != failure.Integrity || oci.KindOf(err) != oci.KindIntegrity {
		t.Fatalf("corrupt blob: %v (class %v)", err, failure.ClassOf(err))
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

// A body cut half way is resumed with Range (the registry serves ranges).
func TestResumeWithRange(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("slurm")
	b := push(t, ref, "22.05.8", true, zerolog.Nop())
	var cut atomic.Bool
	var ranges []string
	hc := &http.Client{Transport: roundTrip(func(req *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil || !strings.Contains(req.URL.Path, "/blobs/sha256:"+b.sha) {
			return resp, err
		}
		ranges = append(ranges, req.Header.Get("Range"))
		if cut.CompareAndSwap(false, true) {
			resp.Body = cutBody{r: io.LimitReader(resp.Body, b.size/3), c: resp.Body}
		}
		return resp, nil
	})}
	res, err := pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", Client: oci.ClientOptions{HTTPClient: hc}})
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, res, b)
	if res.Resumed != 1 || len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") {
		t.Fatalf("resumed %d, ranges %q", res.Resumed, ranges)
	}
}

type cutBody struct {
	r io.Reader
	c io.Closer
}

func (b cutBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
func (b cutBody) Close() error { return b.c.Close() }

// htpasswd auth: credentials from DOCKER_CONFIG or the auth file the caller
// names (ClientOptions.AuthFile, the CLI's REGISTRY_AUTH_FILE); none or wrong
// ones are a clear error suggesting a login; a password never reaches a log
// or error.
func TestAuth(t *testing.T) {
	const user, pass = "builder", "s3cret-Pa55word"
	reg := registrytest.Start(t, map[string]string{user: pass})
	ref := reg.Ref("hpc/slurm")
	var logs bytes.Buffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	secret := []string{pass, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	clean := func(what, s string) {
		t.Helper()
		for _, x := range secret {
			if strings.Contains(s, x) {
				t.Fatalf("%s holds a credential: %s", what, s)
			}
		}
	}

	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // empty: no credentials
	b := mkBundle(t, 50<<10)
	_, err := oci.Push(context.Background(), oci.PushOptions{Ref: ref, Tarball: b.path, Latest: true, Log: log, Config: oci.Config{Version: "22.05.8", Arch: "x86_64"}})
	if !errors.Is(err, oci.ErrUnauthorized) || !slices.Contains(failure.Steps(err), failure.RegistryLogin) {
		t.Fatalf("push without credentials: %v (remedies %v)", err, failure.Steps(err))
	}

	dir, err := registrytest.DockerConfig(t.TempDir(), reg.Host, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	if _, err := oci.Push(context.Background(), oci.PushOptions{Ref: ref, Tarball: b.path, Latest: true, Log: log, Config: oci.Config{Version: "22.05.8", Arch: "x86_64"}}); err != nil {
		t.Fatalf("push with DOCKER_CONFIG: %v", err)
	}
	res, err := pull(t, oci.Options{Ref: ref, Version: "22.05", Arch: "x86_64", Log: log})
	if err != nil {
		t.Fatalf("pull with DOCKER_CONFIG: %v", err)
	}
	wantFile(t, res, b)
	clean("result", res.URL+res.Mirror+res.ChecksumSource)

	// Wrong password, then none: a clear error naming what to do.
	bad, _ := registrytest.DockerConfig(t.TempDir(), reg.Host, user, "wrong-"+pass[:3])
	t.Setenv("DOCKER_CONFIG", bad)
	_, err = pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", Log: log})
	if !errors.Is(err, oci.ErrUnauthorized) || errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("wrong password: %v", err)
	}
	clean("error", err.Error()+failure.HintOf(err))
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err = pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64", Log: log})
	if !errors.Is(err, oci.ErrUnauthorized) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no credentials: %v", err)
	}

	// An auth file (podman's auth.json) works as well, ahead of the empty
	// Docker config; the package itself reads no REGISTRY_AUTH_FILE.
	af, _ := registrytest.DockerConfig(t.TempDir(), reg.Host, user, pass)
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(af, "config.json"))
	if _, err := pull(t, oci.Options{Ref: ref, Version: "latest", Arch: "x86_64", Log: log}); !errors.Is(err, oci.ErrUnauthorized) {
		t.Fatalf("pull with only REGISTRY_AUTH_FILE set: %v, want unauthorized (the caller passes the file)", err)
	}
	auth := oci.ClientOptions{AuthFile: filepath.Join(af, "config.json")}
	if _, err := pull(t, oci.Options{Ref: ref, Version: "latest", Arch: "x86_64", Log: log, Client: auth}); err != nil {
		t.Fatalf("pull with an auth file: %v", err)
	}

	// Credentials in the reference are refused (usage), and not echoed.
	_, err = pull(t, oci.Options{Ref: "oci://" + user + ":" + pass + "@" + reg.Host + "/hpc/slurm", Arch: "x86_64"})
	if failure.ClassOf(err) != failure.Usage {
		t.Fatalf("userinfo: %v", err)
	}
	clean("userinfo error", err.Error())
	clean("logs", logs.String())
	if !strings.Contains(logs.String(), "bundle pushed") || !strings.Contains(logs.String(), "registry names a bundle") {
		t.Fatalf("logs miss the push/pull lines:\n%s", logs.String())
	}
}

// TestZstdLayer (issue 25): a .tar.zst is pushed as OCI's zstd layer
// type, pulled to a .tar.zst file (the media type, checked against the
// manifest's digest, names the format for the extractor), and a gzip
// artifact in the same repository keeps its own type and name.
func TestZstdLayer(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("hpc/slurm-client")
	gz := push(t, ref, "22.05.8", false, zerolog.Nop())
	zb := mkBundle(t, 64<<10)
	zst := filepath.Join(t.TempDir(), "slurm-client-23.02.1-x86_64-alpine.tar.zst")
	if err := os.Rename(zb.path, zst); err != nil {
		t.Fatal(err)
	}
	res, err := oci.Push(context.Background(), oci.PushOptions{Ref: ref, Tarball: zst, Log: zerolog.Nop(),
		Config: oci.Config{Version: "23.02.1", Arch: "amd64", GlibcNeed: "GLIBC_2.34"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+reg.Host+"/v2/hpc/slurm-client/manifests/"+res.Manifest, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	man, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(man, []byte(`"mediaType":"`+oci.ZstdLayerMediaType+`"`)) || !bytes.Contains(man, []byte("alpine.tar.zst")) {
		t.Fatalf("manifest of a .tar.zst push: %s", man)
	}
	got, err := pull(t, oci.Options{Ref: ref, Version: "23.02.1", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(got.Path, ".tar.zst") || !strings.HasSuffix(got.Name, ".tar.zst") || got.SHA256 != zb.sha {
		t.Fatalf("zstd pull: path %q name %q sha %s, want .tar.zst and %s", got.Path, got.Name, got.SHA256, zb.sha)
	}
	old, err := pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, old, gz)
}

// TestPushCarriesOrigin: the config of a bundle packed from a distro's
// packages records where its files came from, as index.json does, and its
// SBOM is pushed as a referrer of it (issue 27).
func TestPushCarriesOrigin(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("hpc/slurm-client")
	b := mkBundle(t, 1)
	origin := &index.Origin{Distro: "debian", DistroVersion: "12", Database: "dpkg", Packages: []index.OriginPackage{{Name: "slurm-client",
		Version: "22.05.8-4+deb12u3", Arch: "amd64", Client: true, PURL: "pkg:deb/debian/slurm-client@22.05.8-4%2Bdeb12u3?arch=amd64&distro=debian-12"}}}
	doc := []byte(`{"spdxVersion":"SPDX-2.3","name":"slurm-client-22.05.8-x86_64"}` + "\n")
	pushed, err := oci.Push(context.Background(), oci.PushOptions{Ref: ref, Tarball: b.path, Log: zerolog.Nop(), SBOM: doc,
		Config: oci.Config{Version: "22.05.8", Arch: "amd64", Origin: origin}})
	if err != nil {
		t.Fatal(err)
	}
	// The SBOM is a referrer of the bundle's manifest (this registry has no
	// referrers API: the tag-schema fallback).
	got, err := oci.ReferredSBOM(context.Background(), ref, pushed.Manifest, oci.ClientOptions{})
	if err != nil || !bytes.Equal(got, doc) || pushed.SBOM == "" {
		t.Fatalf("the SBOM referrer: %v, %q (pushed %+v)", err, got, pushed)
	}
	res, err := pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Config.Origin; o == nil || o.Distro != "debian" || len(o.Packages) != 1 || o.Packages[0].PURL != origin.Packages[0].PURL || !o.Packages[0].Client {
		t.Fatalf("pulled config's origin %+v", res.Config.Origin)
	}
}

// TestRepublishRefused (issue 27's rule for registries): pushing other
// bytes under a version tag that already holds a bundle is refused (exit 7,
// remedy: replace) and leaves the tag as it was; the same bytes again are
// fine; with Replace the tag moves. A tag that holds something that is not
// a bundle is not overwritten either. (Before, a push silently moved the
// tag: installers that pinned the old digest broke.)
func TestRepublishRefused(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Ref("hpc/republish")
	first := push(t, ref, "22.05.8", true, zerolog.Nop())
	pushAgain := func(b bundle, replace bool) error {
		_, err := oci.Push(context.Background(), oci.PushOptions{Ref: ref, Tarball: b.path, Latest: true, Replace: replace, Log: zerolog.Nop(),
			Config: oci.Config{Version: "22.05.8", Arch: "amd64", GlibcNeed: "GLIBC_2.34"}})
		return err
	}
	if err := pushAgain(first, false); err != nil {
		t.Fatalf("the same bytes again: %v", err)
	}
	other := mkBundle(t, 100<<10)
	err := pushAgain(other, false)
	if failure.ClassOf(err) != failure.FileSystem || !slices.Contains(failure.Steps(err), failure.ReplaceBundle) ||
		!strings.Contains(err.Error(), first.sha) {
		t.Fatalf("other bytes under the same tag: %v (class %v, remedies %v); want exit 7 naming %s", err, failure.ClassOf(err), failure.Steps(err), first.sha)
	}
	res, err := pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, res, first) // the tag did not move
	if err := pushAgain(other, true); err != nil {
		t.Fatalf("with Replace: %v", err)
	}
	res, err = pull(t, oci.Options{Ref: ref, Version: "22.05.8", Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, res, other)

	// A version tag that names an image that is not a bundle.
	img := reg.Ref("hpc/not-a-bundle")
	repo, err := remote.NewRepository(reg.Host + "/hpc/not-a-bundle")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	ctx := context.Background()
	cfgDesc, err := oras.PushBytes(ctx, repo, ocispec.MediaTypeImageConfig, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := oras.PushBytes(ctx, repo, ocispec.MediaTypeImageLayer, []byte("not a bundle"))
	if err != nil {
		t.Fatal(err)
	}
	man, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfgDesc, Layers: []ocispec.Descriptor{layer}})
	if _, err := oras.TagBytes(ctx, repo, ocispec.MediaTypeImageManifest, man, "22.05.8-x86_64"); err != nil {
		t.Fatal(err)
	}
	_, err = oci.Push(context.Background(), oci.PushOptions{Ref: img, Tarball: other.path, Log: zerolog.Nop(),
		Config: oci.Config{Version: "22.05.8", Arch: "amd64"}})
	if failure.ClassOf(err) != failure.FileSystem || !strings.Contains(err.Error(), "not a bundle") {
		t.Fatalf("over a tag that is not a bundle: %v", err)
	}
}
