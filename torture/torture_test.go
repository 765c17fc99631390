//go:build torture

// Package torture is the kill matrix of issue 6: it starts real installs and
// upgrades of the CLI and SIGKILLs them at spread-out moments, then checks
// that the root is entirely the old install or entirely the new one and that
// the next plain run repairs it. Every moment is also hit with SIGINT and
// SIGTERM (issue 12): those runs must stop with exit 130 / 143, leave the
// previous install (or nothing) exactly as it was, remove their temp files
// and never record demo mode. Run it with `make torture` (TRIALS=N).
package torture

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"slurm-installer/internal/testkit/testbundle"
	"slurm-installer/internal/testkit/testfs"
)

var bin string // the CLI under test

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "torture-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "slurm-installer")
	cmd := exec.Command("go", "build", "-o", bin, "slurm-installer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the CLI: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	verA = "22.05.8"
	verB = "23.02.1"
)

type env struct {
	mirror   string
	template string            // a root with A installed
	payloadA map[string]string // tree of A's payload
	payloadB map[string]string
}

func run(ctx context.Context, root, mirror, version string, extra ...string) *exec.Cmd {
	args := append([]string{"--root", root, "--mirrors", mirror, "--slurm-version", version, "--fallback", "fail",
		"--log-level", "debug", "--log-format", "console", "--retries", "0"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(root, "..", "tmp"))
	return cmd
}

func mustRun(t *testing.T, root, mirror, version string) string {
	t.Helper()
	cmd := run(context.Background(), root, mirror, version)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install %s into %s: %v\n%s", version, root, err, out)
	}
	return string(out)
}

