//go:build e2e

package e2e

// Issue 24: `connect` wires an installed client to a live cluster at
// container start, from the controller's address and a credential mounted
// only for the run: a root with no slurm.conf and no key ends up where a
// process with an empty environment runs sinfo, squeue and scontrol against
// the cluster; each missing piece is named, in order, under exit 8.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startCluster starts the live 22.05 cluster of scripts/cluster.sh in its
// own state directory (env: e.g. CONFIGLESS=0) and stops it when the test ends.
func startCluster(t *testing.T, name string, env ...string) (st string, vars map[string]string) {
	t.Helper()
	st = filepath.Join(suite.state, name)
	stop := addTeardown("cluster "+st, func() { _, _ = script(context.Background(), "cluster.sh", "stop", st) })
	t.Cleanup(stop)
	if _, err := scriptEnv(env, "cluster.sh", "start", st); err != nil {
		t.Fatalf("the live cluster could not start: %v", err)
	}
	vars, err := readEnvFile(filepath.Join(st, "env"))
	if err != nil {
		t.Fatal(err)
	}
	return st, vars
}

// bindMount mounts src on root/rel for the rest of the test (the
// credential, mounted only for the run).
func bindMount(t *testing.T, src, root, rel string) {
	t.Helper()
	dst := filepath.Join(root, rel)
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s on %s: %v", src, dst, err)
	}
	done := addTeardown("unmount "+dst, func() {
		if err := syscall.Unmount(dst, 0); err != nil {
			_ = syscall.Unmount(dst, syscall.MNT_DETACH)
		}
	})
	t.Cleanup(done)
}

func unmount(t *testing.T, root, rel string) {
	t.Helper()
	if err := syscall.Unmount(filepath.Join(root, rel), 0); err != nil {
		t.Fatal(err)
	}
}

// failLine is the first FAIL line connect printed (the missing piece).
func failLine(r run) string {
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "FAIL") {
			return l
		}
	}
	return ""
}

// wantPiece runs connect and wants exit code and a FAIL line of check
// name holding want.
func wantPiece(t *testing.T, what string, code int, name, want string, args ...string) {
	t.Helper()
	r := installer(t, code, append([]string{"connect"}, args...)...)
	fl := failLine(r)
	t.Logf("case %-26s exit %d  %s", what, r.code, fl)
	if !strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(fl, "FAIL")), name) || !strings.Contains(fl, want) {
		t.Fatalf("connect (%s): want a FAIL line for %s with %q, got %s", what, name, want, r)
	}
}

// cleanSlurm runs a SLURM command in the root the way a backend process
// does: chroot, an empty environment, no login shell.
func cleanSlurm(t *testing.T, root string, argv ...string) run {
	t.Helper()
	r := inRoot(t, root, nil, argv...)
	t.Logf("env -i chroot ROOT %s  # exit %d\n%s%s", strings.Join(argv, " "), r.code, indent(r.stdout), indent(r.stderr))
	return r
}

