package sandbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"slurm-installer/internal/testkit/testbundle"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	MaybeChild()
	if root := os.Getenv(unprivEnv); root != "" {
		os.Exit(unprivilegedRun(root))
	}
	if root := os.Getenv(sleeperEnv); root != "" {
		os.Exit(sleeperRun(root))
	}
	os.Exit(m.Run())
}

// unprivEnv makes the test binary, started by TestRunUnprivileged as a
// user that is not root, run the hostile command in ROOT and print what
// happened as JSON.
const unprivEnv = "SANDBOX_TEST_UNPRIVILEGED_ROOT"

func unprivilegedRun(root string) int {
	var out, errb bytes.Buffer
	rep, err := Run(context.Background(), Spec{Root: root, Path: "/usr/local/bin/sinfo", Args: []string{"/usr/local/bin/sinfo", "--version"},
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}, Timeout: 20 * time.Second, Stdout: &out, Stderr: &errb})
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"report": rep, "stdout": out.String(), "stderr": errb.String(), "err": fmt.Sprint(err), "uid": os.Geteuid()})
	return 0
}

// TestRunUnprivileged: a caller that is not root (uid 65534 outside)
// running the hostile command in a root it owns gets chroot and the
// namespaces through a user namespace, and the command runs as 65534 with
// no capability, contained like a root caller's.
func TestRunUnprivileged(t *testing.T) {
	requireRoot(t)
	root := newRoot(t)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == filepath.Join(root, "etc/shadow") {
			return err // /etc/shadow stays root's: the command must not read it
		}
		return os.Lchown(p, Nobody, Nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir), filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sandbox.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{unprivEnv + "=" + root}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: Nobody, Gid: Nobody, Groups: []uint32{}}}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s as uid %d: %v\n%s%s", bin, Nobody, err, out, errb.String())
	}
	var r struct {
		Report         *Report `json:"report"`
		Stdout, Stderr string
		Err            string
		UID            int
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("as uid %d: report %v\nstdout: %s\nstderr: %s\nerr: %s", r.UID, r.Report, r.Stdout, r.Stderr, r.Err)
	if r.UID != Nobody || r.Err != "<nil>" || strings.TrimSpace(r.Stdout) != "slurm 24.11.5" {
		t.Fatalf("uid %d, err %s, stdout %q: want uid %d, no error, `slurm 24.11.5`", r.UID, r.Err, r.Stdout, Nobody)
	}
	checkContained(t, root, r.Stderr)
	enabled := strings.Join(r.Report.Enabled, ",")
	for _, want := range []string{"user namespace (uid/gid 65534 inside are the caller's uid 65534/gid 65534, the only ids mapped)",
		"pid namespace", "mount namespace", "network namespace", "root mounted read-only", "chroot", "no capabilities", "no_new_privs"} {
		if !strings.Contains(enabled, want) {
			t.Errorf("report %v lacks %q", r.Report, want)
		}
	}
}

var (
	hostileOnce sync.Once
	hostileBin  string
	hostileErr  error
	hostileDir  string
	hostFile    string
	token       string
	listener    net.Listener
)

// hostile builds the hostile sinfo once: it knows a host path to write, a
// token for its sleeper, and a loopback listener to reach.
func hostile(t *testing.T) string {
	t.Helper()
	hostileOnce.Do(func() {
		hostileDir, hostileErr = os.MkdirTemp("", "sandbox-test-")
		if hostileErr != nil {
			return
		}
		if hostileErr = os.Mkdir(filepath.Join(hostileDir, "host"), 0o777); hostileErr != nil {
			return
		}
		hostFile = filepath.Join(hostileDir, "host", "pwned")
		token = fmt.Sprintf("sbx%d", time.Now().UnixNano())
		if listener, hostileErr = net.Listen("tcp", "127.0.0.1:0"); hostileErr != nil {
			return
		}
		go func() {
			for {
				c, err := listener.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		hostileBin, hostileErr = testbundle.BuildHostile(hostileDir, testbundle.Hostile{Version: "24.11.5", HostFile: hostFile,
			Token: token, Connect: listener.Addr().String(), Secret: "secret-" + token, Writes: mountWrites})
	})
	if hostileErr != nil {
		t.Fatal(hostileErr)
	}
	return hostileBin
}

// newRoot lays out a root: the hostile command at /usr/local/bin/sinfo, a
// secret /etc/shadow (0640 root:shadow as on Debian), a world-writable /tmp.
func newRoot(t *testing.T) string {
	t.Helper()
	bin := hostile(t)
	root := filepath.Join(t.TempDir(), "root")
	for _, d := range []string{"usr/local/bin", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/sinfo"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/shadow"), []byte("root:SECRET-HASH:19000:0:99999:7:::\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chown(filepath.Join(root, "etc/shadow"), 0, 42)
	return root
}

// survivors lists the processes whose argv carries the hostile token.
func survivors() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte("sleeper-"+token)) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the sandbox tests need root (CI runs as root)")
		}
		t.Skip("the sandbox tests need root")
	}
}

