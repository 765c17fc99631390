//go:build e2e

// Package e2e is the real end-to-end suite: the static slurm-installer binary
// installs a SLURM client bundle built from Debian's slurm-client package, served
// by real nginx mirrors, into real root file systems (glibc, Alpine-like musl,
// musl with gcompat), and the installed commands are run with chroot(8) — also
// against a live one-node cluster (munge, slurmctld, slurmd).
//
// Run it with `make e2e` (as root). See e2e/testdata/README.md for the scripts.
package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// throwawayConf is where the tests put design §8's minimal slurm.conf inside a
// root that has no site config: outside /etc/slurm, passed as SLURM_CONF.
const throwawayConf = "/tmp/e2e-slurm.conf"

// sinfoVersion runs `/usr/local/bin/sinfo --version` in root the way a backend
// execs it (no shell, no PATH) and checks it prints the bundle's version. When
// the root has no /etc/slurm/slurm.conf, SLURM_CONF points at a throwaway
// minimal conf (every SLURM command reads slurm.conf before its flags).
func sinfoVersion(t *testing.T, root string) string {
	t.Helper()
	line := chrootSinfoVersion(t, root)
	checkVersionLine(t, line)
	t.Logf("chroot %s /usr/local/bin/sinfo --version  =>  %q", root, line)
	return line
}

// chrootSinfoVersion runs `chroot ROOT /usr/local/bin/sinfo --version`,
// with the throwaway conf when the root has no site conf, wants exit 0 and
// returns the line it printed.
func chrootSinfoVersion(t *testing.T, root string) string {
	t.Helper()
	var env []string
	if _, err := os.Stat(filepath.Join(root, "etc/slurm/slurm.conf")); err != nil {
		writeFile(t, root, throwawayConf, suite.verifyCfg)
		env = []string{"SLURM_CONF=" + throwawayConf}
	}
	r := inRoot(t, root, env, "/usr/local/bin/sinfo", "--version")
	wantExit(t, "chroot ROOT /usr/local/bin/sinfo --version", r, 0)
	return strings.TrimSpace(r.stdout)
}