// TestConnectMunge: the 22.05.8 cluster with munge and configless.
func TestConnectMunge(t *testing.T) {
	root := newRoot(t, "glibc")
	installer(t, 0, "--root", root, "--mirrors", suite.full, "--fallback", "fail")
	st, vars := startCluster(t, "cluster-connect")
	ctl := "127.0.0.1:" + vars["E2E_SLURMCTLD_PORT"]
	node := vars["E2E_SLURM_NODE"]
	for _, p := range []string{"etc/slurm/slurm.conf", "etc/munge/munge.key", "etc/slurm/slurm.key"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Fatalf("the client root must start with no %s", p)
		}
	}

	// The missing pieces, in order.
	r := installer(t, 2, "connect", "--root", root)
	t.Logf("case %-26s exit %d  %s", "no controller", r.code, firstErr(r))
	dead := "127.0.0.1:" + deadPort(t)
	wantPiece(t, "address: nothing listens", 8, "controller", "cannot reach the controller at "+dead, "--root", root, "--controller", dead)
	wantPiece(t, "no credential", 8, "configuration", "no credential", "--root", root, "--controller", ctl)

	// A munged with another key behind the socket: the controller refuses.
	other := startMunged(t, "munge-other")
	bindMount(t, other, root, "run/munge")
	wantPiece(t, "credential rejected", 8, "configuration", "rejected the credential", "--root", root, "--controller", ctl)
	unmount(t, root, "run/munge")

	// The cluster's munge socket, mounted for the run: connected.
	bindMount(t, filepath.Join(st, "munge"), root, "run/munge")
	r = installer(t, 0, "connect", "--root", root, "--controller", ctl)
	conf, err := os.ReadFile(filepath.Join(root, "etc/slurm/slurm.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PluginDir=/usr/local/slurm/lib/slurm", "AuthInfo=socket=/run/munge/munge.socket.2", "ClusterName=e2e"} {
		if !strings.Contains(string(conf), want+"\n") {
			t.Errorf("the written slurm.conf lacks %q:\n%s", want, conf)
		}
	}
	for _, p := range []string{"etc/munge/munge.key", "etc/slurm/slurm.key"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("connect wrote a secret: %s", p)
		}
	}
	s := cleanSlurm(t, root, "/usr/local/bin/sinfo")
	wantExit(t, "env -i chroot ROOT sinfo", s, 0)
	if !strings.Contains(s.stdout, node) || !strings.Contains(s.stdout, "idle") {
		t.Fatalf("sinfo from a clean environment does not list node %s idle:\n%s", node, s)
	}
	wantExit(t, "env -i chroot ROOT squeue", cleanSlurm(t, root, "/usr/local/bin/squeue"), 0)
	sc := cleanSlurm(t, root, "/usr/local/bin/scontrol", "show", "partition")
	wantExit(t, "env -i chroot ROOT scontrol show partition", sc, 0)
	if !strings.Contains(sc.stdout, "PartitionName=debug") {
		t.Errorf("scontrol show partition: %s", sc)
	}

	// Again (a restarted container): safe, and still connected.
	installer(t, 0, "connect", "--root", root, "--controller", ctl)
	var stv struct {
		Cluster *struct {
			Connected  bool      `json:"connected"`
			Controller string    `json:"controller"`
			Checked    time.Time `json:"checked"`
		} `json:"cluster"`
	}
	sj := installer(t, 0, "status", "--json", "--root", root)
	if err := json.Unmarshal([]byte(sj.stdout), &stv); err != nil || stv.Cluster == nil || !stv.Cluster.Connected || stv.Cluster.Controller != ctl || time.Since(stv.Cluster.Checked) > 10*time.Minute {
		t.Fatalf("status --json should say connected to %s, checked just now: %v\n%s", ctl, err, sj)
	}
	v := installer(t, 0, "verify", "--cluster", "--root", root)
	if !strings.Contains(v.stdout, "credential") || !strings.Contains(v.stdout, node) {
		t.Errorf("verify --cluster should run connect's checks and list the node:\n%s", v)
	}

	// The plugin directory: a site's slurm.conf whose PluginDir cannot be
	// made to exist here is named, and the site's file is kept.
	if err := os.Rename(filepath.Join(root, "etc/slurm/slurm.conf"), filepath.Join(root, "etc/slurm/ours.conf")); err != nil {
		t.Fatal(err)
	}
	site := strings.ReplaceAll(string(conf), "PluginDir=/usr/local/slurm/lib/slurm\n", "PluginDir=/opt/site/lib/slurm\n")
	writeFile(t, root, "etc/slurm/slurm.conf", []byte(site))
	wantPiece(t, "plugin directory", 8, "plugindir", "/opt/site/lib/slurm", "--root", root, "--controller", ctl)
	if b, _ := os.ReadFile(filepath.Join(root, "etc/slurm/slurm.conf")); string(b) != site {
		t.Fatal("connect changed the site's slurm.conf")
	}
	if err := os.Rename(filepath.Join(root, "etc/slurm/ours.conf"), filepath.Join(root, "etc/slurm/slurm.conf")); err != nil {
		t.Fatal(err)
	}

	// uninstall takes out what connect wrote.
	unmount(t, root, "run/munge")
	installer(t, 0, "uninstall", "--root", root)
	for _, p := range []string{"etc/slurm/slurm.conf", "usr/lib/x86_64-linux-gnu/slurm-wlm", "var/lib/slurm-installer/connect.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("uninstall left %s", p)
		}
	}
}

