package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"slurm-installer/internal/testkit/testbundle"
	"slurm-installer/internal/testkit/testfs"
)

// TestSignals (issue 12 item 8): SIGINT and SIGTERM at any phase of a run
// stop it with exit 130 / 143, leave the previous install (or nothing)
// exactly as it was, remove the run's temp files, and never record demo mode,
// whatever --fallback says. Before the fix a signal during the download
// recorded demo and exited 0 (the cancellation was flattened into a string
// and looked like a dead mirror), and one during verification exited 1.
func TestSignals(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("TestSignals needs root (chroot verification); CI runs as root")
		}
		t.Skip("needs root: the installer's verification run uses chroot")
	}
	dir := t.TempDir()
	mirror := filepath.Join(dir, "mirror")
	for _, o := range []testbundle.Options{{Version: "22.05.8"}, {Version: "23.02.1", Padding: 12 << 20}} {
		if _, err := testbundle.Write(mirror, o); err != nil {
			t.Fatal(err)
		}
	}
	// 23.02.1 takes ~6 s to download at 2 MiB/s: long enough to land a signal in it.
	srv := httptest.NewServer(testfs.SlowHandler(http.FileServer(http.Dir(mirror)), 2<<20))
	t.Cleanup(srv.Close)
	fast := httptest.NewServer(http.FileServer(http.Dir(mirror)))
	t.Cleanup(fast.Close)

	template := filepath.Join(dir, "template")
	os.MkdirAll(template, 0o755)
	mustInstall(t, "--root", template, "--mirrors", srv.URL, "--slurm-version", "22.05.8", "--fallback", "fail")

	type phase struct{ name, marker string }
	phases := []phase{{"download", "downloading"}, {"verification", "commit: /etc/slurm placed"}}
	sigs := []struct {
		sig  syscall.Signal
		code int
		word string
	}{{syscall.SIGINT, 130, "interrupted by SIGINT"}, {syscall.SIGTERM, 143, "terminated by SIGTERM"}}
	n := 0
	for _, ph := range phases {
		for _, s := range sigs {
			for _, withA := range []bool{true, false} {
				for _, policy := range []string{"demo", "fail"} {
					name := fmt.Sprintf("%s/%v/A=%v/%s", ph.name, s.sig, withA, policy)
					t.Run(name, func(t *testing.T) {
						n++
						trial := filepath.Join(dir, fmt.Sprintf("t%d", n))
						root, tmp := filepath.Join(trial, "root"), filepath.Join(trial, "tmp")
						os.MkdirAll(tmp, 0o755)
						if withA {
							if out, err := exec.Command("cp", "-a", template, root).CombinedOutput(); err != nil {
								t.Fatalf("cp: %v %s", err, out)
							}
						} else {
							os.MkdirAll(root, 0o755)
						}
						if ph.name == "verification" {
							// The new bundle's sinfo sleeps: the signal lands in the run check.
							os.MkdirAll(filepath.Join(root, "etc"), 0o755)
							os.WriteFile(filepath.Join(root, "etc/slurm-fake-sleep"), []byte("60\n"), 0o644)
						}
						before := testfs.Tree(t, root)
						url := srv.URL
						if ph.name == "verification" {
							url = fast.URL
						}
						cmd := exec.Command("slurm-installer", "--root", root, "--mirrors", url, "--slurm-version", "23.02.1",
							"--fallback", policy, "--log-level", "debug", "--retries", "0")
						cmd.Env = append(os.Environ(), "SLURM_INSTALLER_LOG_FORMAT=console", "TMPDIR="+tmp)
						code, log, took := signalAt(t, cmd, ph.marker, s.sig)
						if code != s.code {
							t.Fatalf("exit %d, want %d\n%s", code, s.code, log)
						}
						if !strings.Contains(log, s.word) || strings.Contains(log, "DEMO MODE") || strings.Contains(log, "this is a bug") {
							t.Fatalf("log does not say %q, or records demo / calls it a bug:\n%s", s.word, log)
						}
						after := testfs.Tree(t, root)
						// The state directory and its lock file stay (design §5).
						for _, p := range []string{"var", "var/lib", "var/lib/slurm-installer", "var/lib/slurm-installer/lock"} {
							if _, ok := before[p]; !ok {
								delete(after, p)
							}
						}
						if d := testfs.Diff(before, after); d != "" {
							t.Fatalf("the root changed: %s\n%s", d, log)
						}
						if left, _ := os.ReadDir(tmp); len(left) > 0 {
							t.Fatalf("temp files left in TMPDIR: %v", names(left))
						}
						t.Logf("%s: exit %d after %v", name, code, took.Round(10*time.Millisecond))
					})
				}
			}
		}
	}
}

// signalAt starts cmd, sends sig just after its log prints marker, and
// returns the exit code, the log and how long the run took after the signal.
func signalAt(t *testing.T, cmd *exec.Cmd, marker string, sig syscall.Signal) (int, string, time.Duration) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	var sent time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if sent.IsZero() && strings.Contains(sc.Text(), marker) {
				time.Sleep(150 * time.Millisecond) // inside the phase, not at its first line
				sent = time.Now()
				cmd.Process.Signal(sig)
			}
		}
	}()
	timer := time.AfterFunc(3*time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	pw.Close()
	<-done
	if sent.IsZero() {
		t.Fatalf("the run never printed %q:\n%s", marker, log.String())
	}
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, log.String(), time.Since(sent)
}

func names(ds []fs.DirEntry) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Name())
	}
	return s
}
