package install

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
)

// Unit tests of issue 12 ("do no harm") in the install package; the state
// matrix over the real CLI is in ../ownership_test.go.

// Item 4: a lock file planted as a symlink must not have its target
// truncated (it emptied the root's /etc/passwd, even on a no-op uninstall).
func TestLockRefusesSymlink(t *testing.T) {
	in := openT(t)
	root := in.opt.RootDir
	passwd := filepath.Join(root, "etc/passwd")
	os.MkdirAll(filepath.Dir(passwd), 0o755)
	os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "var/lib/slurm-installer"), 0o755)
	for _, target := range []string{"/etc/passwd", "../../../etc/passwd"} {
		lock := filepath.Join(root, "var/lib/slurm-installer/lock")
		os.Remove(lock)
		if err := os.Symlink(target, lock); err != nil {
			t.Fatal(err)
		}
		unlock, err := in.Lock(context.Background(), time.Second)
		if err == nil {
			unlock()
			t.Fatalf("lock through a symlink to %s was taken", target)
		}
		if failure.ClassOf(err) != failure.FileSystem || !strings.Contains(err.Error(), "/var/lib/slurm-installer/lock") {
			t.Errorf("want class 7 naming the lock, got %v", err)
		}
		if b, _ := os.ReadFile(passwd); string(b) != "root:x:0:0:root:/root:/bin/sh\n" {
			t.Fatalf("the link's target was changed: %q", b)
		}
	}
}