// TestConnectConfiglessDisabled: a controller without enable_configless is
// named as such (with the other ways to give the configuration).
func TestConnectConfiglessDisabled(t *testing.T) {
	root := newRoot(t, "glibc")
	installer(t, 0, "--root", root, "--mirrors", suite.full, "--fallback", "fail")
	st, vars := startCluster(t, "cluster-noconfigless", "CONFIGLESS=0")
	bindMount(t, filepath.Join(st, "munge"), root, "run/munge")
	ctl := "127.0.0.1:" + vars["E2E_SLURMCTLD_PORT"]
	wantPiece(t, "configless disabled", 8, "configuration", "configless is disabled", "--root", root, "--controller", ctl)

	// The remedy it names: the slurm.conf the site publishes (on AppHub: nginx here).
	pub := t.TempDir()
	b, err := os.ReadFile(filepath.Join(st, "slurm.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pub, "slurm.conf"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	url := serve(t, "published-conf", pub, "html") + "slurm.conf"
	// A site's own slurm.conf stands where connect would write: refused (7), then moved aside.
	site := []byte("# the site's\nClusterName=site\n")
	writeFile(t, root, "etc/slurm/slurm.conf", site)
	r := installer(t, 7, "connect", "--root", root, "--controller", ctl, "--conf-url", url)
	t.Logf("case %-26s exit %d  %s", "site conf with --conf-url", r.code, firstErr(r))
	r = installer(t, 0, "connect", "--root", root, "--controller", ctl, "--conf-url", url, "--force")
	s := cleanSlurm(t, root, "/usr/local/bin/sinfo")
	wantExit(t, "env -i chroot ROOT sinfo (published conf)", s, 0)
	if !strings.Contains(s.stdout, vars["E2E_SLURM_NODE"]) {
		t.Fatalf("sinfo with the published conf does not list the node:\n%s", s)
	}
	unmount(t, root, "run/munge")
	installer(t, 0, "uninstall", "--root", root)
	if got, _ := os.ReadFile(filepath.Join(root, "etc/slurm/slurm.conf")); string(got) != string(site) {
		t.Errorf("uninstall should put the site's slurm.conf back, got %q", got)
	}
}

// startMunged runs a munged with a fresh key on its own socket directory
// (stopped when the test ends) and returns that directory.
func startMunged(t *testing.T, name string) string {
	t.Helper()
	st := filepath.Join(suite.state, name)
	_ = os.RemoveAll(st)
	if err := os.MkdirAll(filepath.Join(st, "sock"), 0o755); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 1024)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Read(key)
	f.Close()
	if err := os.WriteFile(filepath.Join(st, "munge.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(st, "munged.pid")
	stop := addTeardown("munged "+st, func() {
		if b, err := os.ReadFile(pid); err == nil {
			_ = exec.Command("kill", strings.TrimSpace(string(b))).Run()
		}
	})
	t.Cleanup(stop)
	out, err := exec.Command("munged", "--force", "--socket="+filepath.Join(st, "sock/munge.socket.2"), "--key-file="+filepath.Join(st, "munge.key"),
		"--pid-file="+pid, "--log-file="+filepath.Join(st, "munged.log"), "--seed-file="+filepath.Join(st, "munged.seed")).CombinedOutput()
	if err != nil {
		t.Fatalf("munged: %v: %s", err, out)
	}
	for i := 0; i < 50; i++ {
		if fi, err := os.Stat(filepath.Join(st, "sock/munge.socket.2")); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return filepath.Join(st, "sock")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("munged's socket did not appear")
	return ""
}

// firstErr is the message of the installer's final error line.
func firstErr(r run) string {
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, " ERR ") {
			return strings.TrimSpace(l[strings.Index(l, " ERR ")+5:])
		}
	}
	return ""
}

// trixieApphub is the AppHub of Debian 13's 24.11 bundle (build-bundle.sh
// SUITE=trixie: it carries sackd), built once and cached.
func trixieApphub(t *testing.T) string {
	t.Helper()
	need(t)
	if suite.arch != "x86_64" {
		t.Fatalf("the 24.11 cases use Debian's amd64 packages; this host is %s", suite.arch)
	}
	dir := filepath.Join(suite.build, "bundle-trixie")
	if _, err := scriptEnv([]string{"SUITE=trixie"}, "build-bundle.sh", dir); err != nil {
		t.Fatalf("building the Debian 13 bundle: %v", err)
	}
	env, err := readEnvFile(filepath.Join(dir, "bundle-x86_64.env"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(env["BUNDLE_PAYLOAD"], "usr/local/slurm/sbin/sackd")); err != nil {
		t.Fatalf("the Debian 13 bundle carries no sackd: %v", err)
	}
	return env["BUNDLE_APPHUB"]
}

// stopRootProcs kills what runs chrooted in root (the sackd connect
// started) and waits until it is gone.
func stopRootProcs(root string) {
	for i := 0; i < 50; i++ {
		ents, _ := os.ReadDir("/proc")
		left := 0
		for _, e := range ents {
			pid := e.Name()
			if pid[0] < '0' || pid[0] > '9' {
				continue
			}
			if r, err := os.Readlink("/proc/" + pid + "/root"); err == nil && (r == root || strings.HasPrefix(r, root+"/")) {
				left++
				sig := "-TERM"
				if i > 20 {
					sig = "-KILL"
				}
				_ = exec.Command("kill", sig, pid).Run()
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConnectAuthSlurm2411: Debian 13's 24.11.5 controller with auth/slurm
// and configless; a Debian 13 root with the 24.11 bundle, no slurm.conf and
// no key; the key mounted for the run; connect starts the bundle's sackd.
func TestConnectAuthSlurm2411(t *testing.T) {
	apphub := trixieApphub(t)
	mirror := serve(t, "trixie-connect", apphub, "html")
	root := newRoot(t, "glibc-trixie")
	t.Cleanup(func() { stopRootProcs(root) })
	installer(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")

	st := filepath.Join(suite.state, "cluster-2411")
	stop := addTeardown("cluster 24.11 "+st, func() { _, _ = script(context.Background(), "cluster2411.sh", "stop", st) })
	t.Cleanup(stop)
	if _, err := script(context.Background(), "cluster2411.sh", "start", st, suite.build); err != nil {
		t.Fatalf("the 24.11 cluster could not start: %v", err)
	}
	vars, err := readEnvFile(filepath.Join(st, "env"))
	if err != nil {
		t.Fatal(err)
	}
	ctl := "127.0.0.1:" + vars["E2E_SLURMCTLD_PORT"]

	// A container has /proc: SLURM reads what it fetches back through it.
	mountProc(t, root)
	wantPiece(t, "24.11: no credential", 8, "configuration", "no credential", "--root", root, "--controller", ctl)

	// The key, mounted for the run only (a file bind mount).
	writeFile(t, root, "etc/slurm/slurm.key", nil)
	bindMount(t, vars["E2E_SLURM_KEY"], root, "etc/slurm/slurm.key")
	installer(t, 0, "connect", "--root", root, "--controller", ctl)
	if _, err := os.Stat(filepath.Join(root, "etc/slurm/slurm.conf")); err == nil {
		t.Errorf("with sackd, connect should write no slurm.conf")
	}
	s := cleanSlurm(t, root, "/usr/local/bin/sinfo")
	wantExit(t, "env -i chroot ROOT sinfo (24.11)", s, 0)
	if !strings.Contains(s.stdout, vars["E2E_SLURM_NODE"]) {
		t.Fatalf("sinfo from a clean environment does not list node %s:\n%s", vars["E2E_SLURM_NODE"], s)
	}
	wantExit(t, "env -i chroot ROOT squeue (24.11)", cleanSlurm(t, root, "/usr/local/bin/squeue"), 0)
	installer(t, 0, "connect", "--root", root, "--controller", ctl)
	installer(t, 0, "verify", "--cluster", "--root", root)

	// uninstall stops the sackd connect started and takes out what connect made.
	installer(t, 0, "uninstall", "--root", root)
	for _, p := range []string{"run/slurm", "usr/lib/x86_64-linux-gnu/slurm-wlm", "var/lib/slurm-installer/connect.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("uninstall left %s", p)
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if r, err := os.Readlink("/proc/" + e.Name() + "/root"); err == nil && r == root {
			if exe, _ := os.Readlink("/proc/" + e.Name() + "/exe"); strings.HasSuffix(exe, "sackd") {
				t.Errorf("uninstall left sackd running (pid %s)", e.Name())
			}
		}
	}
}

// mountProc mounts a proc file system on root/proc for the rest of the test.
func mountProc(t *testing.T, root string) {
	t.Helper()
	dst := filepath.Join(root, "proc")
	if err := os.MkdirAll(dst, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("proc", dst, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		t.Fatalf("mount proc on %s: %v", dst, err)
	}
	done := addTeardown("unmount "+dst, func() {
		if err := syscall.Unmount(dst, 0); err != nil {
			_ = syscall.Unmount(dst, syscall.MNT_DETACH)
		}
	})
	t.Cleanup(done)
}

// TestConnectProtocolWindow: Debian 13's 24.11 client against the 22.05.8
// controller (munge, configless): outside the window SLURM only drops the
// request; connect names the credential and the window, with this client's.
func TestConnectProtocolWindow(t *testing.T) {
	apphub := trixieApphub(t)
	mirror := serve(t, "trixie-window", apphub, "html")
	root := newRoot(t, "glibc-trixie")
	installer(t, 0, "--root", root, "--mirrors", mirror, "--fallback", "fail")
	st, vars := startCluster(t, "cluster-window")
	bindMount(t, filepath.Join(st, "munge"), root, "run/munge")
	wantPiece(t, "protocol window", 8, "configuration", "this client is SLURM 24.11.5, which can talk to controllers of SLURM 24.11 to",
		"--root", root, "--controller", "127.0.0.1:"+vars["E2E_SLURMCTLD_PORT"])
}