func setup(t *testing.T) *env {
	dir := t.TempDir()
	for _, o := range []testbundle.Options{{Version: verA, Padding: 24 << 20}, {Version: verB, Padding: 24 << 20}} {
		if _, err := testbundle.Write(filepath.Join(dir, "mirror"), o); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(testfs.SlowHandler(http.FileServer(http.Dir(filepath.Join(dir, "mirror"))), 96<<20))
	t.Cleanup(srv.Close)
	e := &env{mirror: srv.URL, template: filepath.Join(dir, "a", "root")}
	os.MkdirAll(filepath.Join(dir, "a", "tmp"), 0o755)
	os.MkdirAll(e.template, 0o755)
	mustRun(t, e.template, e.mirror, verA)
	e.payloadA = testfs.Tree(t, filepath.Join(e.template, "usr/local/slurm")+"/")
	bRoot := filepath.Join(dir, "b", "root")
	os.MkdirAll(filepath.Join(dir, "b", "tmp"), 0o755)
	os.MkdirAll(bRoot, 0o755)
	mustRun(t, bRoot, e.mirror, verB)
	e.payloadB = testfs.Tree(t, filepath.Join(bRoot, "usr/local/slurm")+"/")
	return e
}

// triggers are log markers a kill can be timed from.
var triggers = []string{
	"downloading", "checksum verified", "bundle extracted", "preflight passed",
	"commit: payload moved", "commit: prefix swapped", "commit: commands linked",
	"commit: linker config written", "commit: profile written", "commit: /etc/slurm placed",
	"sinfo --version ran", "receipt written", "finalize:",
}

// killAt runs cmd, copying its output to out with each line prefixed by
// the time since start, and SIGKILLs it after delay or just after the line
// containing trigger (plus a random 0-500µs). It reports whether cmd exited
// on its own.
func killAt(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, delay time.Duration, trigger string) bool {
	exited, _ := signalAt(t, cmd, out, delay, trigger, syscall.SIGKILL)
	return exited
}

// signalAt is killAt with another signal. For SIGINT and SIGTERM it also
// returns the exit code (0 when the run finished before it noticed).
func signalAt(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, delay time.Duration, trigger string, sig syscall.Signal) (bool, int) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { _ = cmd.Process.Signal(sig) }) }
	timer := time.AfterFunc(delay, kill)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		fired := false
		for sc.Scan() {
			fmt.Fprintf(out, "%8.3fs %s\n", time.Since(start).Seconds(), sc.Text())
			if trigger != "" && !fired && strings.Contains(sc.Text(), trigger) {
				fired = true
				time.AfterFunc(time.Duration(rand.Int64N(int64(500*time.Microsecond))), kill)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	timer.Stop()
	pw.Close()
	<-read
	if err == nil {
		return true, 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && sig == syscall.SIGKILL {
			return false, -1
		}
		if sig != syscall.SIGKILL && (ee.ExitCode() == 130 || ee.ExitCode() == 143) {
			return false, ee.ExitCode()
		}
		if sig != syscall.SIGKILL {
			t.Fatalf("%v: exit %v, want 130/143 or 0\n%s", sig, err, out.String())
		}
	}
	t.Fatalf("run failed before any kill: %v\n%s", err, out.String())
	return false, -1
}

// phase is where the log says the killed run was: the last marker it
// printed.
func phase(log string, exited bool) string {
	if exited {
		return "completed"
	}
	markers := []struct{ sub, phase string }{
		{"finalize: removing the previous payload", "finalize"},
		{"receipt written", "receipt+finalize"},
		{"commit: /etc/slurm placed", "verify (sinfo --version)"},
		{"commit: profile written", "config: /etc/slurm"},
		{"commit: linker config written", "config: profile.d"},
		{"commit: commands linked", "config: linker"},
		{"commit: prefix swapped", "commit: command links"},
		{"commit: payload moved", "commit: prefix swap"},
		{"preflight passed", "commit: move payload"},
		{"bundle extracted", "preflight"},
		{"verified", "extraction"},
		{"target detected", "download"},
	}
	best, at := "startup", -1
	for _, m := range markers {
		if i := strings.LastIndex(log, m.sub); i > at {
			best, at = m.phase, i
		}
	}
	return best
}

func TestKillMatrix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the kill matrix runs the installer's chroot verification; run it as root")
	}
	trials := 60
	if s := os.Getenv("TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TRIALS=%q", s)
		}
		trials = n
	}
	e := setup(t)

	// Measure one full upgrade to spread the kill moments over it.
	measure := newRoot(t, e, true)
	start := time.Now()
	var mlog bytes.Buffer
	if killAt(t, run(context.Background(), measure, e.mirror, verB), &mlog, time.Hour, "") != true {
		t.Fatal("measuring run did not finish")
	}
	full := time.Since(start)
	t.Logf("timeline of one upgrade:\n%s", mlog.String())
	t.Logf("one full upgrade A->B takes %v; %d trials with kills spread over 0..%v", full.Round(time.Millisecond), trials, (full * 11 / 10).Round(time.Millisecond))

	outcomes := map[string]int{}
	var order []string
	for i := range trials {
		upgrade := i%5 != 4 // every fifth trial is a first install
		// Stratified: trial i gets a moment in the i-th slice of the run.
		// Odd trials: a moment spread over the whole run (stratified: trial i
		// in the i-th slice). Even trials: right after a log marker (round
		// robin) plus up to 500µs, so the short commit and config steps are hit
		// too; the time limit then only backs it up.
		delay := time.Duration((float64(i) + rand.Float64()) / float64(trials) * float64(full) * 1.1)
		trigger := ""
		if i%2 == 0 {
			trigger = triggers[(i/2)%len(triggers)]
			delay = 3 * full
		}
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM} {
			root := newRoot(t, e, upgrade)
			var where string
			if sig == syscall.SIGKILL {
				where = trial(t, e, root, upgrade, delay, trigger)
			} else {
				where = graceful(t, e, root, upgrade, delay, trigger, sig)
			}
			kind := map[bool]string{true: "upgrade", false: "install"}[upgrade]
			key := fmt.Sprintf("%-7s %s / %s", sig2name[sig], kind, where)
			if outcomes[key] == 0 {
				order = append(order, key)
			}
			outcomes[key]++
			os.RemoveAll(filepath.Dir(root))
		}
	}
	sort.Strings(order)
	var b strings.Builder
	fmt.Fprintf(&b, "kill matrix: %d moments x SIGKILL, SIGINT, SIGTERM = %d trials, every invariant held after every signal\n", trials, 3*trials)
	for _, k := range order {
		fmt.Fprintf(&b, "  %-46s %3d\n", k, outcomes[k])
	}
	t.Log(b.String())
}

var sig2name = map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}