// sinfoLogin runs `sinfo --version` through a login shell: /etc/profile sources
// /etc/profile.d/slurm.sh, which must put the bin dir on PATH.
func sinfoLogin(t *testing.T, root string) {
	t.Helper()
	env := []string{"PATH=/usr/bin:/bin", "HOME=/root"}
	if _, err := os.Stat(filepath.Join(root, "etc/slurm/slurm.conf")); err != nil {
		writeFile(t, root, throwawayConf, suite.verifyCfg)
		env = append(env, "SLURM_CONF="+throwawayConf)
	}
	r := inRoot(t, root, env, "/bin/sh", "-l", "-c", "command -v sinfo; sinfo --version")
	wantExit(t, "chroot ROOT /bin/sh -l -c 'sinfo --version'", r, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || lines[0] != "/usr/local/bin/sinfo" {
		t.Fatalf("login shell: want sinfo found at /usr/local/bin/sinfo, then its version; got %s", r)
	}
	checkVersionLine(t, lines[1])
}

func checkVersionLine(t *testing.T, line string) {
	t.Helper()
	re := regexp.MustCompile(`^slurm(-wlm)? ` + regexp.QuoteMeta(suite.version) + `$`)
	if !re.MatchString(line) {
		t.Fatalf("sinfo --version printed %q, want `slurm-wlm %s` (the bundle's version)", line, suite.version)
	}
}

// checkReal asserts what a real install leaves (design §5) and that status and
// verify agree.
func checkReal(t *testing.T, root, libc, layout, mirror string) receipt {
	t.Helper()
	rc := readReceipt(t, root)
	if rc.Mode != "real" || rc.Version != suite.version || rc.Arch != suite.arch || rc.Libc != libc {
		t.Errorf("receipt: mode %q version %q arch %q libc %q; want real %s %s %s", rc.Mode, rc.Version, rc.Arch, rc.Libc, suite.version, suite.arch, libc)
	}
	if rc.Layout != layout {
		t.Errorf("receipt layout %q, want %q", rc.Layout, layout)
	}
	if strings.TrimSuffix(rc.Mirror, "/") != strings.TrimSuffix(mirror, "/") || !strings.HasPrefix(rc.Source, strings.TrimSuffix(mirror, "/")+"/") {
		t.Errorf("receipt mirror %q source %q, want both from mirror %s", rc.Mirror, rc.Source, mirror)
	}
	if len(rc.Files) == 0 {
		t.Errorf("receipt lists no files")
	}
	for _, cmd := range strings.Fields(suite.bundle["BUNDLE_COMMANDS"]) {
		link := filepath.Join(root, "usr/local/bin", cmd)
		if target, err := os.Readlink(link); err != nil {
			t.Errorf("%s is not a link: %v", link, err)
		} else if target != "/usr/local/slurm/bin/"+cmd && target != "../slurm/bin/"+cmd {
			t.Errorf("/usr/local/bin/%s -> %s, want -> /usr/local/slurm/bin/%s", cmd, target, cmd)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "usr/local/slurm/VERSION")); err != nil || strings.TrimSpace(string(b)) != suite.version {
		t.Errorf("/usr/local/slurm/VERSION: %q, %v", b, err)
	}
	prof, err := os.ReadFile(filepath.Join(root, "etc/profile.d/slurm.sh"))
	if err != nil {
		t.Errorf("profile.d: %v", err)
	} else if !strings.Contains(string(prof), "SLURM_HOME=/usr/local/slurm") || strings.Contains(string(prof), "SLURM_DEMO_MODE=1") {
		t.Errorf("/etc/profile.d/slurm.sh of a real install:\n%s", prof)
	}
	if libc == "glibc" {
		b, err := os.ReadFile(filepath.Join(root, "etc/ld.so.conf.d/slurm.conf"))
		if err != nil || !strings.Contains(string(b), "/usr/local/slurm/lib") {
			t.Errorf("/etc/ld.so.conf.d/slurm.conf: %q, %v", b, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/slurm")); err != nil || !fi.IsDir() {
		t.Errorf("/etc/slurm not created: %v", err)
	}

	st := statusJSON(t, root, 0)
	if st.Demo || st.Mode != "real" || st.Version != suite.version {
		t.Errorf("status --json: demo %v mode %q version %q; want demo false, real, %s", st.Demo, st.Mode, st.Version, suite.version)
	}
	installer(t, 0, "--root", root, "verify")
	return rc
}

// checkOnlyAllowed asserts that install added nothing outside design §5's list.
func checkOnlyAllowed(t *testing.T, before, after map[string]bool) {
	t.Helper()
	allowed := []string{
		"/usr/local/slurm", "/usr/local/.slurm", "/usr/local/bin/",
		"/etc/ld.so.conf.d/slurm.conf", "/etc/ld.so.cache", "/var/cache/ldconfig",
		"/etc/ld-musl-", "/etc/profile.d", "/etc/slurm", "/var/lib/slurm-installer",
		throwawayConf,
	}
	for _, p := range newPaths(before, after) {
		ok := false
		for _, a := range allowed {
			if strings.HasPrefix(p, a) || strings.HasPrefix(a, p+"/") {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("install left %s in the root (design §5: nothing else)", p)
		}
	}
}

// TestTarballLatest: a Debian-like glibc root, the whole AppHub, --slurm-version latest.
func TestTarballLatest(t *testing.T) {
	root := newRoot(t, "glibc")
	before := snapshot(t, root)
	installer(t, 0, "--root", root, "--mirrors", suite.full, "--slurm-version", "latest")
	checkOnlyAllowed(t, before, snapshot(t, root))
	if _, err := os.Stat(filepath.Join(root, "etc/slurm/slurm.conf")); err == nil {
		t.Errorf("install put a slurm.conf into /etc/slurm (the bundle carries none; the throwaway conf must stay outside)")
	}
	sinfoVersion(t, root)
	sinfoLogin(t, root)
	rc := checkReal(t, root, "glibc", "tarball", suite.full)
	if !strings.HasSuffix(rc.Source, ".tar.gz") || rc.SHA256 != suite.bundle["BUNDLE_TARBALL_SHA256"] {
		t.Errorf("receipt source %s sha256 %s; want the tarball with sha256 %s", rc.Source, rc.SHA256, suite.bundle["BUNDLE_TARBALL_SHA256"])
	}

	// Running the same command again is a no-op.
	again := installer(t, 0, "--root", root, "--mirrors", suite.full)
	if !strings.Contains(again.stderr, "nothing to do") {
		t.Errorf("second install of the same version should say it has nothing to do:\n%s", again)
	}

	// Uninstall removes what the receipt lists.
	installer(t, 0, "--root", root, "uninstall")
	for _, p := range []string{"usr/local/bin/sinfo", "usr/local/slurm", "etc/ld.so.conf.d/slurm.conf", "etc/profile.d/slurm.sh"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("uninstall left /%s", p)
		}
	}
	statusJSON(t, root, 3)
}

// TestTreeLayout: a mirror that serves only pkgs/slurm-binaries/<arch>/ (nginx
// autoindex, HTML and JSON), so neither index nor tarball exist. The root has a
// site slurm.conf (as an operator would mount it), which must be left alone.
func TestTreeLayout(t *testing.T) {
	need(t)
	for _, tc := range []struct{ name, mirror string }{{"html", suite.tree}, {"json", suite.treeJSON}} {
		t.Run(tc.name, func(t *testing.T) {
			checkListing(t, tc.mirror+"pkgs/slurm-binaries/"+suite.arch+"/", tc.name)
			for _, absent := range []string{"pkgs/slurm/index.json", "pkgs/slurm-apk/slurm-client-latest-" + suite.arch + "-alpine.tar.gz"} {
				if code := httpStatus(t, tc.mirror+absent); code != http.StatusNotFound {
					t.Fatalf("the tree-only mirror answers %d for %s; want 404", code, absent)
				}
			}
			root := newRoot(t, "glibc")
			site := append([]byte("# site config (mounted by the operator)\n"), suite.verifyCfg...)
			writeFile(t, root, "etc/slurm/slurm.conf", site)
			before := snapshot(t, root)
			installer(t, 0, "--root", root, "--mirrors", tc.mirror)
			checkOnlyAllowed(t, before, snapshot(t, root))
			if b, _ := os.ReadFile(filepath.Join(root, "etc/slurm/slurm.conf")); string(b) != string(site) {
				t.Errorf("the site's /etc/slurm/slurm.conf was changed:\n%s", b)
			}
			sinfoVersion(t, root) // with the site conf, no SLURM_CONF
			sinfoLogin(t, root)
			rc := checkReal(t, root, "glibc", "tree", tc.mirror)
			if !strings.Contains(rc.Source, "/pkgs/slurm-binaries/") {
				t.Errorf("receipt source %s is not the tree", rc.Source)
			}
		})
	}
}

// checkListing asserts that nginx lists dir in the autoindex format the test
// means to exercise (html or json).
func checkListing(t *testing.T, url, format string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	isJSON := strings.HasPrefix(strings.TrimSpace(string(body)), "[")
	if (format == "json") != isJSON || !strings.Contains(string(body), "VERSION") {
		t.Fatalf("GET %s is not a %s autoindex listing of the tree:\n%.300s", url, format, body)
	}
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMirrorFailover: the first mirror has nothing listening; the install comes
// from the second at once (a refused connection is a fast failure, §4).
func TestMirrorFailover(t *testing.T) {
	root := newRoot(t, "glibc")
	dead := "http://127.0.0.1:" + deadPort(t) + "/"
	r := installer(t, 0, "--root", root, "--mirrors", dead+","+suite.fullJSON)
	rc := checkReal(t, root, "glibc", "tarball", suite.fullJSON)
	if strings.HasPrefix(rc.Source, dead) {
		t.Errorf("receipt source %s is the dead mirror", rc.Source)
	}
	if r.took > 15*time.Second {
		t.Errorf("install took %s: a refused first mirror must not cost retries before the second is tried", r.took)
	}
	sinfoVersion(t, root)
}

// TestVersionNotOnFirstMirror: --slurm-version V where the first mirror has only
// a tree layout of another version (the tree's path carries no version) and the
// second has V. The first mirror does not have V, so the install must come from
// the second (§4: resolution order is per mirror; a mirror without V is a miss).
func TestVersionNotOnFirstMirror(t *testing.T) {
	need(t)
	other := filepath.Join(t.TempDir(), "other")
	tree := filepath.Join(other, "pkgs", "slurm-binaries", suite.arch)
	if err := os.MkdirAll(filepath.Dir(tree), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", suite.bundle["BUNDLE_TREE"], tree).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	writeFile(t, tree, "VERSION", []byte("0.0.1\n"))
	sums := exec.Command("sh", "-c", `find . \( -type f -o -type l \) ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum > SHA256SUMS`)
	sums.Dir = tree
	if out, err := sums.CombinedOutput(); err != nil {
		t.Fatalf("SHA256SUMS: %v\n%s", err, out)
	}
	first := serve(t, "other-version", other, "html")
	root := newRoot(t, "glibc")
	installer(t, 0, "--root", root, "--mirrors", first+","+suite.full, "--slurm-version", suite.version, "--fallback", "fail")
	checkReal(t, root, "glibc", "tarball", suite.full)
}

// TestMuslRoot: the glibc-built bundle in an Alpine-like root cannot run. The
// default policy records demo mode and exits 0; --fallback fail exits 8; with
// glibc added (gcompat) the same command installs and sinfo runs.
func TestMuslRoot(t *testing.T) {
	root := newRoot(t, "musl")
	r := installer(t, 0, "--root", root, "--mirrors", suite.full)
	st := statusJSON(t, root, 3)
	if !st.Demo || st.Mode != "demo" {
		t.Errorf("status --json: demo %v mode %q; want demo true", st.Demo, st.Mode)
	}
	reason := strings.ToLower(st.Reason)
	if !strings.Contains(reason, "glibc") && !strings.Contains(reason, "gcompat") && !strings.Contains(reason, "loader") {
		t.Errorf("demo reason does not say why (glibc / gcompat / loader): %q", st.Reason)
	}
	t.Logf("demo reason: %s", st.Reason)
	installer(t, 3, "--root", root, "verify")
	if b, err := os.ReadFile(filepath.Join(root, "etc/profile.d/slurm.sh")); err != nil || !strings.Contains(string(b), "SLURM_DEMO_MODE=1") {
		t.Errorf("demo mode: /etc/profile.d/slurm.sh should export SLURM_DEMO_MODE=1: %q %v", b, err)
	}
	for _, p := range []string{"usr/local/bin/sinfo", "usr/local/slurm/bin/sinfo"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("demo mode left /%s behind (nothing half-done)", p)
		}
	}

	strict := []string{"--root", root, "--mirrors", suite.full, "--fallback", "fail"}
	r = installer(t, 8, strict...)
	if !strings.Contains(strings.ToLower(r.stderr), "gcompat") {
		t.Errorf("the failure should tell the operator about gcompat:\n%s", r.stderr)
	}

	if _, err := script(context.Background(), "mkroot.sh", "gcompat", root, suite.build); err != nil {
		t.Fatal(err)
	}
	r = installer(t, 0, strict...)
	sinfoVersion(t, root)
	sinfoLogin(t, root)
	checkReal(t, root, "musl", "tarball", suite.full)
}

// TestLiveCluster: a real one-node cluster; the client installed in a glibc root
// lists its node, `verify --cluster` passes, and fails (8) once slurmctld is down.
func TestLiveCluster(t *testing.T) {
	root := newRoot(t, "glibc")
	installer(t, 0, "--root", root, "--mirrors", suite.full)

	st := filepath.Join(suite.state, "cluster")
	stop := addTeardown("cluster "+st, func() { _, _ = script(context.Background(), "cluster.sh", "stop", st) })
	t.Cleanup(stop)
	t0 := time.Now()
	if _, err := script(context.Background(), "cluster.sh", "start", st); err != nil {
		t.Skipf("the live cluster could not start: %v", err)
	}
	t.Logf("cluster up in %s", time.Since(t0).Round(time.Millisecond))
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

	r := inRoot(t, root, nil, "/usr/local/bin/sinfo")
	wantExit(t, "chroot ROOT /usr/local/bin/sinfo", r, 0)
	t.Logf("chroot %s /usr/local/bin/sinfo:\n%s", root, indent(r.stdout))
	if !strings.Contains(r.stdout, node) || !strings.Contains(r.stdout, "debug") {
		t.Fatalf("sinfo in the root does not list node %s in partition debug:\n%s", node, r)
	}
	sinfoVersion(t, root)

	v := installer(t, 0, "--root", root, "verify", "--cluster")
	if !strings.Contains(v.stdout, node) {
		t.Errorf("verify --cluster should show the node it saw:\n%s", v)
	}

	// slurmctld down: the client cannot reach the controller.
	killPidFile(t, filepath.Join(st, "slurmctld.pid"))
	v = installer(t, 8, "--root", root, "verify", "--cluster")
	out := strings.ToLower(v.stdout + v.stderr)
	if !strings.Contains(out, "controller") && !strings.Contains(out, "slurmctld") {
		t.Errorf("verify --cluster with slurmctld down should say the controller is unreachable:\n%s", v)
	}
}

// killPidFile stops the daemon whose pid is in file and waits until it is gone.
func killPidFile(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	for i := 0; i < 100; i++ {
		if !alive(pid) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// TestDistroless: a distroless-like glibc root (loader and libc, no shell, no
// ldconfig, no /etc/ld.so.conf). The installer builds the root's loader cache
// with this host's `ldconfig -r`, so a direct exec of /usr/local/bin/sinfo
// (no shell, no LD_LIBRARY_PATH) works there.
func TestDistroless(t *testing.T) {
	root := newRoot(t, "distroless")
	r := installer(t, 0, "--root", root, "--mirrors", suite.full, "--fallback", "fail")
	if !strings.Contains(r.stderr, "ldconfig -r") {
		t.Errorf("the log should say the loader cache was built with the host's ldconfig -r:\n%s", r.stderr)
	}
	st := statusJSON(t, root, 0)
	if st.Demo || st.Libc != "glibc" {
		t.Errorf("status --json: demo %v libc %q; want demo false, glibc", st.Demo, st.Libc)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/ld.so.cache")); err != nil {
		t.Errorf("no loader cache in the root: %v", err)
	}
	conf := filepath.Join(root, "var/lib/slurm-installer/e2e-verify.conf")
	if err := os.WriteFile(conf, []byte("ClusterName=e2e\nSlurmctldHost=localhost\nPluginDir=/usr/local/slurm/lib/slurm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("chroot", root, "/usr/local/bin/sinfo", "--version")
	cmd.Env = []string{"SLURM_CONF=/var/lib/slurm-installer/e2e-verify.conf"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), suite.version) {
		t.Fatalf("sinfo --version in the distroless root: %v: %s", err, out)
	}
	t.Logf("distroless: %s", strings.TrimSpace(string(out)))
}
