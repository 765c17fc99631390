package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"slurm-installer/internal/testkit/registrytest"
	"slurm-installer/internal/testkit/rootfstest"
	"slurm-installer/internal/testkit/testbundle"
)

// Issue 22: where two features meet. These drive the CLI (the test binary,
// on PATH as slurm-installer through testscript.Main); every call states
// the exit code it expects.

// run1 runs slurm-installer and fails the test unless it exits with want.
func run1(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command("slurm-installer", args...)
	cmd.Env = append(os.Environ(), "SLURM_INSTALLER_LOG_FORMAT=console", "DOCKER_CONFIG="+t.TempDir(), "REGISTRY_AUTH_FILE=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run slurm-installer: %v", err)
	}
	if code != want {
		t.Fatalf("slurm-installer %s: exit %d, want %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// mirrorOf is the AppHub base a testbundle was written under
// (BASE/pkgs/slurm-apk/NAME).
func mirrorOf(b *testbundle.Bundle) string {
	return "file://" + filepath.Dir(filepath.Dir(filepath.Dir(b.Path)))
}

// Defect 4: a Debian root with Debian's musl package (a musl loader beside
// glibc's) was taken for a musl root: /etc/ld-musl-<arch>.path written,
// the glibc probe skipped, status "x86_64 (musl)". Its /bin/sh uses
// glibc's loader, and that decides.
func TestDebianWithMuslIsGlibc(t *testing.T) {
	root := rootfstest.DebianWithMusl(t)
	b := writeBundle(t, testbundle.Options{Version: "22.05.8"})
	_, stderr := run1(t, 0, "--root", root, "--mirrors", mirrorOf(b), "--slurm-version", "22.05.8", "--fallback", "fail")
	if !strings.Contains(stderr, "libc=glibc") {
		t.Errorf("install did not detect glibc:\n%s", stderr)
	}
	if !strings.Contains(stderr, "the root's glibc version") || !strings.Contains(stderr, "glibc_from=") {
		t.Errorf("the glibc probe did not run:\n%s", stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "etc/ld-musl-*.path")); len(m) > 0 {
		t.Errorf("a musl path file was written: %v", m)
	}
	stdout, _ := run1(t, 0, "--root", root, "status")
	if !strings.Contains(stdout, "(glibc)") {
		t.Errorf("status does not say glibc:\n%s", stdout)
	}
	run1(t, 0, "--root", root, "verify")
	run1(t, 0, "--root", root, "uninstall")
}

// One digest parser: --sha256 takes the digest as sha256sum prints it, in
// either case, or as a registry names it; the receipt keeps the one form.
func TestPinnedDigestForms(t *testing.T) {
	b := writeBundle(t, testbundle.Options{Version: "22.05.8"})
	for _, pin := range []string{b.SHA256, strings.ToUpper(b.SHA256), "sha256:" + b.SHA256} {
		root := t.TempDir()
		run1(t, 0, "--root", root, "--from", b.Path, "--sha256", pin, "--fallback", "fail")
		receipt, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json"))
		if err != nil || !bytes.Contains(receipt, []byte(`"sha256": "`+b.SHA256+`"`)) || !bytes.Contains(receipt, []byte(`"verification": "pinned"`)) {
			t.Errorf("--sha256 %s: receipt (%v):\n%s", pin, err, receipt)
		}
	}
	run1(t, 2, "--root", t.TempDir(), "--from", b.Path, "--sha256", "sha512:"+b.SHA256, "--fallback", "fail")
}

// writePayload writes a payload pack takes (bin/, lib/, VERSION) whose
// commands print version.
func writePayload(t *testing.T, version string) string {
	t.Helper()
	bin, err := testbundle.FakeSinfo(version)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "payload")
	for _, d := range []string{"bin", "lib/slurm"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{"lib/libslurmfull.so": []byte("not really a library\n"), "VERSION": []byte(version + "\n")}
	for _, c := range []string{"sinfo", "squeue", "scontrol", "sbatch", "srun", "scancel"} {
		files["bin/"+c] = exe
	}
	for p, b := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Defect 1: every registry install wrote "verification: layer-digest",
// which the receipt check did not list: status, status --json, verify and
// uninstall exited 1, install --repair 3, and a re-run downloaded and
// reinstalled instead of doing nothing. With a real registry (Debian's
// docker-registry): the whole life of a registry install exits 0.
func TestRegistryInstallLifecycle(t *testing.T) {
	reg := registrytest.Start(t, nil)
	mirror := reg.Ref("hpc/slurm-client")
	run1(t, 0, "pack", "--from", writePayload(t, "22.05.8"), "--slurm-version", "22.05.8", "--arch", hostArch(t), "--out", mirror)
	root := t.TempDir()
	run1(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")
	receipt, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json"))
	if err != nil || !bytes.Contains(receipt, []byte(`"verification": "layer-digest"`)) {
		t.Fatalf("receipt (%v):\n%s", err, receipt)
	}
	stdout, _ := run1(t, 0, "--root", root, "status", "--json")
	if !strings.Contains(stdout, `"verification": "layer-digest"`) {
		t.Errorf("status --json:\n%s", stdout)
	}
	run1(t, 0, "--root", root, "status")
	run1(t, 0, "--root", root, "verify")
	run1(t, 0, "--root", root, "verify", "--deep")
	// A re-run is a no-op: nothing downloaded (the registry is gone).
	reg.Stop()
	_, stderr := run1(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")
	if !strings.Contains(stderr, "already installed and intact") || strings.Contains(stderr, "unreadable receipt") {
		t.Errorf("the re-run was not a no-op:\n%s", stderr)
	}
	run1(t, 0, "--root", root, "install", "--repair")
	run1(t, 0, "--root", root, "uninstall")
	run1(t, 3, "--root", root, "status")
}

func hostArch(t *testing.T) string {
	t.Helper()
	a, ok := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if !ok {
		t.Fatalf("no SLURM bundles for %s", runtime.GOARCH)
	}
	return a
}