// graceful sends sig (SIGINT or SIGTERM) to an install of B at the moment
// given, then checks: exit 130/143 (or 0 with B installed, when the run had
// finished its work), the root exactly as before when it stopped (the lock
// file aside), no demo receipt, no temp files; the next run installs B.
func graceful(t *testing.T, e *env, root string, hadA bool, delay time.Duration, trigger string, sig syscall.Signal) string {
	t.Helper()
	before := testfs.Tree(t, root)
	cmd := run(context.Background(), root, e.mirror, verB, "--fallback", "demo")
	var out bytes.Buffer
	exited, code := signalAt(t, cmd, &out, delay, trigger, sig)
	where := phase(out.String(), exited)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%v after %v or at %q (%s): %s\nlog of the run:\n%s", sig, delay, trigger, where, fmt.Sprintf(format, args...), lastLines(out.String(), 15))
	}
	if bytes.Contains(out.Bytes(), []byte("DEMO MODE")) {
		fail("the signalled run recorded demo mode")
	}
	if rc, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json")); err == nil && bytes.Contains(rc, []byte(`"mode": "demo"`)) {
		fail("demo receipt after a signal")
	}
	if !exited {
		want := map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143}[sig]
		if code != want {
			fail("exit %d, want %d", code, want)
		}
		after := testfs.Tree(t, root)
		for p := range after {
			if _, ok := before[p]; !ok && (p == "var" || p == "var/lib" || p == "var/lib/slurm-installer" || p == "var/lib/slurm-installer/lock") {
				delete(after, p) // the state directory and its lock file stay
			}
		}
		if !testfs.Same(before, after) {
			fail("the root changed: %s", diff(after, before, before))
		}
		var left []string
		filepath.WalkDir(filepath.Dir(root), func(p string, d fs.DirEntry, err error) error {
			if err == nil && (strings.HasPrefix(d.Name(), ".slurm-installer-") || strings.HasPrefix(d.Name(), "slurm-installer-") ||
				strings.HasPrefix(d.Name(), "verify-") || strings.HasPrefix(d.Name(), "slurm-fetch-")) {
				left = append(left, p)
			}
			return nil
		})
		if len(left) > 0 {
			fail("temp files left by the stopped run: %v", left)
		}
	}
	again := mustRun(t, root, e.mirror, verB)
	if !strings.Contains(again, "SLURM client installed") && !strings.Contains(again, "already installed and intact") {
		fail("the next run did not install B:\n%s", again)
	}
	prefix := filepath.Join(root, "usr/local/slurm")
	if got := testfs.Tree(t, prefix+"/"); !testfs.Same(got, e.payloadB) {
		fail("after the next run the prefix is not B: %s", diff(got, e.payloadA, e.payloadB))
	}
	if exited {
		return "completed"
	}
	return where
}

// newRoot is a fresh root beside its own TMPDIR: a copy of A's, or empty.
func newRoot(t *testing.T, e *env, withA bool) string {
	dir, err := os.MkdirTemp(filepath.Dir(filepath.Dir(e.template)), "trial-")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	root := filepath.Join(dir, "root")
	if withA {
		if out, err := exec.Command("cp", "-a", e.template, root).CombinedOutput(); err != nil {
			t.Fatalf("copy A: %v %s", err, out)
		}
	} else {
		os.MkdirAll(root, 0o755)
	}
	return root
}

// trial starts installing B into root, kills it after delay, checks the
// invariants, runs the installer again and checks that B is installed,
// verified and that nothing is left over. It returns where the kill landed.
func trial(t *testing.T, e *env, root string, hadA bool, delay time.Duration, trigger string) string {
	t.Helper()
	cmd := run(context.Background(), root, e.mirror, verB)
	var out bytes.Buffer
	exited := killAt(t, cmd, &out, delay, trigger)
	where := phase(out.String(), exited)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("kill after %v or at %q (%s): %s\nlog of the killed run:\n%s", delay, trigger, where, fmt.Sprintf(format, args...), lastLines(out.String(), 15))
	}

	// <prefix> is entirely A or entirely B; never missing when A was there.
	prefix := filepath.Join(root, "usr/local/slurm")
	if _, err := os.Stat(prefix); err != nil {
		if hadA {
			fail("the prefix is gone: %v", err)
		}
	} else {
		got := testfs.Tree(t, prefix+"/")
		isA, isB := testfs.Same(got, e.payloadA), testfs.Same(got, e.payloadB)
		if !isB && !(hadA && isA) {
			fail("the prefix is neither A nor B: %s", diff(got, e.payloadA, e.payloadB))
		}
	}
	// Every link in bin-dir resolves.
	binDir := filepath.Join(root, "usr/local/bin")
	ents, _ := os.ReadDir(binDir)
	for _, d := range ents {
		p := filepath.Join(binDir, d.Name())
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if _, err := os.Stat(p); err != nil {
				fail("%s does not resolve: %v", p, err)
			}
		}
	}

	// The next plain run ends in a verified B with no leftovers.
	again := mustRun(t, root, e.mirror, verB)
	if !strings.Contains(again, "SLURM client installed") && !strings.Contains(again, "already installed and intact") {
		fail("the next run did not install B:\n%s", again)
	}
	vc := exec.Command(bin, "--root", root, "verify", "--deep")
	if vout, err := vc.CombinedOutput(); err != nil || !bytes.Contains(vout, []byte("PASS  run              sinfo --version printed slurm "+verB)) {
		fail("verify --deep after the next run: %v\n%s", err, vout)
	}
	if got := testfs.Tree(t, prefix+"/"); !testfs.Same(got, e.payloadB) {
		fail("after the next run the prefix is not B: %s", diff(got, e.payloadA, e.payloadB))
	}
	var left []string
	filepath.WalkDir(filepath.Dir(root), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		n := d.Name()
		if strings.HasPrefix(n, ".slurm-installer-") || strings.HasPrefix(n, "slurm-installer-") || strings.HasPrefix(n, "verify-") || strings.HasPrefix(n, "slurm-fetch-") {
			left = append(left, p)
		}
		return nil
	})
	versioned, _ := filepath.Glob(filepath.Join(root, "usr/local/.slurm-*"))
	if len(left) > 0 || len(versioned) != 1 {
		fail("leftovers after the next run: %v; payload dirs: %v", left, versioned)
	}
	return where
}

