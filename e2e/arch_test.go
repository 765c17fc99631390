//go:build e2e

package e2e

// Issue 7 on real ELF files: the real Debian SLURM client bundles of both
// arches (scripts/build-bundle.sh, ARCH=arm64 for aarch64) against real roots
// (scripts/mkroot.sh, glibc-arm64 for aarch64). Nothing here needs nginx: the
// mirrors are file:// URLs. The helpers are prefixed xa so that they do not
// collide with the suite harness; these tests build what they need themselves.

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/rootfs"
	"slurm-installer/verify"
)

// xa is what every test of this file shares: paths, the installer binary
// and the bundles, each made once.
var xa struct {
	once   sync.Once
	err    error
	repo   string // repository top
	build  string // $E2E_BUILD
	bin    string // $SLURM_INSTALLER, or built here
	mu     sync.Mutex
	bundle map[string]map[string]string // debian arch -> bundle-<arch>.env
}

func xaSetup(t *testing.T) {
	t.Helper()
	xa.once.Do(func() {
		if os.Geteuid() != 0 {
			xa.err = errors.New("these tests must run as root (mkroot.sh uses chroot and mknod)")
			return
		}
		wd, err := os.Getwd()
		if err != nil {
			xa.err = err
			return
		}
		xa.repo = filepath.Dir(wd) // go test runs in <repo>/e2e
		xa.build = os.Getenv("E2E_BUILD")
		if xa.build == "" {
			xa.build = filepath.Join(xa.repo, "build", "e2e")
		}
		if xa.build, xa.err = filepath.Abs(xa.build); xa.err != nil {
			return
		}
		xa.bundle = map[string]map[string]string{}
		if b := os.Getenv("SLURM_INSTALLER"); b != "" {
			xa.bin, xa.err = filepath.Abs(b)
			return
		}
		// no binary given: build one (the test binary's TempDir would not outlive a test)
		xa.bin = filepath.Join(xa.build, "arch-test-bin", "slurm-installer")
		cmd := exec.Command("go", "build", "-o", xa.bin, ".")
		cmd.Dir, cmd.Env = xa.repo, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			xa.err = fmt.Errorf("go build -o %s: %v\n%s", xa.bin, err, out)
		}
	})
	if xa.err != nil {
		t.Fatal(xa.err)
	}
}

// xaScript runs scripts/NAME with ARCH=debArch and returns its stdout.
func xaScript(t *testing.T, debArch, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(xa.repo, "scripts", name)}, args...)...)
	cmd.Env = append(xaEnv(), "ARCH="+debArch)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ARCH=%s scripts/%s %s: %v\n%s", debArch, name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// xaEnv is the environment without anything that steers the installer.
func xaEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_") && !strings.HasPrefix(kv, "ARCH=") {
			env = append(env, kv)
		}
	}
	return env
}

// xaBundle builds (or finds up to date) the real bundle for debArch and
// returns its facts (bundle-<arch>.env).
func xaBundle(t *testing.T, debArch string) map[string]string {
	t.Helper()
	xaSetup(t)
	xa.mu.Lock()
	defer xa.mu.Unlock()
	if b := xa.bundle[debArch]; b != nil {
		return b
	}
	dir := filepath.Join(xa.build, "bundle")
	start := time.Now()
	xaScript(t, debArch, "build-bundle.sh", dir)
	t.Logf("bundle %s ready in %s", debArch, time.Since(start).Round(time.Millisecond))
	ua := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[debArch]
	b, err := os.ReadFile(filepath.Join(dir, "bundle-"+ua+".env"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = strings.Trim(v, `"`)
		}
	}
	for _, k := range []string{"BUNDLE_PAYLOAD", "BUNDLE_TARBALL", "BUNDLE_APPHUB", "BUNDLE_VERSION"} {
		if m[k] == "" {
			t.Fatalf("bundle-%s.env has no %s", ua, k)
		}
	}
	xa.bundle[debArch] = m
	return m
}

// xaRoot is a fresh root in t.TempDir(): glibc, glibc-arm64, musl,
// distroless, or gcompat (a musl root with glibc added).
func xaRoot(t *testing.T, kind string) string {
	t.Helper()
	xaSetup(t)
	r := filepath.Join(t.TempDir(), kind)
	if kind == "gcompat" {
		xaScript(t, "amd64", "mkroot.sh", "musl", r, xa.build)
	}
	xaScript(t, "amd64", "mkroot.sh", kind, r, xa.build)
	return r
}

