//go:build e2e

package e2e

// Issue 14 item 5 on real binaries: two real SLURM versions — Debian 12's
// slurm-client (22.05.8, glibc 2.36) and Debian 13's (24.11.x, whose ELFs
// need up to GLIBC_2.39) — packed by `slurm-installer pack` into ONE AppHub
// index, against a Debian 12 root (scripts/mkroot.sh glibc), a Debian 13 root
// (glibc-trixie, from trixie's libc6), the Alpine-like musl root and the live
// 22.05 cluster. The trixie packages come through a private apt (lib.sh
// apt_suite) and are cached under $E2E_BUILD like the 22.05 ones.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slurm-installer/internal/testkit/registrytest"
	"strings"
	"sync"
	"testing"
	"time"
)

// vv is what the tests of this file share, made once.
var vv struct {
	once    sync.Once
	err     error
	took    time.Duration
	trixie  map[string]string // bundle-x86_64.env of the 24.11 bundle
	newer   string            // its version, 24.11.x
	r13     string            // a Debian 13 root used as the --sysroot of the self-contained pack
	both    string            // AppHub: 22.05.8 and 24.11.x in one index
	only    string            // AppHub: 24.11.x alone, in an index
	tarball string            // AppHub of build-bundle.sh: 24.11.x in the tarball layout only
	sc      string            // AppHub: 24.11.x packed --self-contained from the Debian 13 sysroot
}

// scriptEnv is script with extra environment (SUITE=trixie).
func scriptEnv(extra []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(suite.scripts, name)}, args...)...)
	cmd.Env = append(append(cleanEnv(), "ARCH="+suite.debArch), extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s scripts/%s %s: %v\n%s", strings.Join(extra, " "), name, strings.Join(args, " "), err, tail(errb.String(), 30))
	}
	return out.String(), nil
}

func versionsSetup(t *testing.T) {
	t.Helper()
	need(t)
	if suite.arch != "x86_64" {
		t.Fatalf("the two-version cases use Debian's amd64 packages; this host is %s", suite.arch)
	}
	vv.once.Do(func() {
		t0 := time.Now()
		defer func() { vv.took = time.Since(t0) }()
		dir := filepath.Join(suite.build, "bundle-trixie")
		if _, err := scriptEnv([]string{"SUITE=trixie"}, "build-bundle.sh", dir); err != nil {
			vv.err = fmt.Errorf("building the Debian 13 bundle: %w", err)
			return
		}
		if vv.trixie, vv.err = readEnvFile(filepath.Join(dir, "bundle-x86_64.env")); vv.err != nil {
			return
		}
		vv.newer, vv.tarball = vv.trixie["BUNDLE_VERSION"], vv.trixie["BUNDLE_APPHUB"]
		if !strings.HasPrefix(vv.newer, "24.11.") {
			vv.err = fmt.Errorf("Debian 13's slurm-client is %q, not 24.11.x", vv.newer)
			return
		}
		// The packs are kept under $E2E_BUILD while the installer binary and
		// both bundles are unchanged (a stamp of their hashes).
		packs := filepath.Join(suite.build, "versions-apphub")
		vv.both = filepath.Join(packs, "two-versions")
		vv.only = filepath.Join(packs, "24.11-only")
		vv.sc = filepath.Join(packs, "24.11-sc")
		key, err := packKey(filepath.Join(suite.build, "bundle", ".stamp-"+suite.arch), filepath.Join(dir, ".stamp-"+suite.arch))
		if err != nil {
			vv.err = err
			return
		}
		stamp := filepath.Join(packs, ".stamp")
		if b, err := os.ReadFile(stamp); err == nil && string(b) == key {
			fmt.Fprintf(os.Stderr, "e2e: the two-version packs in %s are up to date\n", packs)
			return
		}
		_ = os.RemoveAll(packs)
		vv.r13 = filepath.Join(suite.state, "sysroot-trixie")
		_ = os.RemoveAll(vv.r13)
		if _, err := script(context.Background(), "mkroot.sh", "glibc-trixie", vv.r13, suite.build); err != nil {
			vv.err = err
			return
		}
		old := filepath.Join(suite.bundle["BUNDLE_PAYLOAD"], "usr/local/slurm")
		newp := filepath.Join(vv.trixie["BUNDLE_PAYLOAD"], "usr/local/slurm")
		for _, p := range [][]string{
			{"--from", old, "--slurm-version", suite.version, "--out", vv.both},
			{"--from", newp, "--slurm-version", vv.newer, "--out", vv.both}, // the index's latest
			{"--from", newp, "--slurm-version", vv.newer, "--out", vv.only},
			{"--from", newp, "--slurm-version", vv.newer, "--out", vv.sc, "--self-contained", "--sysroot", vv.r13},
		} {
			args := append([]string{"pack", "--arch", suite.arch}, p...)
			if r := installerNoT(args...); r.code != 0 {
				vv.err = &packError{args: args, r: r}
				return
			}
		}
		vv.err = os.WriteFile(stamp, []byte(key), 0o644)
	})
	if vv.err != nil {
		t.Fatal(vv.err)
	}
}

