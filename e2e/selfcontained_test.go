//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Self-contained bundles (issue 9): `pack --self-contained` turns Debian's
// glibc-built slurm-client into a bundle that carries glibc's loader and
// libraries, so it runs in the Alpine-like musl root with no gcompat and in a
// distroless root with no shell, with no linker configuration at all.

// scPacks is the real payload packed twice by `slurm-installer pack`, plain and
// self-contained, into AppHub directories under the run's state dir.
var scPacks struct {
	once            sync.Once
	err             error
	plain, sc       string // AppHub document roots
	plainTGZ, scTGZ string // the versioned tarballs
	plainDir, scDir string // the payload as packed (plain: the input; sc: unpacked from the tarball)
	took            time.Duration
}

func packBoth(t *testing.T) {
	t.Helper()
	need(t)
	scPacks.once.Do(func() {
		t0 := time.Now()
		from := filepath.Join(suite.bundle["BUNDLE_PAYLOAD"], "usr/local/slurm")
		name := "slurm-client-" + suite.version + "-" + suite.arch + "-alpine.tar.gz"
		for _, p := range []struct {
			dir  *string
			tgz  *string
			sub  string
			args []string
		}{
			{&scPacks.plain, &scPacks.plainTGZ, "apphub-plain", nil},
			{&scPacks.sc, &scPacks.scTGZ, "apphub-sc", []string{"--self-contained"}},
		} {
			*p.dir = filepath.Join(suite.state, p.sub)
			_ = os.RemoveAll(*p.dir)
			args := append([]string{"pack", "--from", from, "--slurm-version", suite.version, "--arch", suite.arch, "--out", *p.dir}, p.args...)
			r := installerNoT(args...)
			if r.code != 0 {
				scPacks.err = &packError{args: args, r: r}
				return
			}
			*p.tgz = filepath.Join(*p.dir, "pkgs/slurm-apk", name)
		}
		scPacks.plainDir = from
		scPacks.took = time.Since(t0)
	})
	if scPacks.err != nil {
		t.Fatal(scPacks.err)
	}
}

type packError struct {
	args []string
	r    run
}

func (e *packError) Error() string {
	return "slurm-installer " + strings.Join(e.args, " ") + ": " + e.r.String()
}

var execCommand = exec.CommandContext

// installerNoT runs slurm-installer outside a test (for the shared packs).
func installerNoT(args ...string) run {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errb strings.Builder
	cmd := execCommand(ctx, suite.bin, args...)
	cmd.Env = append(cleanEnv(), "SLURM_INSTALLER_LOG_FORMAT=console")
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errb.String(), took: time.Since(t0)}
	if err != nil {
		r.code = -1
		if cmd.ProcessState != nil {
			r.code = cmd.ProcessState.ExitCode()
		}
		if r.stderr == "" {
			r.stderr = err.Error()
		}
	}
	return r
}

// scMirror serves the self-contained AppHub with nginx for one test.
func scMirror(t *testing.T) string {
	t.Helper()
	packBoth(t)
	return serve(t, "sc-"+strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), scPacks.sc, "html")
}