type xaResult struct {
	code           int
	stdout, stderr string
}

// xaRun runs the installer (plain-text logs on stderr), logs its output and
// fails the test unless it exited with want.
func xaRun(t *testing.T, want int, args ...string) xaResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, xa.bin, args...)
	cmd.Env = xaEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := xaResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("slurm-installer %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ slurm-installer %s   # exit %d, %s\n%s%s", strings.Join(args, " "), r.code,
		time.Since(start).Round(time.Millisecond), r.stdout, r.stderr)
	xaWantExit(t, "slurm-installer "+strings.Join(args, " "), r, want)
	return r
}

func xaWantExit(t *testing.T, what string, r xaResult, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
}

func xaContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not say %q:\n%s", what, sub, s)
		}
	}
}

func xaAbsent(t *testing.T, root string, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		if _, err := os.Lstat(filepath.Join(root, rel)); err == nil {
			t.Errorf("%s exists in the root; nothing should have been committed", rel)
		}
	}
}

// xaReceipt reads the fields of the receipt these tests check.
func xaReceipt(t *testing.T, root string) (r struct {
	Mode, Arch, Libc, Version, Verified, Reason string
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("receipt: %v\n%s", err, b)
	}
	return r
}

type xaCheck struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped"`
	Detail  string `json:"detail"`
}