// Item 5: the prefix and bin-dir are data in slurm.sh, never code.
func TestProfileQuotesPaths(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	for _, prefix := range []string{
		"/opt/$(touch " + pwned + ")",
		"/opt/it's here",
		"/opt/`touch " + pwned + "`",
		"/opt/a b;touch " + pwned,
		`/opt/\'"$HOME`,
	} {
		binDir := prefix + "-bin"
		f := filepath.Join(dir, "slurm.sh")
		os.WriteFile(f, profileContent(prefix, binDir, false), 0o644)
		out, err := exec.Command(sh, "-c", `. "$1" && printf '%s\n%s\n' "$SLURM_HOME" "$PATH"`, "sh", f).CombinedOutput()
		if err != nil {
			t.Fatalf("prefix %q: sourcing slurm.sh failed: %v: %s", prefix, err, out)
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if lines[0] != prefix || !strings.HasPrefix(lines[1], binDir+":") {
			t.Errorf("prefix %q: SLURM_HOME=%q PATH=%q", prefix, lines[0], lines[1])
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("prefix %q: sourcing slurm.sh ran a command", prefix)
		}
	}
	for _, bad := range []string{"/opt/a\nb", "/opt/a\rb"} {
		if _, err := Open(Options{RootDir: dir, Prefix: bad, BinDir: "/usr/local/bin"}); failure.ClassOf(err) != failure.Usage {
			t.Errorf("prefix %q: want a usage error, got %v", bad, err)
		}
	}
}

// Item 9: a bundle that pack publishes with etc/slurm inside its payload
// (usr/local/slurm/etc/slurm/...) installs, and the file lands in /etc/slurm.
func TestEtcSlurmInsidePayload(t *testing.T) {
	in := openT(t)
	bundle := writeTarGz(t, t.TempDir(), []member{
		{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: "x"},
		{name: "usr/local/slurm/etc/slurm/cgroup.conf", typ: tar.TypeReg, mode: 0o644, body: "# bundle cgroup\n"},
		{name: "usr/local/slurm/VERSION", typ: tar.TypeReg, body: "22.05.8\n"},
	})
	st, err := in.Stage(context.Background(), Source{Path: bundle})
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Commit(context.Background(), st, "22.05.8", nil)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	c.Finalize()
	if b, _ := os.ReadFile(filepath.Join(in.opt.RootDir, "etc/slurm/cgroup.conf")); string(b) != "# bundle cgroup\n" {
		t.Fatalf("/etc/slurm/cgroup.conf: %q", b)
	}
}

// Item 3: a receipt is input. Every hostile one is refused by ReadReceipt
// (class 7), and CheckIntact and Uninstall refuse to act on it.
func TestHostileReceipts(t *testing.T) {
	good := func() *Receipt {
		return &Receipt{Schema: 1, Mode: ModeReal, Version: "22.05.8", Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin",
			PayloadDir: "/usr/local/.slurm-22.05.8-0123abcd", SHA256: strings.Repeat("a", 64),
			Files:   []Entry{{Path: "bin", Type: "dir"}, {Path: "bin/sinfo", Type: "file", Size: 1, SHA256: strings.Repeat("b", 64)}},
			Links:   []Link{{Path: "/usr/local/bin/sinfo", Target: "../slurm/bin/sinfo"}},
			Configs: []Config{{Path: ProfileScript, SHA256: strings.Repeat("c", 64), Created: true}}}
	}
	cases := map[string]func(r *Receipt){
		"payload_dir /etc":         func(r *Receipt) { r.PayloadDir = "/etc" },
		"payload_dir outside root": func(r *Receipt) { r.PayloadDir = "/usr/local/../../../../tmp" },
		"payload_dir ..":           func(r *Receipt) { r.PayloadDir = "/usr/local/.slurm-1-0123abcd/../../../etc" },
		"sha256 glob":              func(r *Receipt) { r.SHA256 = "*" },
		"sha256 path":              func(r *Receipt) { r.SHA256 = "../../../etc/*" },
		"file ..":                  func(r *Receipt) { r.Files[1].Path = "../../../etc/passwd" },
		"file absolute":            func(r *Receipt) { r.Files[1].Path = "/etc/passwd" },
		"file bad digest":          func(r *Receipt) { r.Files[1].SHA256 = "xyz" },
		"file huge":                func(r *Receipt) { r.Files[1].Size = -1 },
		"symlink out":              func(r *Receipt) { r.Files = append(r.Files, Entry{Path: "lib", Type: "symlink", Target: "../../etc"}) },
		"link outside bin-dir":     func(r *Receipt) { r.Links[0].Path = "/etc/passwd" },
		"link to foreign target":   func(r *Receipt) { r.Links[0].Target = "/bin/sh" },
		"config not ours":          func(r *Receipt) { r.Configs[0].Path = "/etc/shadow" },
		"config bad digest":        func(r *Receipt) { r.Configs[0].SHA256 = "" },
		// A merged musl path file: uninstall takes out only the prefix's
		// own library directories, never the site's or musl's defaults.
		"musl line /usr/lib": func(r *Receipt) {
			r.Configs = append(r.Configs, Config{Path: "/etc/ld-musl-x86_64.path", SHA256: strings.Repeat("d", 64), Lines: []string{"/usr/lib"}})
		},
		"musl line of another dir": func(r *Receipt) {
			r.Configs = append(r.Configs, Config{Path: "/etc/ld-musl-x86_64.path", SHA256: strings.Repeat("d", 64), Lines: []string{"/opt/site/lib"}})
		},
		"musl appended not its lines": func(r *Receipt) {
			r.Configs = append(r.Configs, Config{Path: "/etc/ld-musl-x86_64.path", SHA256: strings.Repeat("d", 64),
				Lines: []string{"/usr/local/slurm/lib"}, Appended: "/lib:/usr/lib\n/usr/local/slurm/lib\n"})
		},
		"musl appended no newline": func(r *Receipt) {
			r.Configs = append(r.Configs, Config{Path: "/etc/ld-musl-x86_64.path", SHA256: strings.Repeat("d", 64),
				Lines: []string{"/usr/local/slurm/lib"}, Appended: "/usr/local/slurm/lib"})
		},
		"prefix /":         func(r *Receipt) { r.Prefix = "/" },
		"prefix ..":        func(r *Receipt) { r.Prefix = "/usr/../etc" },
		"backup elsewhere": func(r *Receipt) { r.Backups = []Backup{{Path: "/usr/local/slurm", Backup: "/etc/passwd"}} },
		"backup of foreign path": func(r *Receipt) {
			r.Backups = []Backup{{Path: "/etc/passwd", Backup: "/etc/.slurm-installer-backup.0123abcd.passwd"}}
		},
		"created dir /etc":          func(r *Receipt) { r.CreatedDirs = []string{"/etc/ssh"} },
		"etc file outside":          func(r *Receipt) { r.EtcFiles = []string{"/etc/slurm/../passwd"} },
		"mode unknown":              func(r *Receipt) { r.Mode = "rm -rf" },
		"previous hostile":          func(r *Receipt) { p := good(); p.PayloadDir = "/etc"; r.Previous = p },
		"real without payload dir":  func(r *Receipt) { r.PayloadDir = "" },
		"bin-dir inside the prefix": func(r *Receipt) { r.BinDir = "/usr/local/slurm/bin" },
	}
	in := openT(t)
	if err := in.validateReceipt(good()); err != nil {
		t.Fatalf("the good receipt is refused: %v", err)
	}
	merged := good()
	merged.Configs = append(merged.Configs, Config{Path: "/etc/ld-musl-x86_64.path", SHA256: strings.Repeat("d", 64),
		Lines: []string{"/usr/local/slurm/lib", "/usr/local/slurm/lib64"}, Appended: "\n/usr/local/slurm/lib\n/usr/local/slurm/lib64\n"})
	if err := in.validateReceipt(merged); err != nil {
		t.Fatalf("a receipt with a merged musl path file is refused: %v", err)
	}
	for name, mutate := range cases {
		r := good()
		mutate(r)
		b, _ := json.Marshal(r)
		if err := in.writeFileAtomic(ReceiptPath, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := in.ReadReceipt()
		if err == nil || failure.ClassOf(err) != failure.FileSystem || !errors.Is(err, errBadReceipt) {
			t.Errorf("%s: ReadReceipt = %v, %v; want class 7 errBadReceipt", name, got, err)
		}
		if p := in.CheckIntact(r, true); len(p) != 1 || !strings.Contains(p[0].What, "invalid receipt") && !strings.Contains(p[0].What, "no real install") {
			t.Errorf("%s: CheckIntact = %v", name, p)
		}
		if _, err := in.Uninstall(context.Background(), r); !errors.Is(err, errBadReceipt) {
			t.Errorf("%s: Uninstall acted on it: %v", name, err)
		}
	}
}

// Items 1 and 2 at the package level: what stands at a path the commit
// writes and was not written by us is refused (class 7, naming the path);
// with Force it is moved to a recorded backup that Rollback (and
// Uninstall) put back; a foreign prefix link's target is never touched.
func TestCommitRefusesForeign(t *testing.T) {
	type setup struct {
		name, prefix, path string
		make               func(root string)
	}
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(s), 0o644)
	}
	cases := []setup{
		{"site slurm.sh", "/usr/local/slurm", ProfileScript, func(r string) { write(filepath.Join(r, "etc/profile.d/slurm.sh"), "export SITE=1\n") }},
		{"site ld conf", "/usr/local/slurm", glibcLinkerConf, func(r string) { write(filepath.Join(r, "etc/ld.so.conf.d/slurm.conf"), "/site/lib\n") }},
		{"real dir at prefix", "/opt", "/opt", func(r string) { write(filepath.Join(r, "opt/other/app"), "other software\n") }},
		{"site versioned link", "/usr/local/slurm", "/usr/local/slurm", func(r string) {
			write(filepath.Join(r, "usr/local/slurm-23.02.1/bin/sinfo"), "site sinfo\n")
			os.Symlink("slurm-23.02.1", filepath.Join(r, "usr/local/slurm"))
		}},
		{"prefix -> ..", "/usr/local/slurm", "/usr/local/slurm", func(r string) {
			write(filepath.Join(r, "usr/share/doc"), "the root's /usr\n")
			os.MkdirAll(filepath.Join(r, "usr/local"), 0o755)
			os.Symlink("..", filepath.Join(r, "usr/local/slurm"))
		}},
		{"file at sinfo", "/usr/local/slurm", "/usr/local/bin/sinfo", func(r string) { write(filepath.Join(r, "usr/local/bin/sinfo"), "#!/bin/sh\necho site\n") }},
	}
	for _, tc := range cases {
		for _, force := range []bool{false, true} {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)    // ldconfig writes its cache there
			os.MkdirAll(filepath.Join(root, stateDir), 0o755) // made by the lock in a real run
			tc.make(root)
			before := treeOf(t, root)
			in, err := Open(Options{RootDir: root, Prefix: tc.prefix, BinDir: "/usr/local/bin", Force: force, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			bundle := writeTarGz(t, t.TempDir(), []member{
				{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
				{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: "x"},
				{name: "usr/local/slurm/VERSION", typ: tar.TypeReg, body: "22.05.8\n"},
			})
			st, err := in.Stage(context.Background(), Source{Path: bundle})
			if err != nil {
				t.Fatal(err)
			}
			c, err := in.Commit(context.Background(), st, "22.05.8", nil)
			if !force {
				if err == nil || failure.ClassOf(err) != failure.FileSystem || !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), tc.path) {
					t.Errorf("%s: want a class 7 refusal naming %s, got %v", tc.name, tc.path, err)
				}
				if !slices.Contains(failure.Steps(err), failure.ForceAside) {
					t.Errorf("%s: refusal %v does not suggest the forced move aside (steps %v)", tc.name, err, failure.Steps(err))
				}
				if got := treeOf(t, root); got != before {
					t.Errorf("%s: a refused commit changed the root:\n%s\n---\n%s", tc.name, before, got)
				}
				in.Close()
				continue
			}
			if err != nil {
				t.Fatalf("%s --force: %v", tc.name, err)
			}
			if len(c.Backups) != 1 || c.Backups[0].Path != tc.path {
				t.Errorf("%s --force: backups %+v", tc.name, c.Backups)
			}
			if err := c.Rollback(); err != nil {
				t.Fatal(err)
			}
			if got := treeOf(t, root); got != before {
				t.Errorf("%s --force: rollback did not restore the root:\n%s\n---\n%s", tc.name, before, got)
			}
			in.Close()
		}
	}
}