// rawReceipt reads the receipt as a map, for fields the shared struct lacks.
func rawReceipt(t *testing.T, root string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "var/lib/slurm-installer/receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkSelfContained asserts what a self-contained install leaves: the
// payload with its loader, no linker config of any kind, and status/verify
// that say so.
func checkSelfContained(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{"etc/ld.so.conf.d/slurm.conf", "etc/ld-musl-" + suite.arch + ".path"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("a self-contained install wrote /%s; it needs no linker configuration", p)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/local/slurm/lib/ld-linux-x86-64.so.2")); err != nil && suite.arch == "x86_64" {
		t.Errorf("the bundle's loader is not in the prefix: %v", err)
	}
	if rc := rawReceipt(t, root); rc["self_contained"] != true || rc["mode"] != "real" {
		t.Errorf("receipt: self_contained %v mode %v; want true, real", rc["self_contained"], rc["mode"])
	}
	r := installer(t, 0, "status", "--json", "--root", root)
	var st map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st["self_contained"] != true || st["plugin_dir"] != "/usr/local/slurm/lib/slurm" {
		t.Errorf("status --json: self_contained %v plugin_dir %v; want true, /usr/local/slurm/lib/slurm", st["self_contained"], st["plugin_dir"])
	}
	r = installer(t, 0, "status", "--root", root)
	if !strings.Contains(r.stdout, "PluginDir the site slurm.conf must name: /usr/local/slurm/lib/slurm") {
		t.Errorf("status should name the PluginDir the site config must set:\n%s", r.stdout)
	}
	v := installer(t, 0, "verify", "--root", root)
	for _, want := range []string{"PASS  loader           present: /usr/local/slurm/lib/ld-linux", "PASS  plugindir", "PASS  run              sinfo --version printed slurm-wlm " + suite.version} {
		if !strings.Contains(v.stdout, want) {
			t.Errorf("verify should print %q:\n%s", want, v.stdout)
		}
	}
}

// TestSelfContainedMusl: the Alpine-like root (musl only: no glibc, no
// gcompat) installs the self-contained bundle; sinfo runs with no linker
// config; another --prefix is refused with exit 2 naming both.
func TestSelfContainedMusl(t *testing.T) {
	mirror := scMirror(t)
	root := newRoot(t, "musl")
	for _, p := range []string{"lib64", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "etc/ld.so.conf"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Fatalf("the musl root has /%s: it must have no glibc", p)
		}
	}

	r := installer(t, 2, "--root", root, "--mirrors", mirror, "--fallback", "fail", "--prefix", "/opt/slurm")
	if !strings.Contains(r.stderr, "/opt/slurm") || !strings.Contains(r.stderr, "/usr/local/slurm") {
		t.Errorf("the refusal should name both prefixes:\n%s", r.stderr)
	}
	for _, p := range []string{"opt/slurm", "var/lib/slurm-installer/receipt.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("the refused install left /%s", p)
		}
	}

	r = installer(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")
	if strings.Contains(r.stderr, "ldconfig") {
		t.Errorf("a self-contained install should not run or mention ldconfig:\n%s", r.stderr)
	}
	sinfoVersion(t, root)
	sinfoLogin(t, root)
	checkSelfContained(t, root)

	// A site conf whose PluginDir is elsewhere: verify names the one it must be.
	writeFile(t, root, "etc/slurm/slurm.conf", []byte("ClusterName=x\nSlurmctldHost=localhost\nPluginDir=/usr/lib/x86_64-linux-gnu/slurm-wlm\n"))
	v := installer(t, 8, "verify", "--root", root)
	if !strings.Contains(v.stdout, "FAIL  plugindir") || !strings.Contains(v.stdout+v.stderr, "PluginDir=/usr/local/slurm/lib/slurm") {
		t.Errorf("verify should fail the plugindir check and name /usr/local/slurm/lib/slurm:\n%s", v)
	}
}

