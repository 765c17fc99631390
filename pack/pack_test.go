package pack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/install"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/trust"
)

func payload(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "slurm")
	for _, p := range []string{"bin", "lib/slurm"} {
		os.MkdirAll(filepath.Join(d, p), 0o755)
	}
	os.WriteFile(filepath.Join(d, "bin/sinfo"), []byte("#!sinfo\n"), 0o755)
	os.WriteFile(filepath.Join(d, "bin/squeue"), []byte("#!squeue\n"), 0o4755)
	os.WriteFile(filepath.Join(d, "lib/libslurmfull.so"), []byte("lib"), 0o644)
	os.Symlink("../libslurmfull.so", filepath.Join(d, "lib/slurm/libslurmfull.so"))
	os.WriteFile(filepath.Join(d, "VERSION"), []byte("22.05.8\n"), 0o644)
	return d
}

func TestPackReproducibleAndInstallable(t *testing.T) {
	src := payload(t)
	out1, out2 := t.TempDir(), t.TempDir()
	r1, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "amd64", Out: out1, Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	// Different mtimes on the input do not change the output.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(src, "bin/sinfo"), later, later)
	r2, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: out2, Latest: true, Now: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(r1.Tarball)
	b2, _ := os.ReadFile(r2.Tarball)
	if !bytes.Equal(b1, b2) || r1.SHA256 != r2.SHA256 {
		t.Fatal("same input gave different tarballs")
	}
	// Seed names and sidecars exist.
	for _, n := range []string{"slurm-client-22.05.8-x86_64-alpine.tar.gz", "slurm-client-22.05.8-alpine.tar.gz",
		"slurm-client-latest-x86_64-alpine.tar.gz", "slurm-client-latest-alpine.tar.gz"} {
		sc, err := os.ReadFile(filepath.Join(out1, "pkgs/slurm-apk", n+".sha256"))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := bundle.ParseSidecar(sc, n); string(got) != r1.SHA256 {
			t.Fatalf("%s sidecar %q", n, got)
		}
	}
	idx, err := os.ReadFile(r1.Index)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Parse(idx)
	if err != nil {
		t.Fatal(err)
	}
	b := ix.Find("latest", "amd64")
	if b == nil || b.SHA256 != r1.SHA256 || b.Size != r1.Size || ix.Serial != 1 || !ix.Expires.After(ix.Created) {
		t.Fatalf("index: %+v", ix)
	}
	// A second version raises the serial and moves latest.
	src2 := payload(t)
	os.WriteFile(filepath.Join(src2, "VERSION"), []byte("23.02.1\n"), 0o644)
	if _, err := Pack(context.Background(), Options{From: src2, Version: "23.02.1", Arch: "x86_64", Out: out1, Latest: true}); err != nil {
		t.Fatal(err)
	}
	idx, _ = os.ReadFile(r1.Index)
	ix, _ = index.Parse(idx)
	if ix.Serial != 2 || ix.Latest["x86_64"] != "23.02.1" || len(ix.Bundles) != 2 {
		t.Fatalf("index after second pack: %+v", ix)
	}
	// The installer's extractor accepts the tarball, with setuid dropped.
	dir := t.TempDir()
	es, err := install.ExtractArchive(context.Background(), r1.Tarball, dir, install.Limits{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Path == "usr/local/slurm/bin/squeue" && e.Mode != 0o755 {
			t.Fatalf("setuid published: %v", e.Mode)
		}
	}
}

func TestPackRefuses(t *testing.T) {
	noSinfo := t.TempDir()
	os.MkdirAll(filepath.Join(noSinfo, "bin"), 0o755)
	escape := payload(t)
	os.Symlink("../../../etc/passwd", filepath.Join(escape, "lib/evil"))
	abs := payload(t)
	os.Symlink("/etc/passwd", filepath.Join(abs, "lib/evil"))
	wrongVersion := payload(t)
	// Each link is local on its own; together they leave the archive
	// (a/up is the payload root, so six .. climb past usr/local/slurm).
	chain := payload(t)
	os.Symlink("lib/slurm", filepath.Join(chain, "a"))
	os.Symlink("../..", filepath.Join(chain, "lib/slurm/up"))
	os.Symlink("a/up/a/up/a/up/../../../../../../etc", filepath.Join(chain, "e"))
	fifo := payload(t)
	if err := syscall.Mkfifo(filepath.Join(fifo, "lib/pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	notExec := payload(t)
	os.Chmod(filepath.Join(notExec, "bin/sinfo"), 0o644)
	for name, o := range map[string]Options{
		"symlink chain":   {From: chain, Version: "22.05.8", Arch: "x86_64"},
		"fifo":            {From: fifo, Version: "22.05.8", Arch: "x86_64"},
		"sinfo not exec":  {From: notExec, Version: "22.05.8", Arch: "x86_64"},
		"no sinfo":        {From: noSinfo, Version: "1", Arch: "x86_64"},
		"escaping link":   {From: escape, Version: "22.05.8", Arch: "x86_64"},
		"absolute link":   {From: abs, Version: "22.05.8", Arch: "x86_64"},
		"version differs": {From: wrongVersion, Version: "23.02.1", Arch: "x86_64"},
		"bad arch":        {From: wrongVersion, Version: "22.05.8", Arch: "sparc"},
		"latest":          {From: wrongVersion, Version: "latest", Arch: "x86_64"},
	} {
		t.Run(name, func(t *testing.T) {
			o.Out = t.TempDir()
			_, err := Pack(context.Background(), o)
			if failure.ClassOf(err) != failure.Usage {
				t.Fatalf("want usage error, got %v", err)
			}
			if _, err := os.Stat(filepath.Join(o.Out, "pkgs")); err == nil {
				t.Fatal("wrote output for a refused payload")
			}
		})
	}
}

// A directory that is no payload suggests pointing the packer at one (the
// app words it with --from); a non-directory too. The messages name the
// payload, not the flag.
func TestPackPayloadRemedy(t *testing.T) {
	noSinfo := t.TempDir()
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, from := range []string{noSinfo, file} {
		_, err := Pack(context.Background(), Options{From: from, Version: "22.05.8", Arch: "x86_64", Out: t.TempDir()})
		if failure.ClassOf(err) != failure.Usage || !slices.Contains(failure.Steps(err), failure.GivePayload) || strings.Contains(err.Error(), "--") {
			t.Fatalf("%s: %v (remedies %v), want a usage error suggesting GivePayload", from, err, failure.Steps(err))
		}
	}
}

func TestPackSigns(t *testing.T) {
	src, out := payload(t), t.TempDir()
	key := "untrusted comment: test key\n" + testSecretKey + "\n"
	signer, err := trust.ParseSigner([]byte(key), "", "test.key")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	r, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: out, Latest: true, Signer: signer,
		Now: now, Expires: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sig != r.Index+".minisig" || r.Serial != 1 || !r.Expires.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("result %+v", r)
	}
	idx, _ := os.ReadFile(r.Index)
	sig, _ := os.ReadFile(r.Sig)
	v, err := signer.PublicKey().Verify(idx, sig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.TrustedComment, "file:index.json") || !v.Prehashed {
		t.Fatalf("signature %+v", v)
	}
	ix, _ := index.Parse(idx)
	if !ix.Created.Equal(now) || !ix.Expires.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("index times %v %v", ix.Created, ix.Expires)
	}
	// Re-packing unsigned removes the signature rather than leave one for another index.
	if _, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: out, Latest: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Sig); err == nil {
		t.Fatal("stale index.json.minisig left behind")
	}
}

