package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"slurm-installer/internal/testkit/testbundle"
)

// Issue 12 ("do no harm"): a state-matrix property test over the real CLI.
// Each pre-existing root state (the way sites lay roots out, and the way an
// attacker would) is run through each operation sequence; after every step:
//
//   - nothing outside --root changed (canary files outside it, hashed);
//   - no byte of a file that was in the root before is lost: it is still at
//     its path, or in a backup the installer recorded;
//   - the run worked or refused (exit 7) naming a path;
//
// and after the sequence's uninstall the root equals its snapshot from
// before the first install (site config in /etc/slurm, the lock/state
// directory and the regenerated loader cache aside).

type ownState struct {
	name string
	args []string // global flags: --prefix, --bin-dir
	// setup lays the root out; canary is a directory outside the root.
	setup func(t *testing.T, root, canary string, b *ownBundles)
	// refuse: without --force the first install must be refused (exit 7)
	// naming one of these in-root paths; with --force it must work.
	refuse []string
	// lock: every locking run is refused (exit 7) naming the lock.
	lock bool
	// names: a refusal (exit 7) of any later step may name these too (a
	// planted state file the read-only commands refuse to read).
	names []string
	// root: the state needs root (mknod, mount); CI runs as root.
	root bool
	// hostile: a planted receipt; status, verify and uninstall on it are
	// refused (exit 7) before anything is touched.
	hostile bool
	// pre are CLI runs after the snapshot, before the sequence (an
	// earlier demo or real install: uninstall must undo them too).
	pre func(b *ownBundles, dead string) [][]string
}

type ownBundles struct{ v0, v1, v2 *testbundle.Bundle }

type ownStep struct {
	args  []string
	codes []int // allowed exit codes
	// first: this is the sequence's first install (refusal expectations apply)
	first bool
	do    func(t *testing.T, root string) // instead of a CLI run
}

var ownOnce sync.Once
var ownB ownBundles

func ownBundleSet(t *testing.T) *ownBundles {
	ownOnce.Do(func() {
		dir, err := os.MkdirTemp("", "own-bundles-")
		if err != nil {
			t.Fatal(err)
		}
		for v, dst := range map[string]**testbundle.Bundle{"21.08.8": &ownB.v0, "22.05.8": &ownB.v1, "23.02.1": &ownB.v2} {
			b, err := testbundle.Write(filepath.Join(dir, v), testbundle.Options{Version: v})
			if err != nil {
				t.Fatal(err)
			}
			*dst = b
		}
	})
	if ownB.v1 == nil {
		t.Fatal("bundles not built")
	}
	return &ownB
}

func wfile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func plantReceipt(t *testing.T, root string, r map[string]any) {
	t.Helper()
	b, _ := json.MarshalIndent(r, "", "  ")
	wfile(t, filepath.Join(root, "var/lib/slurm-installer/receipt.json"), string(b))
}