func run(t *testing.T, ctx context.Context, s Spec) (*Report, string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if s.Path == "" {
		s.Path = "/usr/local/bin/sinfo"
	}
	if s.Env == nil {
		s.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	rep, err := Run(ctx, s)
	t.Logf("report: %v\nstdout: %s\nstderr: %s\nerr: %v", rep, out.String(), errb.String(), err)
	return rep, out.String(), errb.String(), err
}

func checkContained(t *testing.T, root, stderr string) {
	t.Helper()
	if !strings.Contains(stderr, "ID uid=65534 euid=65534 gid=65534 caps=0/0/0 bnd=0 nnp=1") {
		t.Errorf("the command did not run as 65534 with no capabilities and no_new_privs:\n%s", stderr)
	}
	if strings.Contains(stderr, "SECRET") {
		t.Error("the command read the root's /etc/shadow")
	}
	if !strings.Contains(stderr, "FORK ok") {
		t.Error("the hostile command did not even manage to fork (the test proves nothing)")
	}
	if strings.Contains(stderr, "PROC secret") || strings.Contains(stderr, "PROC /proc/1/cmdline: \"") || strings.Contains(stderr, "'s cmdline") {
		t.Error("the command read the command line of a process outside the sandbox")
	}
	paths := []string{hostFile, hostFile + ".survivor", filepath.Join(root, "tmp/pwned-in-root"), filepath.Join(root, "etc/pwned-in-root"), filepath.Join(root, hostFile)}
	for _, w := range mountWrites {
		paths = append(paths, filepath.Join(root, w))
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the command wrote %s", p)
			os.Remove(p)
		}
	}
	if s := survivors(); len(s) > 0 {
		t.Errorf("processes survived the run: %v", s)
		for _, l := range s {
			var pid int
			fmt.Sscanf(l, "%d", &pid)
			if pid > 0 {
				_ = killPid(pid)
			}
		}
	}
}

