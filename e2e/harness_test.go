//go:build e2e

package e2e

// The harness of the real end-to-end suite: it builds the real SLURM bundle once
// (scripts/build-bundle.sh), serves it with real nginx mirrors on loopback
// (scripts/nginx.sh), gives every test a fresh root (scripts/mkroot.sh) and
// tears everything down again — on success, on failure, on SIGINT/SIGTERM/SIGHUP
// and shortly before `go test -timeout` would kill the binary.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// suite is what TestMain prepared; every test reads it through need(t).
var suite struct {
	err       error  // why the suite cannot run (not root, bundle build failed, ...)
	repo      string // repository top
	scripts   string // <repo>/scripts
	build     string // $E2E_BUILD
	state     string // $E2E_BUILD/e2e-run: nginx/cluster state of this run
	bin       string // $SLURM_INSTALLER
	debArch   string // amd64 | arm64
	arch      string // x86_64 | aarch64
	bundle    map[string]string
	version   string // BUNDLE_VERSION, e.g. 22.05.8
	verifyCfg []byte // e2e/testdata/verify.conf

	full, fullJSON string // nginx serving the whole apphub dir (HTML / JSON autoindex)
	tree, treeJSON string // nginx serving only pkgs/slurm-binaries (HTML / JSON autoindex)
}

// ---- teardown registry: everything started is stopped, whatever happens ----

type teardown struct {
	name string
	once sync.Once
	fn   func()
}

var (
	tdMu   sync.Mutex
	tdNext int
	tdAll  = map[int]*teardown{}
)

// addTeardown registers fn to run exactly once: by the returned func (a defer
// or t.Cleanup), or by runTeardowns on a signal, a looming -timeout or the end
// of TestMain.
func addTeardown(name string, fn func()) func() {
	tdMu.Lock()
	id := tdNext
	tdNext++
	td := &teardown{name: name, fn: fn}
	tdAll[id] = td
	tdMu.Unlock()
	return func() {
		td.once.Do(td.fn)
		tdMu.Lock()
		delete(tdAll, id)
		tdMu.Unlock()
	}
}

// runTeardowns runs every registered teardown, newest first.
func runTeardowns() {
	tdMu.Lock()
	ids := make([]int, 0, len(tdAll))
	for id := range tdAll {
		ids = append(ids, id)
	}
	tds := tdAll
	tdAll = map[int]*teardown{}
	tdMu.Unlock()
	sort.Sort(sort.Reverse(sort.IntSlice(ids)))
	for _, id := range ids {
		td := tds[id]
		td.once.Do(td.fn)
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: stopping nginx, cluster and mounts\n", s)
		runTeardowns()
		os.Exit(130)
	}()
	// `go test -timeout` panics without running defers: tear down just before it.
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 30*time.Second {
			time.AfterFunc(d-20*time.Second, func() {
				fmt.Fprintln(os.Stderr, "e2e: -timeout is near: stopping nginx, cluster and mounts")
				runTeardowns()
			})
		}
	}
	start := time.Now()
	suite.err = setup()
	if suite.err != nil {
		fmt.Fprintf(os.Stderr, "e2e: setup failed: %v\n", suite.err)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: setup (bundle %s %s, 4 nginx mirrors) took %s\n", suite.version, suite.arch, time.Since(start).Round(time.Millisecond))
	}
	code := m.Run()
	runTeardowns()
	os.Exit(code)
}