// treeOf lists every entry under root with its content or link target.
func treeOf(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		r, _ := filepath.Rel(root, p)
		if strings.HasPrefix(r, "var/lib/slurm-installer") || r == "etc/ld.so.cache" {
			return nil
		}
		b.WriteString(r + " " + fi.Mode().String())
		if fi.Mode()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		} else if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.WriteString(" " + string(c))
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

// A run killed after --force moved a site file aside but before its receipt
// recorded the backup: the next run (under the lock) puts the file back.
func TestKilledForceRunRestoresBackup(t *testing.T) {
	root := t.TempDir()
	site := filepath.Join(root, "etc/profile.d/slurm.sh")
	os.MkdirAll(filepath.Dir(site), 0o755)
	os.WriteFile(site, []byte("# site\n"), 0o644)
	in, err := Open(Options{RootDir: root, Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin", Force: true, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	bundle := writeTarGz(t, t.TempDir(), []member{
		{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: "x"},
	})
	st, err := in.Stage(context.Background(), Source{Path: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Commit(context.Background(), st, "22.05.8", nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(site); string(b) == "# site\n" {
		t.Fatal("the commit did not replace the site file")
	}
	// killed here: no receipt, no Finalize
	unlock, err := in.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if b, _ := os.ReadFile(site); string(b) != "# site\n" {
		t.Fatalf("the next run did not put the site's slurm.sh back: %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "etc/profile.d/.slurm-installer-backup.*")); len(m) != 0 {
		t.Fatalf("backup left behind: %v", m)
	}
}

// Issue 22, defect 1: a value one package writes must be one the receipt
// check reads back. Every verification, libc and layout of the bundle
// contract is accepted (a registry install wrote "layer-digest", which the
// check did not list: status, verify and uninstall then failed with exit 1);
// anything else is refused as a damaged receipt (exit 7), not as a bug.
func TestReceiptAcceptsEveryContractValue(t *testing.T) {
	in := openT(t)
	good := func() *Receipt {
		return &Receipt{Schema: 1, Mode: ModeReal, Version: "22.05.8", Prefix: "/usr/local/slurm", BinDir: "/usr/local/bin",
			PayloadDir: "/usr/local/.slurm-22.05.8-0123abcd", SHA256: strings.Repeat("a", 64), Arch: "x86_64", Libc: "glibc"}
	}
	for _, v := range bundle.Verifications() {
		r := good()
		r.Verification = v
		r.Previous = good()
		r.Previous.Verification = v
		if err := in.validateReceipt(r); err != nil {
			t.Errorf("verification %q is refused: %v", v, err)
		}
	}
	for _, l := range bundle.Libcs() {
		r := good()
		r.Libc = l
		if err := in.validateReceipt(r); err != nil {
			t.Errorf("libc %q is refused: %v", l, err)
		}
	}
	for _, l := range bundle.Layouts() {
		r := good()
		r.Layout = l
		if err := in.validateReceipt(r); err != nil {
			t.Errorf("layout %q is refused: %v", l, err)
		}
	}
	for name, mutate := range map[string]func(*Receipt){
		"verification": func(r *Receipt) { r.Verification = "trust-me" },
		"libc":         func(r *Receipt) { r.Libc = "uclibc" },
		"layout":       func(r *Receipt) { r.Layout = "ftp" },
	} {
		r := good()
		mutate(r)
		err := in.validateReceipt(r)
		var fe *failure.Error
		if !errors.As(err, &fe) || fe.Class != failure.FileSystem || !errors.Is(err, errBadReceipt) {
			t.Errorf("%s: a value outside the contract: %v; want a damaged receipt (exit 7)", name, err)
		}
	}
}
