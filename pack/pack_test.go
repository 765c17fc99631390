package pack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
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
	r1, err := Pack(Options{From: src, Version: "22.05.8", Arch: "amd64", Out: out1, Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	// Different mtimes on the input do not change the output.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(src, "bin/sinfo"), later, later)
	r2, err := Pack(Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: out2, Latest: true, Now: time.Now().Add(time.Minute)})
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
		if got, _ := fetch.ParseSHA256Sidecar(sc, n); got != r1.SHA256 {
			t.Fatalf("%s sidecar %q", n, got)
		}
	}
	idx, err := os.ReadFile(r1.Index)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := fetch.ParseIndex(idx)
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
	if _, err := Pack(Options{From: src2, Version: "23.02.1", Arch: "x86_64", Out: out1, Latest: true}); err != nil {
		t.Fatal(err)
	}
	idx, _ = os.ReadFile(r1.Index)
	ix, _ = fetch.ParseIndex(idx)
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
	for name, o := range map[string]Options{
		"no sinfo":        {From: noSinfo, Version: "1", Arch: "x86_64"},
		"escaping link":   {From: escape, Version: "22.05.8", Arch: "x86_64"},
		"absolute link":   {From: abs, Version: "22.05.8", Arch: "x86_64"},
		"version differs": {From: wrongVersion, Version: "23.02.1", Arch: "x86_64"},
		"bad arch":        {From: wrongVersion, Version: "22.05.8", Arch: "sparc"},
		"latest":          {From: wrongVersion, Version: "latest", Arch: "x86_64"},
	} {
		t.Run(name, func(t *testing.T) {
			o.Out = t.TempDir()
			_, err := Pack(o)
			if failure.ClassOf(err) != failure.Usage {
				t.Fatalf("want usage error, got %v", err)
			}
			if _, err := os.Stat(filepath.Join(o.Out, "pkgs")); err == nil {
				t.Fatal("wrote output for a refused payload")
			}
		})
	}
}
