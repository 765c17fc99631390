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
	// The plain install's receipt records both (removal is by record only).
	if err := in.WriteReceipt(&Receipt{Mode: ModeReal, Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin", PayloadDir: "/usr/local/.slurm-22.05.7-0123abcd",
		Arch: "x86_64", Libc: "glibc", Configs: []Config{
			{Path: "/etc/ld.so.conf.d/slurm.conf", SHA256: sum([]byte(plain)), Created: true},
			{Path: "/etc/ld-musl-x86_64.path", SHA256: sum([]byte("/lib\n/usr/local/lib\n/usr/lib\n/usr/local/slurm/lib\n")), Lines: []string{"/usr/local/slurm/lib"}, Appended: "/usr/local/slurm/lib\n"},
		}}); err != nil {
		t.Fatal(err)
	}
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

// Issue 23 defect 6: a self-contained install takes out of the musl path
// file only the lines a receipt says an install added. A site's own line
// under the prefix stays (also on a root nothing was installed into), and
// a file without a final newline keeps it that way; the same for a linker
// config with the installer's header that no receipt records.
func TestSelfContainedKeepsSiteMuslLines(t *testing.T) {
	root := t.TempDir()
	musl := filepath.Join(root, "etc/ld-musl-x86_64.path")
	conf := filepath.Join(root, "etc/ld.so.conf.d/slurm.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	site := "/lib\n/usr/local/lib\n/usr/lib\n/usr/local/slurm/lib/site-plugins"
	os.WriteFile(musl, []byte(site), 0o640)
	siteConf := glibcConfHeader + " by hand\n/usr/local/slurm/lib\n"
	os.WriteFile(conf, []byte(siteConf), 0o644)
	in, err := Open(Options{RootDir: root, Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin", Arch: "x86_64", Libc: "glibc", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	bundle := writeTarGz(t, t.TempDir(), []member{
		{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: "x"},
		{name: "usr/local/slurm/VERSION", typ: tar.TypeReg, body: "22.05.8\nself_contained=true\nprefix=/usr/local/slurm\n"},
	})
	st, err := in.Stage(context.Background(), Source{Path: bundle})
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Commit(context.Background(), st, "22.05.8", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(musl); string(b) != site {
		t.Fatalf("the site's musl path file was changed: %q", b)
	}
	if fi, _ := os.Stat(musl); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if b, _ := os.ReadFile(conf); string(b) != siteConf {
		t.Fatalf("a linker config no receipt records was removed: %q", b)
	}
	if err := c.Rollback(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(musl); string(b) != site {
		t.Fatalf("after rollback: %q", b)
	}
}