func TestRunHostile(t *testing.T) {
	requireRoot(t)
	root := newRoot(t)
	start := time.Now()
	rep, stdout, stderr, err := run(t, context.Background(), Spec{Root: root, Args: []string{"/usr/local/bin/sinfo", "--version"}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run took %s: it waited for the sleeper", d)
	}
	if strings.TrimSpace(stdout) != "slurm 24.11.5" {
		t.Errorf("stdout %q", stdout)
	}
	checkContained(t, root, stderr)
	if !strings.Contains(stderr, "CONNECT err") {
		t.Error("the --version run reached the host's loopback: no network namespace")
	}
	for _, want := range []string{"pid namespace", "mount namespace", "network namespace", "chroot", "no_new_privs", "uid/gid 65534"} {
		if !strings.Contains(strings.Join(rep.Enabled, ","), want) {
			t.Errorf("report %v lacks %q", rep, want)
		}
	}
}

func TestRunNetwork(t *testing.T) {
	requireRoot(t)
	root := newRoot(t)
	rep, _, stderr, err := run(t, context.Background(), Spec{Root: root, Network: true, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkContained(t, root, stderr)
	if !strings.Contains(stderr, "CONNECT ok") {
		t.Error("with Network the command must reach the controller")
	}
	if strings.Contains(strings.Join(rep.Enabled, ","), "network namespace") {
		t.Errorf("report %v", rep)
	}
}

// Without a PID namespace the leftovers are found by their root and killed.
func TestRunNoPIDNamespace(t *testing.T) {
	requireRoot(t)
	old := namespaces
	defer func() { namespaces = old }()
	namespaces = nil
	for _, ns := range old {
		if ns.name != "pid namespace" {
			namespaces = append(namespaces, ns)
		}
	}
	root := newRoot(t)
	rep, _, stderr, err := run(t, context.Background(), Spec{Root: root, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkContained(t, root, stderr)
	if !strings.Contains(strings.Join(rep.Disabled, ","), "found and killed") {
		t.Errorf("report %v: the leftover was not reported", rep)
	}
}

func TestRunTimeoutAndCancel(t *testing.T) {
	requireRoot(t)
	root := newRoot(t)
	start := time.Now()
	_, _, _, err := run(t, context.Background(), Spec{Root: root, Args: []string{"/usr/local/bin/sinfo", "sleeper-" + token}, Timeout: time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout took %s", d)
	}
	if s := survivors(); len(s) > 0 {
		t.Errorf("survivors: %v", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, _, _, err = run(t, ctx, Spec{Root: root, Args: []string{"/usr/local/bin/sinfo", "sleeper-" + token}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
	if s := survivors(); len(s) > 0 {
		t.Errorf("survivors: %v", s)
	}
}

func TestRunErrors(t *testing.T) {
	requireRoot(t)
	root := newRoot(t)
	_, _, _, err := run(t, context.Background(), Spec{Root: root, Path: "/usr/local/bin/nope"})
	var ee *ExecError
	if !errors.As(err, &ee) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing command: %v", err)
	}
	os.WriteFile(filepath.Join(root, "usr/local/bin/fail"), []byte("#!/nonexistent/sh\n"), 0o755)
	_, _, _, err = run(t, context.Background(), Spec{Root: root, Path: "/usr/local/bin/fail"})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing interpreter: %v", err)
	}
	// A root that 65534 cannot enter is refused before anything runs.
	os.Chmod(root, 0o700)
	_, _, _, err = run(t, context.Background(), Spec{Root: root})
	if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "0700") {
		t.Errorf("0700 root: %v", err)
	}
	os.Chmod(root, 0o755)
}

// A binary whose main does not call MaybeChild is reported, not run.
func TestNotWired(t *testing.T) {
	requireRoot(t)
	old := self
	defer func() { self = old }()
	self = "/bin/true"
	_, _, _, err := run(t, context.Background(), Spec{Root: newRoot(t)})
	if !errors.Is(err, ErrNotWired) {
		t.Errorf("err = %v", err)
	}
}

func killPid(pid int) error { return syscallKill(pid) }

// A namespace the kernel refuses (a container without CAP_SYS_ADMIN) is
// given up and reported; the others stay.
func TestRunNamespaceRefused(t *testing.T) {
	requireRoot(t)
	refused = syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC
	defer func() { refused = 0 }()
	root := newRoot(t)
	rep, _, stderr, err := run(t, context.Background(), Spec{Root: root, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkContained(t, root, stderr)
	dis, en := strings.Join(rep.Disabled, "; "), strings.Join(rep.Enabled, ", ")
	for _, want := range []string{"network namespace: operation not permitted", "ipc namespace: operation not permitted"} {
		if !strings.Contains(dis, want) {
			t.Errorf("Disabled %q lacks %q", dis, want)
		}
	}
	if strings.Contains(en, "network namespace") || !strings.Contains(en, "pid namespace") || !strings.Contains(en, "mount namespace") {
		t.Errorf("Enabled %q", en)
	}
}

// mountWrites are the in-root paths on mounts of their own (newMountedRoot)
// the hostile command tries to create.
var mountWrites = []string{"/dev/shm/pwned-in-root", "/var/cache/pwned-in-root"}

// newMountedRoot is newRoot with the mounts of a live root (--root / in a
// container): /proc, a tmpfs /tmp and /dev/shm, and a cache directory of
// the host bound in, every one writable by 65534.
func newMountedRoot(t *testing.T) string {
	t.Helper()
	root := newRoot(t)
	cache := t.TempDir()
	if err := os.Chmod(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ src, dir, fstype string }{
		{"proc", "proc", "proc"}, {"tmpfs", "tmp", "tmpfs"}, {"tmpfs", "dev/shm", "tmpfs"}, {cache, "var/cache", ""},
	} {
		dir := filepath.Join(root, m.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if m.fstype == "" {
			err = syscall.Mount(m.src, dir, "", syscall.MS_BIND, "")
		} else {
			data := ""
			if m.fstype == "tmpfs" {
				data = "mode=1777,size=1m"
			}
			err = syscall.Mount(m.src, dir, m.fstype, 0, data)
		}
		if err != nil {
			t.Fatalf("mount %s on %s: %v", m.src, dir, err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	}
	return root
}

// decoy starts a process outside the sandbox whose command line holds the
// secret the hostile command looks for (the installer's mirror password).
func decoy(t *testing.T) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "sleep 120; :", "secret-"+token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// TestRunSealed (issue 23 item 5): in a root with /proc, tmpfs mounts and
// a cache mount, the hostile command sees only its own processes in a
// fresh /proc (not the decoy's secret, not /proc/1 of the host), and
// cannot write into any mount of the root, so nothing outlives the run.
func TestRunSealed(t *testing.T) {
	requireRoot(t)
	hostile(t)
	decoy(t)
	root := newMountedRoot(t)
	defer func() { legacyRemount = false }()
	for _, network := range []bool{false, true, false} {
		legacyRemount = legacyRemount || network // the last run remounts one by one (a kernel before 5.12)
		rep, stdout, stderr, err := run(t, context.Background(), Spec{Root: root, Args: []string{"/usr/local/bin/sinfo", "--version"}, Network: network, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(stdout) != "slurm 24.11.5" {
			t.Errorf("network %v: stdout %q, want the version (a BREACH line names what got out)", network, stdout)
		}
		checkContained(t, root, stderr)
		for _, w := range append([]string{"/tmp/pwned-in-root"}, mountWrites...) {
			if !strings.Contains(stderr, "WRITE "+w+": open "+w+": read-only file system") {
				t.Errorf("the write to %s did not fail as read-only:\n%s", w, stderr)
			}
		}
		for _, want := range []string{"every mount under it read-only", "a fresh, read-only /proc showing only the sandbox's processes"} {
			if !strings.Contains(strings.Join(rep.Enabled, ","), want) {
				t.Errorf("report %v lacks %q", rep, want)
			}
		}
	}
}

// TestRunNoPIDNamespaceHidesProc: without a pid namespace a fresh /proc
// would show the host's processes, so an empty one hides them.
func TestRunNoPIDNamespaceHidesProc(t *testing.T) {
	requireRoot(t)
	refused = syscall.CLONE_NEWPID
	defer func() { refused = 0 }()
	hostile(t)
	decoy(t)
	root := newMountedRoot(t)
	rep, stdout, stderr, err := run(t, context.Background(), Spec{Root: root, Args: []string{"/usr/local/bin/sinfo", "--version"}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(stdout) != "slurm 24.11.5" {
		t.Errorf("stdout %q", stdout)
	}
	checkContained(t, root, stderr)
	if !strings.Contains(strings.Join(rep.Enabled, ","), "an empty /proc") {
		t.Errorf("report %v", rep)
	}
}

// sleeperEnv makes the test binary an installer that runs the hostile
// sleeper in ROOT; TestRunDiesWithInstaller SIGKILLs it.
const sleeperEnv = "SANDBOX_TEST_SLEEPER_ROOT"

func sleeperRun(root string) int {
	_, err := Run(context.Background(), Spec{Root: root, Path: "/usr/local/bin/sinfo", Args: []string{"/usr/local/bin/sinfo", "sleeper-" + os.Getenv("SANDBOX_TEST_TOKEN")},
		Env: []string{"PATH=/usr/bin:/bin"}, Timeout: 60 * time.Second})
	fmt.Println(err)
	return 0
}

// TestRunDiesWithInstaller (issue 23 item 5): the sandboxed command dies
// with the installer, killed with SIGKILL, whatever uid it dropped to.
func TestRunDiesWithInstaller(t *testing.T) {
	requireRoot(t)
	root := newRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = []string{sleeperEnv + "=" + root, "SANDBOX_TEST_TOKEN=" + token}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for len(survivors()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sleeper never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		s := survivors()
		if len(s) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the installer was killed 20 s ago and the sandboxed command still runs: %v", s)
			for _, l := range s {
				var pid int
				fmt.Sscanf(l, "%d", &pid)
				_ = killPid(pid)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHelperMarkerNotFromEnv (issue 23 item 5): the old marker variable in
// the environment neither makes a run exit 125 nor runs what a crafted
// value says; only the pipes Run passes make a helper.
func TestHelperMarkerNotFromEnv(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pwned := filepath.Join(t.TempDir(), "pwned")
	spec, _ := json.Marshal(map[string]any{"root": "/", "path": "/bin/sh", "args": []string{"sh", "-c", "echo pwned > " + pwned}, "dir": "/"})
	for _, v := range []string{"x", base64.StdEncoding.EncodeToString(spec)} {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = []string{"SLURM_INSTALLER_SANDBOX_CHILD=" + v}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("with the marker %.20q in the environment: %v\n%s", v, err, out)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Errorf("a crafted marker %.20q ran its command", v)
		}
	}
	// The helper's flag without its pipes runs nothing.
	cmd := exec.Command(exe, childFlag)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 125 || !strings.Contains(string(out), "not the pipe") {
		t.Errorf("%s without its pipes: %v\n%s", childFlag, err, out)
	}
}

// TestRunInChroot (issue 23 item 5): the installer inside a plain chroot
// (with /proc mounted there) verifying --root / gets a sandbox: the root's
// own mount alone, read-only, so /proc and every other submount are out of
// sight, and the command contained like anywhere else.
func TestRunInChroot(t *testing.T) {
	requireRoot(t)
	decoy(t)
	root := newRoot(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{exe}
	out, err := exec.Command("ldd", exe).Output()
	if err == nil { // a dynamic test binary: its loader and libraries go in too
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "/") {
				files = append(files, f)
			}
		}
	}
	for _, f := range files {
		dst := filepath.Join(root, f)
		if f == exe {
			dst = filepath.Join(root, "sandbox.test")
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A plain chroot: /dev/null as a node of its own, /proc mounted.
	if err := os.Mkdir(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(root, "dev/null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	procDir := filepath.Join(root, "proc")
	if err := os.Mkdir(procDir, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("proc", procDir, "proc", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(procDir, syscall.MNT_DETACH) })
	cmd := exec.Command("/sandbox.test", "-test.run=^$")
	cmd.Env = []string{unprivEnv + "=/"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("in the chroot: %v\n%s%s", err, out, errb.String())
	}
	var r struct {
		Report         *Report `json:"report"`
		Stdout, Stderr string
		Err            string
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("in a chroot, --root /: report %v\nstdout: %s\nstderr: %s\nerr: %s", r.Report, r.Stdout, r.Stderr, r.Err)
	if r.Err != "<nil>" || strings.TrimSpace(r.Stdout) != "slurm 24.11.5" {
		t.Fatalf("err %s, stdout %q: want no error and `slurm 24.11.5`", r.Err, r.Stdout)
	}
	checkContained(t, root, r.Stderr)
	if !strings.Contains(r.Stderr, "PROC 0 processes visible") {
		t.Errorf("the command saw a /proc:\n%s", r.Stderr)
	}
}

// Without a mount namespace nothing can be sealed: the report says what
// stays open.
func TestRunNoMountNamespaceSaysSo(t *testing.T) {
	requireRoot(t)
	refused = syscall.CLONE_NEWNS
	defer func() { refused = 0 }()
	rep, _, _, err := run(t, context.Background(), Spec{Root: newRoot(t), Args: []string{"/usr/local/bin/sinfo", "--version"}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rep.Disabled, "; "), "without a mount namespace its mounts stay as they are") {
		t.Errorf("report %v", rep)
	}
}