func diff(got, a, b map[string]string) string {
	var s []string
	for k, v := range got {
		if a[k] != v && b[k] != v {
			s = append(s, fmt.Sprintf("%s=%s (A %q, B %q)", k, v, a[k], b[k]))
		}
	}
	for k := range b {
		if _, ok := got[k]; !ok {
			s = append(s, k+" missing")
		}
	}
	sort.Strings(s)
	if len(s) > 10 {
		s = s[:10]
	}
	return strings.Join(s, "; ")
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestKillFirstInstallDuringVerification is the kill matrix's moment of
// issue 23 defect 8: a first install SIGKILLed after its commit, while it
// verifies (payload, command links and loader config in place, no
// receipt). The next run must recognise it from the journal and install
// (it used to exit 7 on its own loader config), and an uninstall instead
// must leave the root as it was before (it used to say nothing was
// installed and leave it all).
func TestKillFirstInstallDuringVerification(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the kill matrix runs the installer's chroot verification; run it as root")
	}
	e := setup(t)
	moments := []string{"commit: /etc/slurm placed", "sinfo --version ran"}
	n := 0
	for _, trigger := range moments {
		for rep := range 3 {
			// The next run installs B.
			root := newRoot(t, e, false)
			where := trial(t, e, root, false, time.Hour, trigger)
			t.Logf("first install killed at %q (%s): the next run installed B", trigger, where)
			os.RemoveAll(filepath.Dir(root))
			n++

			// Uninstall instead: the root goes back to empty.
			root = newRoot(t, e, false)
			var out bytes.Buffer
			if killAt(t, run(context.Background(), root, e.mirror, verB), &out, time.Hour, trigger) {
				if rep == 0 {
					t.Logf("the run finished before the kill at %q; not counted", trigger)
				}
				os.RemoveAll(filepath.Dir(root))
				continue
			}
			if _, err := os.Lstat(filepath.Join(root, "var/lib/slurm-installer/receipt.json")); err == nil {
				t.Logf("killed at %q after the receipt was written (%s): not this moment, not counted", trigger, phase(out.String(), false))
				os.RemoveAll(filepath.Dir(root))
				continue
			}
			if _, err := os.Lstat(filepath.Join(root, "usr/local/bin/sinfo")); err != nil {
				t.Fatalf("killed at %q, yet no command link was in place: the moment was missed\n%s", trigger, lastLines(out.String(), 15))
			}
			uo, err := exec.Command(bin, "--root", root, "uninstall").CombinedOutput()
			if err != nil {
				t.Fatalf("uninstall after a first install killed at %q: %v\n%s", trigger, err, uo)
			}
			// What stays: the state directory, and site config in /etc/slurm
			// (uninstall never removes it: the bundle's files placed there
			// stay as an uninstall after a finished install keeps them).
			left := testfs.Tree(t, root)
			_, etcSlurm := left["etc/slurm"]
			for p := range left {
				if p != "." && p != "var" && p != "var/lib" && !strings.HasPrefix(p, "var/lib/slurm-installer") &&
					p != "etc/slurm" && !strings.HasPrefix(p, "etc/slurm/") && !(p == "etc" && etcSlurm) {
					t.Errorf("uninstall after a first install killed at %q left %s\n%s", trigger, p, uo)
				}
			}
			os.RemoveAll(filepath.Dir(root))
			n++
		}
	}
	t.Logf("kill matrix, first-install verification moment: %d moments x 3 reps x (next run, uninstall) = %d trials", len(moments), n)
}