// TestSelfContainedDistroless: a root with no shell at all; verify execs
// sinfo directly.
func TestSelfContainedDistroless(t *testing.T) {
	mirror := scMirror(t)
	root := newRoot(t, "distroless")
	for _, sh := range []string{"bin/sh", "usr/bin/sh", "bin/busybox"} {
		if _, err := os.Lstat(filepath.Join(root, sh)); err == nil {
			t.Fatalf("the distroless root has /%s", sh)
		}
	}
	r := installer(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")
	if strings.Contains(r.stderr, "ldconfig") {
		t.Errorf("a self-contained install should not run ldconfig (not even the host's -r):\n%s", r.stderr)
	}
	sinfoVersion(t, root)
	checkSelfContained(t, root)
}

// TestSelfContainedLiveCluster: from inside the Alpine-like root, the
// self-contained sinfo lists the live one-node cluster; with the controller
// named `localhost` only, glibc's bundled NSS resolves it from /etc/hosts.
func TestSelfContainedLiveCluster(t *testing.T) {
	mirror := scMirror(t)
	root := newRoot(t, "musl")
	installer(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")

	st := filepath.Join(suite.state, "cluster")
	stop := addTeardown("cluster "+st, func() { _, _ = script(context.Background(), "cluster.sh", "stop", st) })
	t.Cleanup(stop)
	if _, err := script(context.Background(), "cluster.sh", "start", st); err != nil {
		t.Skipf("the live cluster could not start: %v", err)
	}
	unexpose := addTeardown("unexpose "+root, func() { _, _ = script(context.Background(), "cluster.sh", "unexpose", root) })
	t.Cleanup(unexpose)
	if _, err := script(context.Background(), "cluster.sh", "expose", st, root); err != nil {
		t.Fatal(err)
	}
	env, err := readEnvFile(filepath.Join(st, "env"))
	if err != nil {
		t.Fatal(err)
	}
	node := env["E2E_SLURM_NODE"]

	version := sinfoVersion(t, root)
	r := inRoot(t, root, nil, "/usr/local/bin/sinfo")
	wantExit(t, "chroot MUSL_ROOT /usr/local/bin/sinfo", r, 0)
	t.Logf("inside the Alpine-like root (no glibc, no gcompat):\n$ chroot %s /usr/local/bin/sinfo --version\n%s\n$ chroot %s /usr/local/bin/sinfo\n%s",
		root, version, root, strings.TrimRight(r.stdout, "\n"))
	if !strings.Contains(r.stdout, node) || !strings.Contains(r.stdout, "debug") {
		t.Fatalf("sinfo in the musl root does not list node %s in partition debug:\n%s", node, r)
	}

	// SlurmctldHost=localhost with no address: the name goes through the
	// bundled glibc's NSS (libnss_files, /etc/hosts of the musl root).
	confPath := filepath.Join(root, "etc/slurm/slurm.conf")
	conf, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(conf), "\n") {
		if strings.HasPrefix(l, "SlurmctldHost=") {
			l = "SlurmctldHost=localhost"
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(confPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	r = inRoot(t, root, nil, "/usr/local/bin/sinfo", "-h", "-o", "%N %T")
	wantExit(t, "chroot MUSL_ROOT sinfo with SlurmctldHost=localhost (resolved by the bundled NSS)", r, 0)
	if !strings.Contains(r.stdout, node) {
		t.Fatalf("sinfo with SlurmctldHost=localhost does not list %s:\n%s", node, r)
	}
	installer(t, 0, "--root", root, "verify", "--cluster")
}

// TestSelfContainedSize measures what carrying glibc costs: the same payload
// packed plain and self-contained by `slurm-installer pack`.
func TestSelfContainedSize(t *testing.T) {
	packBoth(t)
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	pg, sg := size(scPacks.plainTGZ), size(scPacks.scTGZ)
	root := t.TempDir()
	if _, err := runTar(root, scPacks.scTGZ); err != nil {
		t.Fatal(err)
	}
	pu, su := treeBytes(t, scPacks.plainDir), treeBytes(t, filepath.Join(root, "usr/local/slurm"))
	t.Logf("bundle size, plain vs self-contained (both by `slurm-installer pack`, %s for the two packs):\n"+
		"    gzipped:  %d -> %d bytes (+%d, +%.1f%%)\n    unpacked: %d -> %d bytes (+%d, +%.1f%%)",
		scPacks.took.Round(time.Millisecond), pg, sg, sg-pg, 100*float64(sg-pg)/float64(pg), pu, su, su-pu, 100*float64(su-pu)/float64(pu))
	if sg <= pg || su <= pu {
		t.Errorf("the self-contained bundle should be larger than the plain one")
	}
	if sg-pg > 8<<20 {
		t.Errorf("carrying glibc should cost a few MB gzipped, not %d bytes", sg-pg)
	}
}

// treeBytes is the apparent size of the regular files and symlinks under dir.
func treeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func runTar(dir, tgz string) ([]byte, error) {
	return execCommand(context.Background(), "tar", "-xzf", tgz, "-C", dir).CombinedOutput()
}
