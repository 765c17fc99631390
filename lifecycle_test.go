package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"slurm-installer/internal/testkit/testbundle"
)

// These tests drive the CLI (the test binary, on PATH as slurm-installer
// through testscript.Main) against file systems that fail: a full tmpfs and
// a read-only bind mount (issue 6 item 3). They need mount(2); where it is
// not permitted they skip and say so.

// cli runs slurm-installer with args and returns its exit code and stderr.
// A run that does not end within cliTimeout fails the test (issue 23: a
// FIFO state file used to hang status, verify, uninstall and install).
func cli(t testing.TB, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "slurm-installer", args...)
	cmd.Env = append(os.Environ(), "SLURM_INSTALLER_LOG_FORMAT=console")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("slurm-installer %s hung: killed after %s\n%s", strings.Join(args, " "), cliTimeout, stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatalf("run slurm-installer: %v", err)
	}
	return 0, stderr.String()
}

func mustInstall(t testing.TB, args ...string) {
	t.Helper()
	if code, stderr := cli(t, args...); code != 0 {
		t.Fatalf("slurm-installer %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
}

// cliTimeout bounds one CLI run in these tests (generous: the matrix runs
// many in parallel on a small machine).
const cliTimeout = 5 * time.Minute

// mount runs mount(8); it skips the test when mounting is not permitted.
func mount(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("mount", args...).CombinedOutput()
	if err != nil {
		if os.Geteuid() != 0 || bytes.Contains(out, []byte("permission denied")) || bytes.Contains(out, []byte("must be superuser")) {
			t.Skipf("mounting is not permitted here (mount %s: %s)", strings.Join(args, " "), bytes.TrimSpace(out))
		}
		t.Fatalf("mount %s: %v: %s", strings.Join(args, " "), err, out)
	}
	dir := args[len(args)-1]
	if strings.Contains(strings.Join(args, " "), "remount") {
		return // the mount it changes is unmounted by its own cleanup
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// snapshot describes every entry under root (type, mode, size, content
// hash or link target), except the lock file whose content is the last pid.
func snapshot(t testing.TB, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(root, p)
		if r == "var/lib/slurm-installer/lock" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", r, fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			tgt, _ := os.Readlink(p)
			line += " -> " + tgt
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			line += " " + hex.EncodeToString(s[:8])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func writeBundle(t testing.TB, o testbundle.Options) *testbundle.Bundle {
	t.Helper()
	b, err := testbundle.Write(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameTree(t *testing.T, before, after string) {
	t.Helper()
	if before != after {
		t.Errorf("the root changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// A bundle that does not fit on the file system of the prefix: exit 7 with
// the path and the space needed, before anything is written; the previous
// install and its receipt are untouched.
func TestDiskFull(t *testing.T) {
	root := t.TempDir()
	local := filepath.Join(root, "usr", "local")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	mount(t, "-t", "tmpfs", "-o", "size=24m", "tmpfs", local)
	a := writeBundle(t, testbundle.Options{Version: "22.05.8"})
	b := writeBundle(t, testbundle.Options{Version: "23.02.1", Padding: 24 << 20})
	mustInstall(t, "--root", root, "--from", a.Path, "--fallback", "fail")
	before := snapshot(t, root)
	receipt, _ := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json"))

	for _, policy := range []string{"fail", "demo"} {
		code, stderr := cli(t, "--root", root, "--from", b.Path, "--slurm-version", "23.02.1", "--fallback", policy)
		want := map[string]int{"fail": 7, "demo": 0}[policy]
		if code != want {
			t.Fatalf("--fallback %s: exit %d, want %d\n%s", policy, code, want, stderr)
		}
		m := regexp.MustCompile(`the bundle needs [0-9.]+ MiB unpacked \(([0-9]+) bytes\), [0-9.]+ MiB is free`).FindStringSubmatch(stderr)
		if n, _ := strconv.ParseInt(m2(m), 10, 64); n < b.Unpacked {
			t.Errorf("--fallback %s: the message does not give the space needed (>= %d bytes):\n%s", policy, b.Unpacked, stderr)
		}
		for _, s := range []string{"not enough space in /usr/local (" + local + " on the host)", "free at least"} {
			if !strings.Contains(stderr, s) {
				t.Errorf("--fallback %s: stderr lacks %q:\n%s", policy, s, stderr)
			}
		}
		if policy == "demo" && !strings.Contains(stderr, "keeping the working install") {
			t.Errorf("demo policy did not keep the working install:\n%s", stderr)
		}
		sameTree(t, before, snapshot(t, root))
		if got, _ := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json")); !bytes.Equal(got, receipt) {
			t.Errorf("receipt changed")
		}
	}
	if code, stderr := cli(t, "--root", root, "verify", "--deep"); code != 0 {
		t.Errorf("verify --deep after the failed upgrade: exit %d\n%s", code, stderr)
	}
}

// The space check counts bytes; a file system that runs out of inodes fails
// during extraction instead. That too is exit 7 naming the path and the
// space the bundle needs, and the staging directory is gone.
func TestDiskFullDuringExtraction(t *testing.T) {
	root := t.TempDir()
	local := filepath.Join(root, "usr", "local")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	mount(t, "-t", "tmpfs", "-o", "size=256m,nr_inodes=48", "tmpfs", local)
	a := writeBundle(t, testbundle.Options{Version: "22.05.8"})
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("scmd%02d", i))
	}
	b := writeBundle(t, testbundle.Options{Version: "23.02.1", Commands: append(many, "sinfo")})
	mustInstall(t, "--root", root, "--from", a.Path, "--fallback", "fail")
	before := snapshot(t, root)
	code, stderr := cli(t, "--root", root, "--from", b.Path, "--slurm-version", "23.02.1", "--fallback", "fail")
	if code != 7 {
		t.Fatalf("exit %d, want 7\n%s", code, stderr)
	}
	for _, s := range []string{"not enough space in /usr/local (" + local + " on the host)", "the bundle needs", "no space left on device", "ran out of inodes"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	sameTree(t, before, snapshot(t, root))
}

// A read-only root: exit 7 naming the path that could not be written;
// nothing changes, and under the demo policy the working install is kept.
func TestReadOnlyRoot(t *testing.T) {
	root := t.TempDir()
	a := writeBundle(t, testbundle.Options{Version: "22.05.8"})
	b := writeBundle(t, testbundle.Options{Version: "23.02.1"})
	mustInstall(t, "--root", root, "--from", a.Path, "--fallback", "fail")
	ro := t.TempDir()
	mount(t, "--bind", root, ro)
	mount(t, "-o", "remount,ro,bind", ro)
	if err := os.WriteFile(filepath.Join(ro, "probe"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("bind mount is not read-only: %v", err)
	}
	before := snapshot(t, root)
	code, stderr := cli(t, "--root", ro, "--from", b.Path, "--slurm-version", "23.02.1", "--fallback", "fail")
	if code != 7 {
		t.Fatalf("exit %d, want 7\n%s", code, stderr)
	}
	// The first write is the journal's (issue 23: written before the first
	// change), so that is the path named.
	for _, s := range []string{"/var/lib/slurm-installer/backups-pending.json", "read-only file system", "writable --root"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	code, stderr = cli(t, "--root", ro, "--from", b.Path, "--slurm-version", "23.02.1")
	if code != 0 || !strings.Contains(stderr, "keeping the working install") {
		t.Errorf("demo policy: exit %d, want 0 and the working install kept\n%s", code, stderr)
	}
	// verify on the read-only root checks what it can and says what it
	// could not run, rather than failing the install as broken.
	if code, stderr := cli(t, "--root", ro, "verify"); code != 0 {
		t.Errorf("verify on a read-only root: exit %d, want 0 (the run check skipped)\n%s", code, stderr)
	}
	if code, stderr := cli(t, "--root", ro, "uninstall"); code != 7 {
		t.Errorf("uninstall on a read-only root: exit %d, want 7\n%s", code, stderr)
	}
	sameTree(t, before, snapshot(t, root))
	if code, stderr := cli(t, "--root", root, "verify", "--deep"); code != 0 {
		t.Errorf("verify --deep after the failed upgrade: exit %d\n%s", code, stderr)
	}
}

func m2(m []string) string {
	if len(m) < 2 {
		return ""
	}
	return m[1]
}

// BenchmarkNoop is the fast no-op of issue 6 item 4: the CLI run again on an
// intact install of the same version reads the receipt, checks sizes and
// modes and exits 0 without downloading (the mirror is a closed port).
// Each iteration is one process, as a Dockerfile RUN would start it.
func BenchmarkNoop(b *testing.B) {
	root := b.TempDir()
	a := writeBundle(b, testbundle.Options{Version: "22.05.8"})
	mustInstall(b, "--root", root, "--from", a.Path, "--fallback", "fail")
	dead := "http://" + closedPort(b)
	b.ResetTimer()
	for b.Loop() {
		code, stderr := cli(b, "--root", root, "--mirrors", dead, "--fallback", "fail", "--quiet")
		if code != 0 {
			b.Fatalf("no-op run: exit %d\n%s", code, stderr)
		}
	}
}

// The no-op must not download, and must notice a changed size or mode.
func TestNoopChecksSizesAndModes(t *testing.T) {
	root := t.TempDir()
	a := writeBundle(t, testbundle.Options{Version: "22.05.8"})
	mustInstall(t, "--root", root, "--from", a.Path, "--fallback", "fail")
	dead := "http://" + closedPort(t)
	if code, stderr := cli(t, "--root", root, "--mirrors", dead, "--fallback", "fail"); code != 0 || !strings.Contains(stderr, "already installed and intact") {
		t.Fatalf("no-op: exit %d\n%s", code, stderr)
	}
	lib := filepath.Join(root, "usr/local/slurm/lib/libslurmfull.so")
	if err := os.Chmod(lib, 0o600); err != nil {
		t.Fatal(err)
	}
	// Not intact any more: it tries to reinstall, and the dead mirror fails it.
	if code, stderr := cli(t, "--root", root, "--mirrors", dead, "--fallback", "fail", "--retries", "0"); code != 4 {
		t.Fatalf("after a mode change: exit %d, want 4 (a reinstall was needed)\n%s", code, stderr)
	}
}

// Issue 23 defect 4: uninstall reads the receipt only once it holds the
// lock. One that waited for an upgrade acts on the upgrade's receipt: the
// new payload and links do not stay behind, recorded nowhere.
func TestUninstallReadsReceiptUnderLock(t *testing.T) {
	b := ownBundleSet(t)
	rootA, rootB := t.TempDir(), t.TempDir()
	mustInstall(t, "--root", rootA, "--from", b.v1.Path, "--slurm-version", "22.05.8", "--fallback", "fail")
	mustInstall(t, "--root", rootB, "--from", b.v2.Path, "--slurm-version", "23.02.1", "--fallback", "fail")
	lock, err := os.OpenFile(filepath.Join(rootA, "var/lib/slurm-installer/lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "slurm-installer", "--root", rootA, "uninstall", "--lock-timeout", "2m")
	cmd.Env = append(os.Environ(), "SLURM_INSTALLER_LOG_FORMAT=console")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var log bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(log.String(), "waiting for another slurm-installer run") {
		n, err := pr.Read(buf)
		log.Write(buf[:n])
		if err != nil {
			t.Fatalf("uninstall never waited for the lock:\n%s", log.String())
		}
	}
	// The "upgrade" this uninstall waits for: root A becomes what an
	// install of 23.02.1 leaves (root B), receipt included.
	for _, top := range []string{"usr", "etc"} {
		if err := os.RemoveAll(filepath.Join(rootA, top)); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(rootB, top), rootA).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(rootB, "var/lib/slurm-installer/receipt.json"), filepath.Join(rootA, "var/lib/slurm-installer/")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(pr)
	log.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, log.String())
	}
	ents, _ := os.ReadDir(filepath.Join(rootA, "usr/local"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".slurm-") || e.Name() == "slurm" {
			t.Errorf("uninstall left %s behind (it acted on the receipt of before the upgrade)\n%s", e.Name(), log.String())
		}
	}
	if _, err := os.Lstat(filepath.Join(rootA, "usr/local/bin/sinfo")); err == nil {
		t.Errorf("uninstall left the sinfo link")
	}
}

// Issue 23 defect 3: a REGISTRY_AUTH_FILE that is a FIFO is refused at once
// (exit 2); it used to hang past --deadline with the root's lock held.
func TestRegistryAuthFileFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "auth.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "slurm-installer", "--root", filepath.Join(dir, "root"), "--mirrors", "oci://127.0.0.1:1/slurm",
		"--deadline", "5s", "--retries", "0", "--fallback", "fail")
	cmd.Env = append(os.Environ(), "SLURM_INSTALLER_LOG_FORMAT=console", "REGISTRY_AUTH_FILE="+fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("a FIFO REGISTRY_AUTH_FILE hangs the run past --deadline\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "REGISTRY_AUTH_FILE") {
		t.Fatalf("exit %v, want 2 naming REGISTRY_AUTH_FILE\n%s", err, stderr.String())
	}
}