// testSecretKey is an unencrypted minisign secret key for tests only.
const testSecretKey = "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA9elgFpq1yUiWchhNPvmLt54BE8QpZhtOTKfv9dyON+DYTx2iyS8RLtnk5UNup8UGzW0u/cK7gOOpC3pt/TudIn6mrGQELO7lAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// Issue 22, defect 5: --from a symlink to the payload packed nothing but
// VERSION (the walk stopped at the link) and published it as latest. The
// link the operator names is followed; the bundle holds the whole payload.
func TestPackFromSymlink(t *testing.T) {
	src := payload(t)
	link := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	direct, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	r, err := Pack(context.Background(), Options{From: link, Version: "22.05.8", Arch: "x86_64", Out: out, Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Files != direct.Files || r.SHA256 != direct.SHA256 {
		t.Fatalf("through a link: %d files, sha256 %s; the payload itself: %d files, %s", r.Files, r.SHA256, direct.Files, direct.SHA256)
	}
	dir := t.TempDir()
	if _, err := install.ExtractArchive(context.Background(), r.Tarball, dir, install.Limits{}, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "usr/local/slurm/bin/sinfo")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the bundle has no bin/sinfo: %v", err)
	}
}

// A payload whose bin/ is a link out of it is refused (this held before
// issue 22 too): links inside the payload are never followed, only the
// one the publisher names.
func TestPackRefusesEmptyWalk(t *testing.T) {
	src := payload(t)
	real := filepath.Join(filepath.Dir(src), "realbin")
	if err := os.Rename(filepath.Join(src, "bin"), real); err != nil {
		t.Fatal(err)
	}
	// bin/ is a link leaving the payload: bin/sinfo is reachable, but the
	// link is refused, never followed into the bundle.
	if err := os.Symlink(real, filepath.Join(src, "bin")); err != nil {
		t.Fatal(err)
	}
	o := Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: t.TempDir()}
	if _, err := Pack(context.Background(), o); failure.ClassOf(err) != failure.Usage {
		t.Fatalf("want a usage error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(o.Out, "pkgs")); err == nil {
		t.Fatal("wrote output for a refused payload")
	}
}