func setup() error {
	if os.Geteuid() != 0 {
		return errors.New("the e2e suite must run as root (it uses chroot, mount, nginx and munge); run it with `sudo make e2e` — CI runs it as root")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	suite.repo = filepath.Dir(wd) // go test runs in <repo>/e2e
	suite.scripts = filepath.Join(suite.repo, "scripts")
	suite.build = envOr("E2E_BUILD", filepath.Join(suite.repo, "build", "e2e"))
	suite.bin = envOr("SLURM_INSTALLER", filepath.Join(suite.repo, "bin", "slurm-installer"))
	if suite.build, err = filepath.Abs(suite.build); err != nil {
		return err
	}
	if suite.bin, err = filepath.Abs(suite.bin); err != nil {
		return err
	}
	if fi, err := os.Stat(suite.bin); err != nil || fi.IsDir() {
		return fmt.Errorf("no slurm-installer binary at %s (run `make build`, or set SLURM_INSTALLER)", suite.bin)
	}
	if suite.verifyCfg, err = os.ReadFile(filepath.Join(wd, "testdata", "verify.conf")); err != nil {
		return err
	}
	switch runtime.GOARCH {
	case "amd64":
		suite.debArch, suite.arch = "amd64", "x86_64"
	case "arm64":
		suite.debArch, suite.arch = "arm64", "aarch64"
	default:
		return fmt.Errorf("unsupported host architecture %s", runtime.GOARCH)
	}
	suite.state = filepath.Join(suite.build, "e2e-run")
	if err := os.MkdirAll(suite.state, 0o755); err != nil {
		return err
	}

	// The real bundle (cached by the script: a no-op when up to date).
	t0 := time.Now()
	bdir := filepath.Join(suite.build, "bundle")
	if _, err := script(context.Background(), "build-bundle.sh", bdir); err != nil {
		return fmt.Errorf("building the bundle: %w", err)
	}
	fmt.Fprintf(os.Stderr, "e2e: bundle ready in %s\n", time.Since(t0).Round(time.Millisecond))
	if suite.bundle, err = readEnvFile(filepath.Join(bdir, "bundle-"+suite.arch+".env")); err != nil {
		return err
	}
	suite.version = suite.bundle["BUNDLE_VERSION"]
	if suite.version == "" {
		return fmt.Errorf("no BUNDLE_VERSION in %s", filepath.Join(bdir, "bundle-"+suite.arch+".env"))
	}
	apphub := suite.bundle["BUNDLE_APPHUB"]
	if apphub == "" {
		apphub = filepath.Join(bdir, "apphub")
	}

	// A mirror with only the tree layout: a directory whose pkgs/slurm-binaries
	// is a symlink to the real tree (nginx follows it), and nothing else.
	treeOnly := filepath.Join(suite.state, "tree-only")
	_ = os.RemoveAll(treeOnly)
	if err := os.MkdirAll(filepath.Join(treeOnly, "pkgs"), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join(apphub, "pkgs", "slurm-binaries"), filepath.Join(treeOnly, "pkgs", "slurm-binaries")); err != nil {
		return err
	}

	for _, n := range []struct {
		dst       *string
		name, dir string
		format    string
	}{
		{&suite.full, "full-html", apphub, "html"},
		{&suite.fullJSON, "full-json", apphub, "json"},
		{&suite.tree, "tree-html", treeOnly, "html"},
		{&suite.treeJSON, "tree-json", treeOnly, "json"},
	} {
		u, err := startNginx(n.name, n.dir, n.format)
		if err != nil {
			return err
		}
		*n.dst = u
	}
	return nil
}

// startNginx serves dir on a free loopback port; it retries with another port
// when the one it picked was taken in between.
func startNginx(name, dir, format string) (string, error) {
	u, _, err := startNginxStop(name, dir, format)
	return u, err
}

func startNginxStop(name, dir, format string) (string, func(), error) {
	st := filepath.Join(suite.state, "nginx-"+name)
	var last error
	for i := 0; i < 3; i++ {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		stop := addTeardown("nginx "+name, func() {
			_, _ = script(context.Background(), "nginx.sh", "stop", st)
		})
		out, err := script(context.Background(), "nginx.sh", "start", dir, port, format, st)
		if err == nil {
			return strings.TrimSpace(lastLine(out)) + "/", stop, nil
		}
		stop()
		last = fmt.Errorf("nginx %s on port %s: %w", name, port, err)
	}
	return "", nil, last
}

// serve starts an nginx mirror of dir for one test; it is stopped when the test ends.
func serve(t *testing.T, name, dir, format string) string {
	t.Helper()
	u, stop, err := startNginxStop(name, dir, format)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return u
}

func freePort() (string, error) {
	out, err := script(context.Background(), "freeport.sh")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// deadPort is a loopback port nothing listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// script runs scripts/NAME and returns its stdout; the error carries stderr.
func script(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(suite.scripts, name)}, args...)...)
	cmd.Env = append(cleanEnv(), "ARCH="+suite.debArch)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("scripts/%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(errb.String(), 30))
	}
	return out.String(), nil
}

// cleanEnv is the environment minus anything that could steer the installer or
// SLURM behind the test's back.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SLURM_") || strings.HasPrefix(kv, "ARCH=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func readEnvFile(p string) (map[string]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		m[k] = strings.Trim(v, `"'`)
	}
	return m, sc.Err()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- per-test helpers ----

// need fails the test with the plain reason when the suite could not be set up.
func need(t *testing.T) {
	t.Helper()
	if suite.err != nil {
		t.Fatal(suite.err)
	}
}

