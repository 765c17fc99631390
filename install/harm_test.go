package install

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/internal/failure"
)

// Issue 23: state files, backups and cleanup. Each test names the defect
// it covers; every one failed on main at 6989c3e.

func harmRoot(t *testing.T, opt Options) (*Installer, string) {
	t.Helper()
	root := t.TempDir()
	opt.RootDir = root
	if opt.Prefix == "" {
		opt.Prefix, opt.BinDir = "/usr/local/slurm", "/usr/local/bin"
	}
	opt.Log = zerolog.Nop()
	in, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in, root
}

func hfile(t *testing.T, p, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func lockT(t *testing.T, in *Installer) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		unlock, err := in.Lock(context.Background(), 5*time.Second)
		if err == nil {
			unlock()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("lock: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("taking the lock (and recovering what a killed run left) hangs")
	}
}

const sitePasswd = "root:x:0:0:root:/root:/bin/sh\n"

// Defect 1: a planted journal never "puts back" a file over the root's
// /etc/passwd, in the older installer's format or in the new one.
func TestPlantedJournalNeverReplacesSiteFile(t *testing.T) {
	for name, body := range map[string]string{
		"old-format": `[{"path":"/etc/passwd","backup":"/etc/.slurm-installer-backup.deadbeef.passwd","what":"file"}]`,
		"new-format": `{"prefix":"/usr/local/slurm","backups":[{"path":"/etc/passwd","backup":"/etc/.slurm-installer-backup.deadbeef.passwd","what":"file"}]}`,
		"pending-config": `{"prefix":"/usr/local/slurm","pending":{"mode":"real","prefix":"/usr/local/slurm","bin_dir":"/etc","payload_dir":"/usr/local/.slurm-1-0123abcd","arch":"x86_64","libc":"glibc",` +
			`"configs":[{"path":"/etc/passwd","sha256":"` + sum([]byte(sitePasswd)) + `","created":true}],` +
			`"backups":[{"path":"/etc/passwd","backup":"/etc/.slurm-installer-backup.deadbeef.passwd","what":"file"}]}}`,
		"pending-links": `{"prefix":"/usr/local/slurm","pending":{"mode":"real","prefix":"/usr/local/slurm","bin_dir":"/etc","payload_dir":"/usr/local/.slurm-1-0123abcd","arch":"x86_64","libc":"glibc",` +
			`"backups":[{"path":"/etc/passwd","backup":"/etc/.slurm-installer-backup.deadbeef.passwd","what":"file"}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			in, root := harmRoot(t, Options{})
			hfile(t, filepath.Join(root, "etc/passwd"), sitePasswd, 0o644)
			hfile(t, filepath.Join(root, "etc/.slurm-installer-backup.deadbeef.passwd"), "evil::0:0::/:/bin/sh\n", 0o644)
			hfile(t, filepath.Join(root, "var/lib/slurm-installer/backups-pending.json"), body, 0o644)
			lockT(t, in)
			if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); string(b) != sitePasswd {
				t.Fatalf("the planted journal replaced /etc/passwd: %q", b)
			}
		})
	}
}

// Defect 2: a site's directory beside the prefix that merely looks like a
// payload directory survives every locked run, also when a planted journal
// names it (its inode is not the one recorded).
func TestLookAlikeDirectorySurvives(t *testing.T) {
	in, root := harmRoot(t, Options{})
	old := filepath.Join(root, "usr/local/.slurm-old-20240115")
	hfile(t, filepath.Join(old, "bin/sinfo"), "site\n", 0o755)
	lockT(t, in)
	if _, err := os.Stat(filepath.Join(old, "bin/sinfo")); err != nil {
		t.Fatalf("a locked run removed the site's %s: %v", old, err)
	}
	hfile(t, filepath.Join(root, "var/lib/slurm-installer/backups-pending.json"),
		`{"prefix":"/usr/local/slurm","dirs":[{"path":"/usr/local/.slurm-old-20240115","ino":12345},{"path":"/usr/local/.slurm-old-20240115"}]}`, 0o644)
	lockT(t, in)
	if _, err := os.Stat(filepath.Join(old, "bin/sinfo")); err != nil {
		t.Fatalf("a planted journal had the site's %s removed: %v", old, err)
	}
}

// Defect 3: state files as FIFOs or links are refused at once, never read:
// the receipt, the journal, a recorded config file.
func TestStateFilesAsFIFOsDoNotHang(t *testing.T) {
	in, root := harmRoot(t, Options{})
	st := filepath.Join(root, "var/lib/slurm-installer")
	os.MkdirAll(st, 0o755)
	if err := syscall.Mkfifo(filepath.Join(st, "backups-pending.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	lockT(t, in) // the journal as a FIFO: set aside, not waited on
	if err := syscall.Mkfifo(filepath.Join(st, "receipt.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := in.ReadReceipt(); done <- err }()
	select {
	case err := <-done:
		if failure.ClassOf(err) != failure.FileSystem || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("a FIFO receipt: %v, want class 7 saying it is not a regular file", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reading a FIFO receipt hangs")
	}
	os.Remove(filepath.Join(st, "receipt.json"))
	if err := os.Symlink("/dev/zero", filepath.Join(st, "receipt.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := in.ReadReceipt(); err == nil {
		t.Fatal("a receipt that is a link to /dev/zero was read")
	}
}

// Defect 7: a lock file hard-linked to /etc/passwd is refused and the file
// is not truncated.
func TestLockHardLinkRefused(t *testing.T) {
	in, root := harmRoot(t, Options{})
	hfile(t, filepath.Join(root, "etc/passwd"), sitePasswd, 0o644)
	os.MkdirAll(filepath.Join(root, "var/lib/slurm-installer"), 0o755)
	if err := os.Link(filepath.Join(root, "etc/passwd"), filepath.Join(root, "var/lib/slurm-installer/lock")); err != nil {
		t.Fatal(err)
	}
	_, err := in.Lock(context.Background(), time.Second)
	if failure.ClassOf(err) != failure.FileSystem || !strings.Contains(err.Error(), "/var/lib/slurm-installer/lock") {
		t.Fatalf("a hard-linked lock: %v, want class 7 naming it", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); string(b) != sitePasswd {
		t.Fatalf("/etc/passwd was changed through the lock's hard link: %q", b)
	}
}

// Defect 7: paths that would split PATH, or hold or sit in the state
// directory, are refused at the boundary (class 2).
func TestOpenRefusesHostilePaths(t *testing.T) {
	for _, o := range []Options{
		{Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin:/tmp/evil"},
		{Prefix: "/opt/a:b", BinDir: "/usr/local/bin"},
		{Prefix: "/var/lib", BinDir: "/usr/local/bin"},
		{Prefix: "/var/lib/slurm-installer/x", BinDir: "/usr/local/bin"},
		{Prefix: "/usr/local/slurm", BinDir: "/var/lib/slurm-installer"},
	} {
		o.RootDir, o.Log = t.TempDir(), zerolog.Nop()
		if _, err := Open(o); failure.ClassOf(err) != failure.Usage {
			t.Errorf("prefix %q bin-dir %q: %v, want a usage error", o.Prefix, o.BinDir, err)
		}
	}
}

func harmBundle(t *testing.T) string {
	return writeTarGz(t, t.TempDir(), []member{
		{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: "x"},
		{name: "usr/local/slurm/bin/squeue", typ: tar.TypeReg, mode: 0o755, body: "y"},
		{name: "usr/local/slurm/lib/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/lib/libslurmfull.so", typ: tar.TypeReg, mode: 0o644, body: "lib"},
		{name: "usr/local/slurm/VERSION", typ: tar.TypeReg, body: "22.05.8\n"},
	})
}

// Defect 7: after --force, the profile script is 0644 whatever the mode of
// the site's file it moved aside.
func TestProfileModeNotInherited(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o666} {
		in, root := harmRoot(t, Options{Force: true, Libc: "musl", Arch: "x86_64"})
		hfile(t, filepath.Join(root, "etc/profile.d/slurm.sh"), "# the site's\n", mode)
		st, err := in.Stage(context.Background(), Source{Path: harmBundle(t)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := in.Commit(context.Background(), st, "22.05.8", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Finalize()
		fi, err := os.Stat(filepath.Join(root, "etc/profile.d/slurm.sh"))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("site file %v: the profile script is %v (%v), want 0644", mode, fi.Mode(), err)
		}
	}
}

// Defect 8: a first install killed after its commit (during verification:
// payload, links, loader config, no receipt) is recognised by the next
// locked run and undone by the journal's record; what --force moved aside
// comes back.
func TestKilledFirstInstallIsUndone(t *testing.T) {
	in, root := harmRoot(t, Options{Force: true, Libc: "musl", Arch: "x86_64"})
	site := "/lib\n/usr/local/lib\n/usr/lib"
	hfile(t, filepath.Join(root, "etc/ld-musl-x86_64.path"), site, 0o644)
	hfile(t, filepath.Join(root, "etc/profile.d/slurm.sh"), "# the site's\n", 0o600)
	hfile(t, filepath.Join(root, "etc/passwd"), sitePasswd, 0o644)
	old := filepath.Join(root, "usr/local/.slurm-old-20240115/bin/sinfo")
	hfile(t, old, "site\n", 0o755)
	st, err := in.Stage(context.Background(), Source{Path: harmBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Commit(context.Background(), st, "22.05.8", nil); err != nil {
		t.Fatal(err)
	}
	// Killed here: no receipt, no rollback.
	if _, err := os.Lstat(filepath.Join(root, "usr/local/bin/sinfo")); err != nil {
		t.Fatal("the commit made no links")
	}
	in2, err := Open(Options{RootDir: root, Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin", Libc: "musl", Arch: "x86_64", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer in2.Close()
	lockT(t, in2)
	for _, p := range []string{"usr/local/slurm", "usr/local/bin/sinfo", "usr/local/bin/squeue", "var/lib/slurm-installer/backups-pending.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s is still there after the next run", p)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, "usr/local"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".slurm-22") || strings.HasPrefix(e.Name(), ".slurm-installer") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/ld-musl-x86_64.path")); string(b) != site {
		t.Errorf("musl path file: %q, want the site's bytes back", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/profile.d/slurm.sh")); string(b) != "# the site's\n" {
		t.Errorf("the site's profile script was not put back: %q", b)
	}
	if _, err := os.Stat(old); err != nil {
		t.Errorf("the site's look-alike directory was removed: %v", err)
	}
	if r, err := in2.ReadReceipt(); err != nil || r != nil {
		t.Errorf("receipt %v %v", r, err)
	}
}

func harmCommit(t *testing.T, in *Installer, version string, finalize bool) *Commit {
	t.Helper()
	b := writeTarGz(t, t.TempDir(), []member{
		{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: version},
		{name: "usr/local/slurm/VERSION", typ: tar.TypeReg, body: version + "\n"},
	})
	st, err := in.Stage(context.Background(), Source{Path: b})
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Commit(context.Background(), st, version, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := in.Options()
	if err := in.WriteReceipt(&Receipt{Mode: ModeReal, Version: version, Prefix: o.Prefix, BinDir: o.BinDir, PayloadDir: c.PayloadRel, Arch: o.Arch, Libc: o.Libc,
		Files: st.Files, Links: c.Links, Configs: c.Configs, Backups: c.Backups, CreatedDirs: c.CreatedDirs}); err != nil {
		t.Fatal(err)
	}
	if finalize {
		c.Finalize()
	}
	return c
}

// Delete only by record, at every instant of an upgrade: killed after its
// receipt and before Finalize, the previous payload (recorded now by no
// receipt) is removed by the next run by the journal's record; a site's
// look-alike directory beside it is not.
func TestKilledUpgradeAfterReceipt(t *testing.T) {
	in, root := harmRoot(t, Options{Libc: "musl", Arch: "x86_64"})
	hfile(t, filepath.Join(root, "usr/local/.slurm-old-20240115/x"), "site\n", 0o644)
	a := harmCommit(t, in, "22.05.8", true)
	b := harmCommit(t, in, "23.02.1", false) // killed before Finalize
	in2, err := Open(in.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer in2.Close()
	lockT(t, in2)
	if _, err := os.Stat(filepath.Join(root, a.PayloadRel)); err == nil {
		t.Errorf("the previous payload %s stays, recorded nowhere", a.PayloadRel)
	}
	if _, err := os.Stat(filepath.Join(root, b.PayloadRel, "bin/sinfo")); err != nil {
		t.Errorf("the new payload was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/.slurm-old-20240115/x")); err != nil {
		t.Errorf("the site's look-alike directory was removed: %v", err)
	}
}

// A rollback after a signal (the run's context cancelled) leaves no journal
// behind: it still reads the receipt that records the previous payload.
func TestRollbackAfterSignalLeavesNoJournal(t *testing.T) {
	in, root := harmRoot(t, Options{Libc: "musl", Arch: "x86_64"})
	harmCommit(t, in, "22.05.8", true)
	ctx, cancel := context.WithCancel(context.Background())
	unlock, err := in.Lock(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	st, err := in.Stage(ctx, Source{Path: harmBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Commit(ctx, st, "23.02.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // SIGINT
	if err := c.Rollback(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/backups-pending.json")); err == nil {
		t.Fatalf("the stopped run left its journal: %s", b)
	}
}