func ownStates() []ownState {
	none := func(*testing.T, string, string, *ownBundles) {}
	return []ownState{
		{name: "clean", setup: none},
		{name: "site-slurm.sh", refuse: []string{"/etc/profile.d/slurm.sh"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "etc/profile.d/slurm.sh"), "# the site's own\nexport SLURM_CONF=/site/slurm.conf\n")
		}},
		{name: "site-ld.so.conf", refuse: []string{"/etc/ld.so.conf.d/slurm.conf"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "etc/ld.so.conf.d/slurm.conf"), "/opt/site-slurm/lib\n")
		}},
		{name: "real-dir-at-prefix-/opt", args: []string{"--prefix", "/opt"}, refuse: []string{"/opt"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "opt/other-software/bin/tool"), "#!/bin/sh\necho other\n")
			wfile(t, filepath.Join(root, "opt/README"), "not slurm\n")
		}},
		{name: "real-dir-at-prefix", refuse: []string{"/usr/local/slurm"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "usr/local/slurm/bin/sinfo"), "#!/bin/sh\necho site build\n")
		}},
		{name: "prefix-link-to-sibling", refuse: []string{"/usr/local/slurm"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "usr/local/slurm-23.02.1/bin/sinfo"), "#!/bin/sh\necho site 23.02.1\n")
			wlink(t, "slurm-23.02.1", filepath.Join(root, "usr/local/slurm"))
		}},
		{name: "prefix-link-to-..", refuse: []string{"/usr/local/slurm"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wlink(t, "..", filepath.Join(root, "usr/local/slurm"))
		}},
		{name: "prefix-link-absolute", refuse: []string{"/usr/local/slurm"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "srv/slurm/bin/sinfo"), "#!/bin/sh\necho srv\n")
			wlink(t, "/srv/slurm", filepath.Join(root, "usr/local/slurm"))
		}},
		{name: "file-at-bin-dir-sinfo", refuse: []string{"/usr/local/bin/sinfo"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "usr/local/bin/sinfo"), "#!/bin/sh\necho wrapper\n")
		}},
		{name: "foreign-link-at-squeue", refuse: []string{"/usr/local/bin/squeue"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wlink(t, "/opt/site/bin/squeue", filepath.Join(root, "usr/local/bin/squeue"))
		}},
		{name: "merged-usr-bin", args: []string{"--bin-dir", "/bin"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			// /bin -> usr/bin, as on Debian 12; move what setup put in /bin.
			os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
			wfile(t, filepath.Join(root, "usr/bin/true"), "#!/bin/sh\n")
			wlink(t, "usr/bin", filepath.Join(root, "bin"))
		}},
		{name: "earlier-demo", setup: none, pre: func(_ *ownBundles, dead string) [][]string {
			return [][]string{{"--mirrors", dead, "--retries", "0"}}
		}},
		{name: "earlier-real-other-version", setup: none, pre: func(b *ownBundles, _ string) [][]string {
			return [][]string{{"--from", b.v0.Path, "--slurm-version", "21.08.8", "--fallback", "fail"}}
		}},
		{name: "hostile-receipt-outside-root", hostile: true, setup: func(t *testing.T, root, canary string, _ *ownBundles) {
			up := strings.Repeat("/..", 30) + canary
			plantReceipt(t, root, map[string]any{"schema": 1, "mode": "real", "version": "22.05.8", "arch": testbundle.HostArch, "libc": "glibc",
				"prefix": "/usr/local/slurm", "bin_dir": "/usr/local/bin", "payload_dir": up, "sha256": "../*",
				"files":   []map[string]any{{"path": "../../../../../../../../.." + canary + "/host-passwd", "type": "file", "size": 3, "sha256": strings.Repeat("0", 64), "mode": 420}},
				"links":   []map[string]any{{"path": up + "/host-link", "target": "x"}},
				"configs": []map[string]any{{"path": up + "/host-passwd", "sha256": strings.Repeat("0", 64), "created": true}}})
		}},
		{name: "hostile-receipt-payload-/etc", hostile: true, setup: func(t *testing.T, root, _ string, b *ownBundles) {
			plantReceipt(t, root, map[string]any{"schema": 1, "mode": "real", "version": "22.05.8", "arch": testbundle.HostArch, "libc": "glibc",
				"prefix": "/usr/local/slurm", "bin_dir": "/usr/local/bin", "payload_dir": "/etc", "sha256": b.v1.SHA256, "layout": "file",
				"files": []map[string]any{{"path": "bin", "type": "dir", "mode": 2147484141}}})
		}},
		{name: "hostile-receipt-bad-digests", hostile: true, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			plantReceipt(t, root, map[string]any{"schema": 1, "mode": "real", "version": "22.05.8", "arch": testbundle.HostArch, "libc": "glibc",
				"prefix": "/usr/local/slurm", "bin_dir": "/usr/local/bin", "payload_dir": "/usr/local/.slurm-22.05.8-0123abcd", "sha256": "../*",
				"files": []map[string]any{{"path": "bin/sinfo", "type": "file", "size": 1, "sha256": "*", "mode": 493}}})
		}},
		{name: "lock-symlink", lock: true, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wlink(t, "../../../etc/passwd", filepath.Join(root, "var/lib/slurm-installer/lock"))
		}},
		// Issue 23: planted state files, FIFOs, devices, hard links,
		// look-alike directories and mounts.
		{name: "lock-hard-link-to-passwd", lock: true, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			os.MkdirAll(filepath.Join(root, "var/lib/slurm-installer"), 0o755)
			if err := os.Link(filepath.Join(root, "etc/passwd"), filepath.Join(root, "var/lib/slurm-installer/lock")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "planted-journal-passwd", setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			// The older journal format and a backup "of" /etc/passwd.
			wfile(t, filepath.Join(root, "etc/.slurm-installer-backup.deadbeef.passwd"), "evil::0:0::/:/bin/sh\n")
			wfile(t, filepath.Join(root, "var/lib/slurm-installer/backups-pending.json"),
				`[{"path":"/etc/passwd","backup":"/etc/.slurm-installer-backup.deadbeef.passwd","what":"file"}]`)
		}},
		{name: "planted-journal-pending", setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			// A pending first install that "wrote" the site's profile and
			// links, with a backup of /etc/passwd: links into the prefix
			// are the only things it could ever remove.
			site := "export SITE=1\n"
			s := sha256.Sum256([]byte(site))
			wfile(t, filepath.Join(root, "etc/.slurm-installer-backup.deadbeef.passwd"), "evil::0:0::/:/bin/sh\n")
			wfile(t, filepath.Join(root, "var/lib/slurm-installer/backups-pending.json"), `{"prefix":"/usr/local/slurm","pending":{"mode":"real",`+
				`"prefix":"/usr/local/slurm","bin_dir":"/etc","payload_dir":"/usr/local/.slurm-22.05.8-0123abcd","arch":"x86_64","libc":"glibc",`+
				`"configs":[{"path":"/etc/profile.d/site.sh","sha256":"`+hex.EncodeToString(s[:])+`","created":true}],`+
				`"backups":[{"path":"/etc/passwd","backup":"/etc/.slurm-installer-backup.deadbeef.passwd","what":"file"}]}}`)
		}},
		{name: "look-alike-payload-dir", setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "usr/local/.slurm-old-20240115/bin/sinfo"), "#!/bin/sh\necho site 2024\n")
		}},
		{name: "journal-names-look-alike", setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			wfile(t, filepath.Join(root, "usr/local/.slurm-old-20240115/bin/sinfo"), "#!/bin/sh\necho site 2024\n")
			wfile(t, filepath.Join(root, "usr/local/.slurm-installer-staging-0123abcd/keep"), "site data under our name\n")
			wfile(t, filepath.Join(root, "var/lib/slurm-installer/backups-pending.json"), `{"prefix":"/usr/local/slurm","dirs":[`+
				`{"path":"/usr/local/.slurm-old-20240115","ino":1},{"path":"/usr/local/.slurm-old-20240115"},{"path":"/usr/local/../etc"}]}`)
		}},
		{name: "fifo-receipt", names: []string{"/var/lib/slurm-installer/receipt.json"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			os.MkdirAll(filepath.Join(root, "var/lib/slurm-installer"), 0o755)
			if err := syscall.Mkfifo(filepath.Join(root, "var/lib/slurm-installer/receipt.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo-journal", setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			os.MkdirAll(filepath.Join(root, "var/lib/slurm-installer"), 0o755)
			if err := syscall.Mkfifo(filepath.Join(root, "var/lib/slurm-installer/backups-pending.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo-slurm.sh", refuse: []string{"/etc/profile.d/slurm.sh"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			if err := syscall.Mkfifo(filepath.Join(root, "etc/profile.d/slurm.sh"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "device-ld.so.conf", root: true, refuse: []string{"/etc/ld.so.conf.d/slurm.conf"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			os.MkdirAll(filepath.Join(root, "etc/ld.so.conf.d"), 0o755)
			if err := syscall.Mknod(filepath.Join(root, "etc/ld.so.conf.d/slurm.conf"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil { // /dev/null's numbers
				t.Fatal(err)
			}
		}},
		{name: "hard-link-slurm.sh-to-passwd", refuse: []string{"/etc/profile.d/slurm.sh"}, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			if err := os.Link(filepath.Join(root, "etc/passwd"), filepath.Join(root, "etc/profile.d/slurm.sh")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "mount-look-alike-payload-dir", root: true, setup: func(t *testing.T, root, _ string, _ *ownBundles) {
			d := filepath.Join(root, "usr/local/.slurm-22.05.8-0123abcd")
			os.MkdirAll(d, 0o755)
			mount(t, "-t", "tmpfs", "-o", "size=1m", "tmpfs", d)
			wfile(t, filepath.Join(d, "bin/sinfo"), "#!/bin/sh\necho a site's mount\n")
		}},
	}
}

func ownSequences(b *ownBundles, dead, cacheDir string) map[string][]ownStep {
	inst := func(v *testbundle.Bundle, ver string, extra ...string) []string {
		return append([]string{"--from", v.Path, "--slurm-version", ver, "--fallback", "fail"}, extra...)
	}
	ok7 := []int{0, 7}
	uninstall := ownStep{args: []string{"uninstall"}, codes: ok7}
	rmPayloadFile := ownStep{do: func(t *testing.T, root string) {
		_ = os.Remove(filepath.Join(root, "usr/local/slurm/lib/libslurmfull.so"))
	}}
	return map[string][]ownStep{
		"install":         {{args: inst(b.v1, "22.05.8"), codes: ok7, first: true}, uninstall},
		"install--force":  {{args: inst(b.v1, "22.05.8", "--force"), codes: ok7, first: true}, uninstall},
		"upgrade":         {{args: inst(b.v1, "22.05.8"), codes: ok7, first: true}, {args: inst(b.v2, "23.02.1"), codes: ok7}, uninstall},
		"upgrade--force":  {{args: inst(b.v1, "22.05.8", "--force"), codes: ok7, first: true}, {args: inst(b.v2, "23.02.1"), codes: ok7}, uninstall},
		"demo-then-real":  {{args: []string{"--mirrors", dead, "--retries", "0"}, codes: ok7}, {args: inst(b.v1, "22.05.8"), codes: ok7, first: true}, uninstall},
		"reinstall-force": {{args: inst(b.v1, "22.05.8", "--force"), codes: ok7, first: true}, {args: inst(b.v1, "22.05.8", "--force"), codes: ok7}, uninstall},
		"repair": {{args: inst(b.v1, "22.05.8"), codes: ok7, first: true}, rmPayloadFile,
			{args: []string{"install", "--repair", "--from", b.v1.Path, "--fallback", "fail"}, codes: []int{0, 3, 7}}, uninstall},
		// On the root as it is: read-only commands, a repair from the cache
		// (the planted receipt's sha256 used to be a glob) and uninstall.
		"inspect": {{args: []string{"status", "--json"}, codes: []int{0, 3, 7}}, {args: []string{"verify", "--deep"}, codes: []int{0, 3, 7}},
			{args: []string{"install", "--repair", "--mirrors", dead, "--retries", "0", "--cache-dir", cacheDir, "--fallback", "fail"}, codes: []int{0, 3, 7}},
			{args: []string{"install", "--repair", "--from", b.v1.Path, "--fallback", "fail"}, codes: []int{0, 3, 7}},
			{args: []string{"uninstall"}, codes: []int{0, 7}}},
	}
}

// ownIgnored are the paths the invariants leave aside: site config in
// /etc/slurm, the installer's lock/state directory, the loader cache
// ldconfig regenerates.
func ownIgnored(r string) bool {
	for _, p := range []string{"etc/slurm", "var/lib/slurm-installer", "etc/ld.so.cache", "var/cache/ldconfig"} {
		if r == p || strings.HasPrefix(r, p+"/") {
			return true
		}
	}
	return false
}

type ownEntry struct{ desc, hash string }

// ownTree maps every entry under root (but the ignored) to its type, mode,
// size and content hash or link target.
func ownTree(t *testing.T, root string) map[string]ownEntry {
	t.Helper()
	m := map[string]ownEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(root, p)
		if ownIgnored(r) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := ownEntry{desc: fmt.Sprintf("%v %d", fi.Mode(), fi.Size())}
		if fi.IsDir() {
			e.desc = fi.Mode().String()
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			tgt, _ := os.Readlink(p)
			e.desc += " -> " + tgt
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			e.hash = hex.EncodeToString(s[:])
		}
		m[r] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ownDiff(before, after map[string]ownEntry) string {
	var d []string
	for p, e := range before {
		if a, ok := after[p]; !ok {
			d = append(d, "- "+p+" "+e.desc)
		} else if a != e {
			d = append(d, "~ "+p+" "+e.desc+" => "+a.desc)
		}
	}
	for p, a := range after {
		if _, ok := before[p]; !ok {
			d = append(d, "+ "+p+" "+a.desc)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}

func TestOwnershipMatrix(t *testing.T) {
	b := ownBundleSet(t)
	states := ownStates()
	dead := "http://" + closedPort(t)
	seqNames := []string{}
	for n := range ownSequences(b, dead, "") {
		seqNames = append(seqNames, n)
	}
	sort.Strings(seqNames)
	t.Logf("state matrix: %d states x %d sequences = %d cells", len(states), len(seqNames), len(states)*len(seqNames))
	for _, s := range states {
		for _, seqName := range seqNames {
			t.Run(s.name+"/"+seqName, func(t *testing.T) {
				if s.root && os.Geteuid() != 0 {
					if os.Getenv("CI") == "true" {
						t.Fatal("this state needs root (mknod, mount), and CI runs as root")
					}
					t.Skip("this state needs root (mknod, mount)")
				}
				t.Parallel()
				base := t.TempDir()
				root, canary := filepath.Join(base, "root"), filepath.Join(base, "canary")
				cacheDir := filepath.Join(canary, "cache")
				for _, d := range []string{"etc/profile.d", "usr/local/bin", "usr/bin", "var/lib", "tmp"} {
					os.MkdirAll(filepath.Join(root, d), 0o755)
				}
				wfile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
				wfile(t, filepath.Join(root, "etc/profile.d/site.sh"), "export SITE=1\n")
				wfile(t, filepath.Join(root, "usr/local/bin/site-tool"), "#!/bin/sh\n")
				wfile(t, filepath.Join(canary, "host-passwd"), "host\n")
				wfile(t, filepath.Join(canary, "host-data"), "precious\n")
				wfile(t, filepath.Join(cacheDir, "keep-me"), "cache\n")
				s.setup(t, root, canary, b)
				canaryBefore := ownTree(t, canary)
				before := ownTree(t, root)
				global := append([]string{"--root", root}, s.args...)
				run := func(args []string) (int, string) {
					return cli(t, append(append([]string{}, global...), args...)...) // global flags first
				}
				check := func(what string) {
					t.Helper()
					if d := ownDiff(canaryBefore, ownTree(t, canary)); d != "" {
						t.Fatalf("after %s: files outside --root changed:\n%s", what, d)
					}
					now := ownTree(t, root)
					for p, e := range before {
						if e.hash == "" || now[p].hash == e.hash {
							continue
						}
						found := false
						for q, n := range now {
							if n.hash == e.hash && strings.Contains(q, ".slurm-installer-backup.") {
								found = true
							}
						}
						if !found {
							t.Fatalf("after %s: the root's %s (%s) is lost: neither at its path nor in a backup\n%s", what, p, e.desc, ownDiff(before, now))
						}
					}
				}
				if s.pre != nil {
					for _, args := range s.pre(b, dead) {
						if code, stderr := run(args); code != 0 {
							t.Fatalf("earlier install %v: exit %d\n%s", args, code, stderr)
						}
						check(fmt.Sprintf("earlier install %v", args))
					}
				}
				if s.hostile {
					// The repair looks the receipt's sha256 up in --cache-dir
					// (inside the canary): it used to be a glob whose
					// non-matching hits were removed.
					repair := []string{"install", "--repair", "--mirrors", dead, "--retries", "0", "--cache-dir", cacheDir, "--fallback", "fail"}
					for _, args := range [][]string{{"status"}, {"verify", "--deep"}, repair, {"uninstall"}} {
						code, stderr := run(args)
						want := 7
						if args[0] == "install" {
							want = 3 // the receipt is ignored, with a warning: nothing to repair
						}
						if code != want || !strings.Contains(stderr, "receipt") {
							t.Errorf("%s on a planted receipt: exit %d, want %d naming the receipt\n%s", args[0], code, want, stderr)
						}
						check(args[0] + " on the planted receipt")
					}
				}
				for i, st := range ownSequences(b, dead, cacheDir)[seqName] {
					what := fmt.Sprintf("step %d %v", i+1, st.args)
					if st.do != nil {
						st.do(t, root)
						continue
					}
					code, stderr := run(st.args)
					allowed := false
					for _, c := range st.codes {
						allowed = allowed || c == code
					}
					if !allowed {
						t.Fatalf("%s: exit %d, want one of %v\n%s", what, code, st.codes, stderr)
					}
					named := append(append([]string{}, s.refuse...), s.names...)
					if s.lock {
						named = append(named, "/var/lib/slurm-installer/lock")
					}
					if code == 7 {
						ok := false
						for _, p := range named {
							ok = ok || strings.Contains(stderr, p)
						}
						if !ok && !(s.hostile && strings.Contains(stderr, "receipt")) {
							t.Fatalf("%s: refused (exit 7) without naming %v\n%s", what, named, stderr)
						}
					}
					if st.first {
						force := false
						for _, a := range st.args {
							force = force || a == "--force"
						}
						want := 0
						if s.lock || (len(s.refuse) > 0 && !force) {
							want = 7
						}
						if code != want {
							t.Fatalf("%s: exit %d, want %d\n%s", what, code, want, stderr)
						}
					}
					check(what)
					if code == 0 {
						linksResolve(t, root, what)
					}
				}
				if d := ownDiff(before, ownTree(t, root)); d != "" {
					t.Errorf("after uninstall the root differs from before the first install:\n%s", d)
				}
			})
		}
	}
}

// linksResolve checks that every command link a real install's receipt
// lists leads to a file (issue 12 item 5: dangling links on merged /usr).
func linksResolve(t *testing.T, root, what string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json"))
	if err != nil {
		return
	}
	var r struct {
		Mode  string `json:"mode"`
		Links []struct {
			Path string `json:"path"`
		} `json:"links"`
	}
	if json.Unmarshal(b, &r) != nil || r.Mode != "real" {
		return
	}
	if len(r.Links) == 0 {
		t.Fatalf("after %s: a real install with no command links", what)
	}
	for _, l := range r.Links {
		if _, err := os.Stat(filepath.Join(root, l.Path)); err != nil {
			t.Fatalf("after %s: command link %s does not resolve: %v", what, l.Path, err)
		}
	}
}

// Issue 12 item 6: a command link the user re-pointed stays in the receipt
// as a problem: verify --deep reports the foreign link, a re-run of install
// refuses to take it over (exit 7 naming it), --force backs it up, and
// uninstall puts the user's link back.
func TestRepointedCommandLink(t *testing.T) {
	b := ownBundleSet(t)
	root := t.TempDir()
	mustInstall(t, "--root", root, "--from", b.v1.Path, "--fallback", "fail")
	squeue := filepath.Join(root, "usr/local/bin/squeue")
	os.Remove(squeue)
	if err := os.Symlink("/opt/mine/squeue", squeue); err != nil {
		t.Fatal(err)
	}
	if code, stderr := cli(t, "--root", root, "verify", "--deep"); code != 8 {
		t.Errorf("verify --deep with a re-pointed squeue: exit %d, want 8\n%s", code, stderr)
	}
	code, stderr := cli(t, "--root", root, "--from", b.v1.Path, "--fallback", "fail")
	if code != 7 || !strings.Contains(stderr, "/usr/local/bin/squeue") {
		t.Errorf("install over a re-pointed squeue: exit %d, want 7 naming it\n%s", code, stderr)
	}
	if code, stderr := cli(t, "--root", root, "verify", "--deep"); code != 8 {
		t.Errorf("verify --deep after the refused re-run: exit %d, want 8\n%s", code, stderr)
	}
	mustInstall(t, "--root", root, "--from", b.v1.Path, "--fallback", "fail", "--force")
	if code, stderr := cli(t, "--root", root, "verify", "--deep"); code != 0 {
		t.Errorf("verify --deep after --force: exit %d\n%s", code, stderr)
	}
	mustInstall(t, "--root", root, "uninstall")
	if got, _ := os.Readlink(squeue); got != "/opt/mine/squeue" {
		t.Errorf("uninstall did not put the user's squeue link back: %q", got)
	}
}