// newRoot is a fresh root of kind glibc|musl|distroless in t.TempDir(); anything
// mounted inside it is unmounted before the directory is removed.
func newRoot(t *testing.T, kind string) string {
	t.Helper()
	need(t)
	r := filepath.Join(t.TempDir(), kind)
	done := addTeardown("unmount "+r, func() {
		unmountUnder(r)
		// Never remove through a mount (a bind-mounted munge dir would be emptied).
		// After a signal, TempDir's own removal does not run: do it here.
		if len(mountsUnder(r)) == 0 {
			_ = os.RemoveAll(r)
		}
	})
	t.Cleanup(done) // runs before TempDir's removal (cleanups are LIFO)
	if _, err := script(context.Background(), "mkroot.sh", kind, r, suite.build); err != nil {
		t.Fatal(err)
	}
	return r
}

// unmountUnder unmounts every mount point at or below dir, deepest first.
func unmountUnder(dir string) {
	for i := 0; i < 5; i++ {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return
		}
		for _, mp := range mps {
			if err := syscall.Unmount(mp, 0); err != nil {
				_ = syscall.Unmount(mp, syscall.MNT_DETACH)
			}
		}
	}
}

func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mps = append(mps, mp)
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// run is one finished command.
type run struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r run) String() string {
	return fmt.Sprintf("exit %d after %s\n--- stdout\n%s--- stderr\n%s", r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// installer runs slurm-installer with args (logs on stderr), logs what it
// printed, and fails the test unless it exited with want: every call states
// the exit code it expects (issue 22: a status whose code nobody checked
// hid a bug).
func installer(t *testing.T, want int, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.bin, args...)
	cmd.Env = append(cleanEnv(), "SLURM_INSTALLER_LOG_FORMAT=console")
	r := execute(t, cmd)
	t.Logf("$ slurm-installer %s   # exit %d, %s\n%s%s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond), indent(r.stdout), indent(r.stderr))
	wantExit(t, "slurm-installer "+strings.Join(args, " "), r, want)
	return r
}

// inRoot runs argv with chroot(8) in root, with exactly env as its environment
// (no login shell, nothing inherited: what a backend's exec sees).
func inRoot(t *testing.T, root string, env []string, argv ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/sbin/chroot", append([]string{root}, argv...)...)
	if env == nil {
		env = []string{}
	}
	cmd.Env = env
	cmd.Dir = "/"
	return execute(t, cmd)
}

func execute(t *testing.T, cmd *exec.Cmd) run {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := run{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, r)
	}
	return r
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// wantExit fails the test unless r exited with code.
func wantExit(t *testing.T, what string, r run, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: want exit %d, got %s", what, code, r)
	}
}

// receipt is the part of ROOT/var/lib/slurm-installer/receipt.json the suite checks.
type receipt struct {
	Mode       string `json:"mode"`
	Reason     string `json:"reason"`
	Version    string `json:"version"`
	Arch       string `json:"arch"`
	Libc       string `json:"libc"`
	Prefix     string `json:"prefix"`
	BinDir     string `json:"bin_dir"`
	PayloadDir string `json:"payload_dir"`
	Source     string `json:"source"`
	Mirror     string `json:"mirror"`
	Layout     string `json:"layout"`
	SHA256     string `json:"sha256"`
	// Verification: pinned, signed-index, …, layer-digest (a registry).
	Verification string `json:"verification"`
	Files        []struct {
		Path   string `json:"path"`
		Type   string `json:"type"`
		SHA256 string `json:"sha256"`
	} `json:"files"`
}

func readReceipt(t *testing.T, root string) receipt {
	t.Helper()
	p := filepath.Join(root, "var/lib/slurm-installer/receipt.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("receipt: %v", err)
	}
	var r receipt
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("receipt %s: %v\n%s", p, err, b)
	}
	return r
}

// status is `slurm-installer status --json`.
type status struct {
	Installed bool   `json:"installed"`
	Demo      bool   `json:"demo"`
	Mode      string `json:"mode"`
	Version   string `json:"version"`
	Arch      string `json:"arch"`
	Libc      string `json:"libc"`
	Source    string `json:"source"`
	Reason    string `json:"reason"`
}

func statusJSON(t *testing.T, root string, wantCode int) status {
	t.Helper()
	r := installer(t, wantCode, "status", "--json", "--root", root)
	var s status
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("status --json printed no JSON: %v\n%s", err, r)
	}
	return s
}

// writeFile writes data at root/rel, creating directories.
func writeFile(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot lists every path in root (relative, with "/" prefix) except /proc, /sys, /dev.
func snapshot(t *testing.T, root string) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		switch rel {
		case "/proc", "/sys", "/dev":
			return filepath.SkipDir
		}
		m[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newPaths is what is in after but not in before.
func newPaths(before, after map[string]bool) []string {
	var out []string
	for p := range after {
		if !before[p] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