// packKey is the hash of the installer binary and of the bundles' stamps,
// and the week: the indexes pack writes expire after 30 days.
func packKey(stamps ...string) (string, error) {
	h := sha256.New()
	y, w := time.Now().ISOWeek()
	fmt.Fprintf(h, "%d-%d\n", y, w)
	f, err := os.Open(suite.bin)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	for _, p := range stamps {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sinfoIs runs `chroot ROOT /usr/local/bin/sinfo --version` (with design
// §8's throwaway conf when the root has no site conf) and wants `slurm-wlm V`.
func sinfoIs(t *testing.T, root, version string) string {
	t.Helper()
	line := chrootSinfoVersion(t, root)
	if line != "slurm-wlm "+version {
		t.Fatalf("chroot %s /usr/local/bin/sinfo --version printed %q, want %q", root, line, "slurm-wlm "+version)
	}
	t.Logf("chroot %s /usr/local/bin/sinfo --version  =>  %q", root, line)
	return line
}

// logLine is the first line of log that contains every one of subs, "" when none does.
func logLine(log string, subs ...string) string {
	for _, l := range strings.Split(log, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return l
		}
	}
	return ""
}

// TestVersionsNewestThatRuns: one index with 22.05.8 and 24.11.x. `latest`
// gives the Debian 13 root 24.11.x; the Debian 12 root (glibc 2.36) gets
// 22.05.8, and the log says 24.11.x was skipped for its glibc need.
func TestVersionsNewestThatRuns(t *testing.T) {
	versionsSetup(t)
	mirror := serve(t, "two-versions", vv.both, "html")

	t.Run("debian13", func(t *testing.T) {
		root := newRoot(t, "glibc-trixie")
		installer(t, 0, "--root", root, "--mirrors", mirror, "--slurm-version", "latest", "--fallback", "fail")
		sinfoIs(t, root, vv.newer)
		if rc := readReceipt(t, root); rc.Version != vv.newer || rc.Layout != "index" {
			t.Errorf("receipt version %s layout %s, want %s from the index", rc.Version, rc.Layout, vv.newer)
		}
	})
	t.Run("debian12", func(t *testing.T) {
		root := newRoot(t, "glibc")
		r := installer(t, 0, "--root", root, "--mirrors", mirror, "--slurm-version", "latest", "--fallback", "fail")
		sinfoIs(t, root, suite.version)
		if rc := readReceipt(t, root); rc.Version != suite.version {
			t.Errorf("receipt version %s, want %s", rc.Version, suite.version)
		}
		// such as `skipping 24.11.5: needs glibc 2.39, the root has 2.36 ...`
		skip := ""
		for _, l := range strings.Split(r.stderr, "\n") {
			if logLine(strings.ToLower(l), "skip", vv.newer, "glibc", "2.36") != "" {
				skip = l
				break
			}
		}
		if skip == "" {
			t.Errorf("the log has no line saying %s was skipped for its glibc need (the root has 2.36):\n%s", vv.newer, r.stderr)
		} else {
			t.Logf("skip line: %s", skip)
		}
	})
}

// TestVersionsRegistryNewestThatRuns: the same two real versions pushed to
// a real registry. A registry bundle is judged by its config (the glibc
// need pack records) before its layer is downloaded, as the index's are: the
// Debian 12 root gets 22.05.8 with the skip logged, Debian 13 gets 24.11.x.
// (Before, latest-x86_64 was downloaded and refused by preflight: exit 8.)
func TestVersionsRegistryNewestThatRuns(t *testing.T) {
	versionsSetup(t)
	reg := registrytest.Start(t, nil)
	mirror := reg.Ref("hpc/slurm-client")
	old := filepath.Join(suite.bundle["BUNDLE_PAYLOAD"], "usr/local/slurm")
	newp := filepath.Join(vv.trixie["BUNDLE_PAYLOAD"], "usr/local/slurm")
	for _, p := range [][]string{{old, suite.version}, {newp, vv.newer}} { // the newer one is latest-x86_64
		ociRun(t, nil, 0, "pack", "--arch", suite.arch, "--from", p[0], "--slurm-version", p[1], "--out", mirror)
	}
	root := newRoot(t, "glibc")
	r := ociRun(t, nil, 0, "--root", root, "--mirrors", mirror, "--slurm-version", "latest", "--fallback", "fail")
	sinfoIs(t, root, suite.version)
	if rc := readReceipt(t, root); rc.Version != suite.version || rc.Layout != "oci" {
		t.Errorf("receipt version %s layout %s, want %s from the registry", rc.Version, rc.Layout, suite.version)
	}
	if logLine(strings.ToLower(r.stderr), "skipping "+vv.newer, "glibc 2.39", "2.36") == "" {
		t.Errorf("the log has no line saying %s was skipped for its glibc need:\n%s", vv.newer, r.stderr)
	}
	root13 := newRoot(t, "glibc-trixie")
	r = ociRun(t, nil, 0, "--root", root13, "--mirrors", mirror, "--slurm-version", "latest", "--fallback", "fail")
	sinfoIs(t, root13, vv.newer)
}

// TestVersionsGlibcRefusal: only 24.11.x offered to the Debian 12 root, from
// an index and from a tarball-only mirror: refused before commit (exit 8
// under --fallback fail), naming the glibc needed and the glibc present.
func TestVersionsGlibcRefusal(t *testing.T) {
	versionsSetup(t)
	// the preflight names GLIBC_2.38, GLIBC_2.39; the index selection (h14s) "needs glibc 2.39"
	needRE := regexp.MustCompile(`(GLIBC_|glibc )2\.(3[89]|4\d)`)
	for _, c := range []struct{ name, dir string }{{"index", vv.only}, {"tarball", vv.tarball}} {
		t.Run(c.name, func(t *testing.T) {
			mirror := serve(t, "only-24.11-"+c.name, c.dir, "html")
			root := newRoot(t, "glibc")
			before := snapshot(t, root)
			r := installer(t, 8, "--root", root, "--mirrors", mirror, "--slurm-version", vv.newer, "--fallback", "fail")
			line := logLine(r.stderr, "exit=8")
			if !needRE.MatchString(line) || !strings.Contains(line, "2.36") {
				t.Errorf("the refusal should name the GLIBC_ version needed and the root's glibc 2.36:\n%s", r.stderr)
			}
			t.Logf("refusal (%s mirror), verbatim:\n%s", c.name, line)
			for _, p := range newPaths(before, snapshot(t, root)) {
				if !strings.HasPrefix(p, "/var/lib/slurm-installer") { // its lock serialises runs (design §5)
					t.Errorf("the refused install left %s in the root", p)
				}
			}
		})
	}
}

// TestVersionsSelfContained2411: 24.11.x packed --self-contained from the
// Debian 13 sysroot carries glibc 2.41, so it runs in the Alpine-like musl
// root (no glibc at all) and in the Debian 12 root (glibc 2.36).
func TestVersionsSelfContained2411(t *testing.T) {
	versionsSetup(t)
	mirror := serve(t, "sc-24.11", vv.sc, "html")
	for _, kind := range []string{"musl", "glibc"} {
		t.Run(kind, func(t *testing.T) {
			root := newRoot(t, kind)
			r := installer(t, 0, "--root", root, "--mirrors", mirror, "--slurm-version", vv.newer, "--fallback", "fail")
			if !strings.Contains(r.stderr, `sinfo --version ran in the target sinfo="slurm-wlm `+vv.newer+`"`) {
				t.Errorf("the install's run check did not run sinfo %s:\n%s", vv.newer, r.stderr)
			}
			sinfoIs(t, root, vv.newer)
			if rc := rawReceipt(t, root); rc["self_contained"] != true {
				t.Errorf("receipt self_contained = %v, want true", rc["self_contained"])
			}
		})
	}
}

// TestVersionsClusterProtocolMismatch: the 24.11 client in the Debian 13 root
// against the live 22.05 controller is diagnosed as SLURM's protocol window,
// not as reachability or munge.
func TestVersionsClusterProtocolMismatch(t *testing.T) {
	versionsSetup(t)
	mirror := serve(t, "only-24.11-cluster", vv.only, "html")
	root := newRoot(t, "glibc-trixie")
	installer(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")

	st := filepath.Join(suite.state, "cluster")
	stop := addTeardown("cluster "+st, func() { _, _ = script(context.Background(), "cluster.sh", "stop", st) })
	t.Cleanup(stop)
	if _, err := script(context.Background(), "cluster.sh", "start", st); err != nil {
		t.Fatalf("the live cluster could not start: %v", err)
	}
	unexpose := addTeardown("unexpose "+root, func() { _, _ = script(context.Background(), "cluster.sh", "unexpose", root) })
	t.Cleanup(unexpose)
	if _, err := script(context.Background(), "cluster.sh", "expose", st, root); err != nil {
		t.Fatal(err)
	}
	v := installer(t, 8, "--root", root, "verify", "--cluster")
	out := v.stdout + v.stderr
	for _, want := range []string{
		"do not speak the same SLURM protocol",
		"Zero Bytes were transmitted or received",
		vv.newer,
		"22.05",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --cluster should say %q:\n%s", want, out)
		}
	}
	if l := logLine(out, "do not speak the same SLURM protocol"); l != "" {
		t.Logf("mismatch, verbatim:\n%s", l)
	}
	if h := logLine(out, "hint="); strings.Contains(strings.ToLower(h), "munged must run") {
		t.Errorf("the hint blames reachability/munge for a protocol mismatch: %s", h)
	}
}
