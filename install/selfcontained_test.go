package install

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

// A self-contained bundle over a plain install takes the plain install's
// linker config off the system path (its lib/ holds a glibc that ldconfig
// would otherwise offer to every program), and a rollback puts it back.
func TestSelfContainedDropsLinkerConfig(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "etc/ld.so.conf.d/slurm.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	plain := glibcConfHeader + ": SLURM client libraries.\n/usr/local/slurm/lib\n"
	os.WriteFile(conf, []byte(plain), 0o644)
	musl := filepath.Join(root, "etc/ld-musl-x86_64.path")
	os.WriteFile(musl, []byte("/lib\n/usr/local/lib\n/usr/lib\n/usr/local/slurm/lib\n"), 0o644)

	in, err := Open(Options{RootDir: root, Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin", Arch: "x86_64", Libc: "glibc", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	bundle := writeTarGz(t, t.TempDir(), []member{
		{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: "x"},
		{name: "usr/local/slurm/lib/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/lib/libc.so.6", typ: tar.TypeReg, body: "bundled glibc"},
		{name: "usr/local/slurm/VERSION", typ: tar.TypeReg, body: "22.05.8\nself_contained=true\nprefix=/usr/local/slurm\n"},
	})
	st, err := in.Stage(context.Background(), Source{Path: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if !st.SelfContained {
		t.Fatal("VERSION metadata not read")
	}
	c, err := in.Commit(context.Background(), st, "22.05.8", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Fatalf("the plain install's %s is still on the library path (err %v)", conf, err)
	}
	if b, _ := os.ReadFile(musl); string(b) != "/lib\n/usr/local/lib\n/usr/lib\n" {
		t.Fatalf("musl path keeps the prefix: %q", b)
	}
	if err := c.Rollback(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(conf); string(b) != plain {
		t.Fatalf("rollback did not restore %s: %q", conf, b)
	}
	if b, _ := os.ReadFile(musl); string(b) != "/lib\n/usr/local/lib\n/usr/lib\n/usr/local/slurm/lib\n" {
		t.Fatalf("rollback did not restore the musl path: %q", b)
	}
}