func xaVerifyJSON(t *testing.T, root string, wantCode int) map[string]xaCheck {
	t.Helper()
	r := xaRun(t, wantCode, "verify", "--json", "--root", root)
	var v struct {
		OK     bool      `json:"ok"`
		Checks []xaCheck `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, r.stdout)
	}
	m := map[string]xaCheck{}
	for _, c := range v.Checks {
		m[c.Name] = c
	}
	return m
}

func xaELFMachine(t *testing.T, p string) elf.Machine {
	t.Helper()
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Machine
}

func xaNeedAmd64Host(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the cross-arch cases are written for an x86_64 host (this is %s)", runtime.GOARCH)
	}
}

// binfmtEntry is binfmt_misc's entry for qemu's aarch64 emulator.
const binfmtEntry = "/proc/sys/fs/binfmt_misc/qemu-aarch64"

// xaBinfmt makes sure qemu-user-static's aarch64 emulator is registered and
// enabled in binfmt_misc (scripts/deps.sh installs it): mounting binfmt_misc
// and registering the entry when needed. This machine allows it; a host
// that does not fails the test rather than skipping it.
func xaBinfmt(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/register"); err != nil {
		if out, err := exec.Command("mount", "-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc").CombinedOutput(); err != nil {
			t.Fatalf("mount binfmt_misc: %v: %s", err, out)
		}
	}
	if _, err := os.Stat(binfmtEntry); err != nil {
		if out, err := exec.Command("update-binfmts", "--enable", "qemu-aarch64").CombinedOutput(); err != nil {
			t.Fatalf("update-binfmts --enable qemu-aarch64 (is qemu-user-static installed? scripts/deps.sh): %v: %s", err, out)
		}
	}
	xaSetBinfmt(t, true)
}

// xaSetBinfmt enables or disables the aarch64 entry.
func xaSetBinfmt(t *testing.T, on bool) {
	t.Helper()
	v := map[bool]string{true: "1", false: "0"}[on]
	if err := os.WriteFile(binfmtEntry, []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(binfmtEntry)
	if err != nil || strings.HasPrefix(string(b), "enabled") != on {
		t.Fatalf("%s after writing %s: %q, %v", binfmtEntry, v, b, err)
	}
}

// Issue 14: Debian 12's real arm64 slurm-client into an arm64 root on this
// x86_64 host. With qemu-user-static registered in binfmt_misc the root's
// own ldconfig and the run check are tried and work: sinfo prints its
// version, in the install's run check and under chroot. With the emulator
// disabled, ldconfig cannot run, so the commands could not start: the
// install says so and fails (exit 8 under --fallback fail), nothing left.
func TestArchCrossInstallArm64(t *testing.T) {
	xaNeedAmd64Host(t)
	b := xaBundle(t, "arm64")
	xaBinfmt(t)

	t.Run("binfmt registered", func(t *testing.T) {
		root := xaRoot(t, "glibc-arm64")
		if _, err := os.Lstat(filepath.Join(root, "etc/ld.so.cache")); err == nil {
			t.Fatal("the arm64 root template has an ld.so.cache; the install's ldconfig must build it")
		}
		r := xaRun(t, 0, "install", "--root", root, "--mirrors", "file://"+b["BUNDLE_APPHUB"], "--fallback", "fail")
		xaContains(t, "install log", r.stderr,
			`arch=aarch64 arch_from="/bin/sh -> /usr/bin/busybox is an ELF aarch64 executable"`,
			"slurm-client-latest-aarch64-alpine.tar.gz",
			"ran the root's ldconfig under binfmt_misc emulation",
			`sinfo --version ran in the target sinfo="slurm-wlm `+b["BUNDLE_VERSION"]+`"`)
		if strings.Contains(r.stderr, "ldconfig not run") || strings.Contains(r.stderr, "cannot run aarch64") {
			t.Errorf("the install gave up on running aarch64 programs although binfmt_misc runs them:\n%s", r.stderr)
		}
		rc := xaReceipt(t, root)
		if rc.Mode != "real" || rc.Arch != "aarch64" || rc.Libc != "glibc" || rc.Version != b["BUNDLE_VERSION"] {
			t.Errorf("receipt mode/arch/libc/version = %s/%s/%s/%s, want real/aarch64/glibc/%s", rc.Mode, rc.Arch, rc.Libc, rc.Version, b["BUNDLE_VERSION"])
		}
		if want := `/usr/local/bin/sinfo --version printed "slurm-wlm ` + b["BUNDLE_VERSION"] + `"`; rc.Verified != want {
			t.Errorf("receipt verified = %q, want %q", rc.Verified, want)
		}
		if m := xaELFMachine(t, filepath.Join(root, "usr/local/slurm/bin/sinfo")); m != elf.EM_AARCH64 {
			t.Errorf("installed sinfo is %v, want EM_AARCH64", m)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/ld.so.cache")); err != nil {
			t.Errorf("no loader cache in the root after the install: %v", err)
		}
		// what the reporter ran: chroot ROOT /usr/local/bin/sinfo --version
		conf := "/tmp/e2e-slurm.conf"
		if err := os.WriteFile(filepath.Join(root, conf), []byte("ClusterName=x\nSlurmctldHost=localhost\nPluginDir=/usr/local/slurm/lib/slurm\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("chroot", root, "/usr/local/bin/sinfo", "--version")
		cmd.Env = []string{"SLURM_CONF=" + conf}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "slurm-wlm "+b["BUNDLE_VERSION"] {
			t.Fatalf("chroot ROOT /usr/local/bin/sinfo --version: %v: %q", err, out)
		}
		t.Logf("chroot %s /usr/local/bin/sinfo --version  =>  %q (aarch64, under qemu-user-static)", root, strings.TrimSpace(string(out)))

		v := xaRun(t, 0, "verify", "--root", root)
		xaContains(t, "verify", v.stdout, "PASS  arch", "ELF files are aarch64", "PASS  loader           present: /lib/ld-linux-aarch64.so.1",
			"PASS  run              sinfo --version printed slurm-wlm "+b["BUNDLE_VERSION"])
	})

	t.Run("binfmt disabled", func(t *testing.T) {
		root := xaRoot(t, "glibc-arm64")
		xaSetBinfmt(t, false)
		t.Cleanup(func() { xaSetBinfmt(t, true) })
		before := xaEntries(t, root)
		r := xaRun(t, int(failure.Verify), "install", "--root", root, "--mirrors", "file://"+b["BUNDLE_APPHUB"], "--fallback", "fail")
		// the default policy records demo mode instead: never a client that cannot start
		xaRun(t, 0, "install", "--root", root, "--mirrors", "file://"+b["BUNDLE_APPHUB"])
		xaSetBinfmt(t, true)
		xaContains(t, "install log", r.stderr,
			"the installed commands could not start here: they find their libraries in /usr/local/slurm/lib only through the root's loader cache, and ldconfig not run: tried the root's /sbin/ldconfig, but this x86_64 host cannot execute aarch64 programs (no binfmt_misc emulation for aarch64 is registered)",
			"exit=8", "register qemu-user-static for aarch64 in binfmt_misc")
		if strings.Contains(r.stderr, "sinfo --version ran") || strings.Contains(r.stderr, "SLURM client installed") {
			t.Errorf("the install claims a client that cannot start:\n%s", r.stderr)
		}
		t.Logf("refusal without emulation, verbatim:\n%s", xaLastLine(r.stderr))
		xaAbsent(t, root, "usr/local/slurm", "usr/local/bin/sinfo", "etc/ld.so.conf.d/slurm.conf", "etc/ld.so.cache")
		if after := xaEntries(t, root); strings.Join(after, " ") != strings.Join(before, " ") {
			t.Errorf("the root's top level changed: %v -> %v", before, after)
		}
		if rc := xaReceipt(t, root); rc.Mode != "demo" || !strings.Contains(rc.Reason, "ldconfig not run") {
			t.Errorf("receipt mode %q reason %q, want demo naming ldconfig", rc.Mode, rc.Reason)
		}
	})
}

// Issue 7.3: a bundle for the wrong arch is refused with both arches named,
// and nothing is committed.
func TestArchWrongBundleRefused(t *testing.T) {
	xaNeedAmd64Host(t)
	b := xaBundle(t, "arm64")
	tgz := b["BUNDLE_TARBALL"]
	const both = "bundle is aarch64 but the target root is x86_64"

	t.Run("direct URL, --fallback fail", func(t *testing.T) {
		root := xaRoot(t, "glibc")
		r := xaRun(t, int(failure.Verify), "install", "--root", root, "--mirrors", "file://"+tgz, "--fallback", "fail")
		xaContains(t, "install log", r.stderr, both, "exit=8", "install the x86_64 bundle (--arch x86_64)")
		xaAbsent(t, root, "usr/local/slurm", "usr/local/bin/sinfo", "var/lib/slurm-installer/receipt.json", "etc/ld.so.conf.d/slurm.conf")
	})
	t.Run("--from, default policy", func(t *testing.T) {
		root := xaRoot(t, "glibc")
		r := xaRun(t, 0, "install", "--root", root, "--from", tgz)
		xaContains(t, "install log", r.stderr, both, "would_exit=8", "DEMO MODE recorded")
		xaAbsent(t, root, "usr/local/slurm", "usr/local/bin/sinfo", "etc/ld.so.conf.d/slurm.conf")
		rc := xaReceipt(t, root)
		if rc.Mode != "demo" || !strings.Contains(rc.Reason, both) {
			t.Errorf("receipt mode %q reason %q, want demo with %q", rc.Mode, rc.Reason, both)
		}
		p, err := os.ReadFile(filepath.Join(root, "etc/profile.d/slurm.sh"))
		if err != nil || !strings.Contains(string(p), "SLURM_DEMO_MODE=1") {
			t.Errorf("profile.d/slurm.sh = %q (%v), want SLURM_DEMO_MODE=1", p, err)
		}
		st := xaRun(t, int(failure.NotInstalled), "status", "--root", root)
		xaContains(t, "status", st.stdout, "mode:      demo", "reason:    "+both)
	})
}

// Issue 7.2: the glibc bundle in an Alpine-like musl root is refused before
// commit, the glibc loader named once, and the answer is gcompat.
func TestArchMuslRootGcompatHint(t *testing.T) {
	b := xaBundle(t, "amd64")
	root := xaRoot(t, "musl")
	r := xaRun(t, int(failure.Verify), "install", "--root", root, "--mirrors", "file://"+b["BUNDLE_APPHUB"], "--fallback", "fail")
	xaContains(t, "install log", r.stderr, `libc=musl libc_from="found /lib/ld-musl-x86_64.so.1"`,
		"the bundle cannot run in this root: missing loader /lib64/ld-linux-x86-64.so.2 (needed by bin/sacct, bin/sacctmgr, bin/salloc and 14 more)")
	if n := strings.Count(r.stderr, "/lib64/ld-linux-x86-64.so.2"); n != 1 {
		t.Errorf("the glibc loader is named %d times, want once:\n%s", n, r.stderr)
	}
	last := xaLastLine(r.stderr)
	if !strings.HasSuffix(last, "hint=\"this bundle is built for glibc; on Alpine run `apk add gcompat libgcc libstdc++` or publish a self-contained bundle\"") {
		t.Errorf("the failure does not end with the gcompat hint: %s", last)
	}
	xaAbsent(t, root, "usr/local/slurm", "usr/local/bin/sinfo", "var/lib/slurm-installer/receipt.json")

	// After "apk add gcompat" (here: glibc's loader and libs added) the same bundle installs and runs.
	t.Run("gcompat", func(t *testing.T) {
		root := xaRoot(t, "gcompat")
		r := xaRun(t, 0, "install", "--root", root, "--mirrors", "file://"+b["BUNDLE_APPHUB"], "--fallback", "fail")
		xaContains(t, "install log", r.stderr, "a glibc loader /lib64/ld-linux-x86-64.so.2 is present too (gcompat)",
			`sinfo --version ran in the target sinfo="slurm-wlm `+b["BUNDLE_VERSION"]+`"`)
		if rc := xaReceipt(t, root); rc.Libc != "musl" || rc.Mode != "real" {
			t.Errorf("receipt mode/libc = %s/%s, want real/musl", rc.Mode, rc.Libc)
		}
	})
}

func xaLastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Issue 7.2: verify --json on a good glibc install gives every check, structured.
func TestArchVerifyJSON(t *testing.T) {
	xaNeedAmd64Host(t)
	b := xaBundle(t, "amd64")
	root := xaRoot(t, "glibc")
	xaRun(t, 0, "install", "--root", root, "--mirrors", "file://"+b["BUNDLE_APPHUB"], "--fallback", "fail")
	c := xaVerifyJSON(t, root, 0)
	for name, want := range map[string]string{
		"receipt":   "real " + b["BUNDLE_VERSION"] + " for x86_64/glibc",
		"files":     "entries and 17 links match the receipt",
		"arch":      "143 ELF files are x86_64",
		"loader":    "present: /lib64/ld-linux-x86-64.so.2 (17 files)",
		"libraries": "DT_NEEDED entries of 35 commands and libraries resolve",
		"plugins":   "DT_NEEDED entries of 108 plugins resolve",
		"run":       "sinfo --version printed slurm-wlm " + b["BUNDLE_VERSION"],
	} {
		ch, ok := c[name]
		if !ok || !ch.OK || ch.Skipped || !strings.Contains(ch.Detail, want) {
			t.Errorf("check %s = %+v (present %v), want ok, not skipped, detail with %q", name, ch, ok, want)
		}
	}
}

// Issue 7.2: a library missing on Debian is named with the package that provides it.
func TestPreflightMissingLibraryAptHint(t *testing.T) {
	b := xaBundle(t, "amd64")
	payload := filepath.Join(t.TempDir(), "payload")
	if out, err := exec.Command("cp", "-a", b["BUNDLE_PAYLOAD"], payload).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	lib := filepath.Join(payload, "usr/local/slurm/lib")
	for _, pat := range []string{"liblz4.so.1*", "libmunge.so.2*"} {
		ms, _ := filepath.Glob(filepath.Join(lib, pat))
		if len(ms) == 0 {
			t.Fatalf("no %s in the bundle's lib/", pat)
		}
		for _, m := range ms {
			if err := os.Remove(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	root := xaRoot(t, "glibc")
	r := xaRun(t, int(failure.Verify), "install", "--root", root, "--from", payload, "--fallback", "fail")
	xaContains(t, "install log", r.stderr,
		"the bundle cannot run in this root: missing liblz4.so.1 (needed by bin/sbcast, bin/srun, lib/libsystemd.so.0.35.0); libmunge.so.2 (needed by 3 plugins)",
		"hint=\"run `apt-get install -y liblz4-1 libmunge2`\"")
	xaAbsent(t, root, "usr/local/slurm", "var/lib/slurm-installer/receipt.json")
}

// Issue 7.1: Preflight of the real payloads of both arches against real roots.
func TestPreflightRealPayloads(t *testing.T) {
	amd, arm := xaBundle(t, "amd64"), xaBundle(t, "arm64")
	for _, c := range []struct {
		name, payload, root string
		arch                string
		err                 string // "" = passes
	}{
		{"amd64 into glibc", amd["BUNDLE_PAYLOAD"], "glibc", "x86_64", ""},
		{"amd64 into distroless", amd["BUNDLE_PAYLOAD"], "distroless", "x86_64", ""},
		{"amd64 into gcompat", amd["BUNDLE_PAYLOAD"], "gcompat", "x86_64", ""},
		{"arm64 into glibc-arm64", arm["BUNDLE_PAYLOAD"], "glibc-arm64", "aarch64", ""},
		{"amd64 into musl", amd["BUNDLE_PAYLOAD"], "musl", "x86_64", "missing loader /lib64/ld-linux-x86-64.so.2"},
		{"arm64 into glibc", arm["BUNDLE_PAYLOAD"], "glibc", "x86_64", "bundle is aarch64 but the target root is x86_64"},
		{"arm64 into distroless", arm["BUNDLE_PAYLOAD"], "distroless", "x86_64", "bundle is aarch64 but the target root is x86_64"},
		{"amd64 into glibc-arm64", amd["BUNDLE_PAYLOAD"], "glibc-arm64", "aarch64", "bundle is x86_64 but the target root is aarch64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := rootfs.New(xaRoot(t, c.root))
			arch, _, err := rootfs.DetectArch(fsys)
			if err != nil || arch != c.arch {
				t.Fatalf("DetectArch = %q, %v; want %s", arch, err, c.arch)
			}
			libc, _ := rootfs.DetectLibc(fsys, arch)
			start := time.Now()
			rep, err := verify.Preflight(verify.PreflightInput{PayloadDir: filepath.Join(c.payload, "usr/local/slurm"),
				Prefix: "/usr/local/slurm", Root: fsys, Arch: arch, Libc: libc, LinkerDirs: []string{"/usr/local/slurm/lib"}})
			t.Logf("Preflight took %s", time.Since(start).Round(time.Millisecond))
			if rep == nil {
				t.Fatalf("no report: %v", err)
			}
			for _, ch := range rep.Checks {
				t.Logf("%-10s ok=%v skipped=%v %s", ch.Name, ch.OK, ch.Skipped, ch.Detail)
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || failure.ClassOf(err) != failure.Verify {
					t.Fatalf("Preflight error = %v, want a verification failure with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Preflight: %v (hint: %s)", err, failure.HintOf(err))
			}
			got := map[string]bool{}
			for _, ch := range rep.Checks {
				got[ch.Name] = true
				if !ch.OK || ch.Skipped {
					t.Errorf("check %s = %+v, want ok and not skipped", ch.Name, ch)
				}
			}
			for _, n := range []string{"arch", "loader", "libraries", "plugins"} {
				if !got[n] {
					t.Errorf("no %s check in the report", n)
				}
			}
			if rep.Checks[0].Detail != "143 ELF files are "+c.arch {
				t.Errorf("arch check = %q, want all 143 ELF files of the bundle", rep.Checks[0].Detail)
			}
		})
	}
}

// Issue 7.4: libc detection on the real roots, directly and through the CLI.
func TestLibcDetectRealRoots(t *testing.T) {
	xaNeedAmd64Host(t)
	for _, c := range []struct {
		kind, arch, libc string
		evidence         string
	}{
		{"glibc", "x86_64", "glibc", "found /lib64/ld-linux-x86-64.so.2 (glibc loader)"},
		{"glibc-arm64", "aarch64", "glibc", "found /lib/ld-linux-aarch64.so.1 (glibc loader)"},
		{"musl", "x86_64", "musl", "found /lib/ld-musl-x86_64.so.1"},
		{"distroless", "x86_64", "glibc", "found /lib64/ld-linux-x86-64.so.2 (glibc loader)"},
		{"gcompat", "x86_64", "musl", "a glibc loader /lib64/ld-linux-x86-64.so.2 is present too (gcompat)"},
		{"empty", "x86_64", "unknown", "no musl or glibc dynamic loader found"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			var root string
			if c.kind == "empty" {
				xaSetup(t)
				root = t.TempDir()
			} else {
				root = xaRoot(t, c.kind)
			}
			fsys := rootfs.New(root)
			arch := c.arch
			if a, _, err := rootfs.DetectArch(fsys); err == nil {
				arch = a
			} else if c.kind != "empty" {
				t.Errorf("DetectArch: %v", err)
			}
			libc, ev := rootfs.DetectLibc(fsys, arch)
			if arch != c.arch || string(libc) != c.libc || !strings.Contains(ev, c.evidence) {
				t.Errorf("detected %s/%s (%s), want %s/%s with %q", arch, libc, ev, c.arch, c.libc, c.evidence)
			}
			r := xaRun(t, 0, "install", "--root", root, "--mirrors", "file:///nonexistent", "--dry-run")
			xaContains(t, "install --dry-run", r.stderr, "target detected arch="+c.arch+" ", " libc="+c.libc+" ", c.evidence)
			if got := xaEntries(t, root); c.kind == "empty" && len(got) > 0 {
				t.Errorf("--dry-run wrote %v", got)
			}
		})
	}
}

// xaEntries lists what is in dir (for the empty root, which must stay empty).
func xaEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range es {
		n = append(n, e.Name())
	}
	return n
}
