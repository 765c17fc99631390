package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "update testscript golden files")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"slurm-installer": main,
	})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       *update,
		Setup: func(e *testscript.Env) error {
			mirror := filepath.Join(e.WorkDir, "mirror")
			if err := os.MkdirAll(mirror, 0o755); err != nil {
				return err
			}
			srv := httptest.NewServer(mirrorHandler(mirror))
			e.Defer(srv.Close)
			e.Setenv("MIRROR", srv.URL)
			e.Setenv("DEAD", "http://"+closedPort(e.T().(testing.TB)))
			e.Setenv("HOSTARCH", map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH])
			e.Setenv("SLURM_INSTALLER_LOG_FORMAT", "console")
			if os.Geteuid() == 0 {
				e.Setenv("ISROOT", "1")
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"mkbundle": mkbundle,
			"exitcode": exitcode,
		},
	})
}

// mirrorHandler serves dir like a plain nginx: files, symlinks followed,
// /flaky/N/... that answers 503 to its first N requests, and
// /status/CODE/... that always answers CODE.
func mirrorHandler(dir string) http.Handler {
	fs := http.FileServer(http.Dir(dir))
	var mu sync.Mutex
	seen := map[string]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/flaky/"); ok {
			n, tail, _ := strings.Cut(rest, "/")
			fails, _ := strconv.Atoi(n)
			mu.Lock()
			seen[n]++ // a mirror that is restarting: its first N requests fail, whatever they ask
			c := seen[n]
			mu.Unlock()
			if c <= fails {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return
			}
			r.URL.Path = "/" + tail
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
			code, _, _ := strings.Cut(rest, "/")
			c, _ := strconv.Atoi(code)
			http.Error(w, http.StatusText(c), c)
			return
		}
		fs.ServeHTTP(w, r)
	})
}

// closedPort returns host:port of a loopback port nothing listens on.
func closedPort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// exitcode N cmd args... runs cmd and checks its exact exit code.
func exitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

var fakeBuilds sync.Map // version -> string (path) or error

// fakeSinfo builds (once per version) a static program that behaves like a
// SLURM client command: it needs a slurm.conf (SLURM_CONF or
// /etc/slurm/slurm.conf) whose PluginDir exists, prints "slurm VERSION" for
// --version, and rejects unknown flags.
func fakeSinfo(version string) (string, error) {
	if v, ok := fakeBuilds.Load(version); ok {
		if err, isErr := v.(error); isErr {
			return "", err
		}
		return v.(string), nil
	}
	dir, err := os.MkdirTemp("", "fakesinfo-")
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(fakeSinfoSrc), 0o644); err != nil {
		return "", err
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fakesinfo\n\ngo 1.22\n"), 0o644)
	out := filepath.Join(dir, "sinfo")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		err = fmt.Errorf("build fake sinfo: %v: %s", err, b)
		fakeBuilds.Store(version, err)
		return "", err
	}
	fakeBuilds.Store(version, out)
	return out, nil
}

const fakeSinfoSrc = `package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

var version = "0.0.0"

func main() {
	name := filepath.Base(os.Args[0])
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		conf = "/etc/slurm/slurm.conf"
	}
	f, err := os.Open(conf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host\n%s: fatal: Could not establish a configuration source\n", name, name)
		os.Exit(1)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.EqualFold(strings.TrimSpace(k), "PluginDir") {
			if _, err := os.Stat(strings.TrimSpace(v)); err != nil {
				fmt.Fprintf(os.Stderr, "%s: error: Couldn't find the specified plugin name for cred/munge looking at all files\n%s: fatal: failed to initialize cred plugin\n", name, name)
				os.Exit(1)
			}
		}
	}
	f.Close()
	for _, a := range os.Args[1:] {
		switch a {
		case "--version", "-V":
			fmt.Printf("slurm %s\n", version)
			return
		default:
			fmt.Fprintf(os.Stderr, "%s: unrecognized option '%s'\nTry \"%s --help\" for more information\n", name, a, name)
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "%s: error: Unable to contact slurm controller (connect failure)\n", name)
	os.Exit(1)
}
`

// mkbundle DIR VERSION [-arch A] [-nosha] [-badsha] [-corrupt] [-etc] [-noversion] [-tag T]
//
// writes a bundle in the AppHub tarball layout under DIR/pkgs/slurm-apk:
// slurm-client-V-A-alpine.tar.gz, the arch-less name, the latest names as
// symlinks, and .sha256 sidecars. The payload holds the fake client
// commands, a lib/ with a fake library, VERSION, an install.sh that must
// never run, and optionally etc/slurm files.
func mkbundle(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mkbundle DIR VERSION [options]")
	}
	dir, version := ts.MkAbs(args[0]), args[1]
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	var nosha, badsha, corrupt, etc, noversion bool
	for i := 2; i < len(args); i++ {
		switch args[i] {
		case "-arch":
			i++
			arch = args[i]
		case "-nosha":
			nosha = true
		case "-badsha":
			badsha = true
		case "-corrupt":
			corrupt = true
		case "-etc":
			etc = true
		case "-noversion":
			noversion = true
		default:
			ts.Fatalf("mkbundle: unknown option %s", args[i])
		}
	}
	bin, err := fakeSinfo(version)
	ts.Check(err)
	exe, err := os.ReadFile(bin)
	ts.Check(err)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, mode int64, typ byte, body []byte, link string) {
		h := &tar.Header{Name: name, Mode: mode, Typeflag: typ, Size: int64(len(body)), Linkname: link, Uname: "root", Gname: "root"}
		ts.Check(tw.WriteHeader(h))
		if len(body) > 0 {
			_, err := tw.Write(body)
			ts.Check(err)
		}
	}
	for _, d := range []string{"usr/", "usr/local/", "usr/local/slurm/", "usr/local/slurm/bin/", "usr/local/slurm/lib/", "usr/local/slurm/lib/slurm/"} {
		add(d, 0o755, tar.TypeDir, nil, "")
	}
	for _, c := range []string{"sinfo", "squeue", "scontrol", "sbatch", "srun", "scancel"} {
		add("usr/local/slurm/bin/"+c, 0o755, tar.TypeReg, exe, "")
	}
	add("usr/local/slurm/lib/libslurmfull.so", 0o644, tar.TypeReg, []byte("not really a library\n"), "")
	add("usr/local/slurm/lib/libslurm.so.38", 0o777, tar.TypeSymlink, nil, "libslurmfull.so")
	add("usr/local/slurm/lib/slurm/select_cons_tres.so", 0o644, tar.TypeReg, []byte("plugin\n"), "")
	if !noversion {
		add("usr/local/slurm/VERSION", 0o644, tar.TypeReg, []byte(version+"\n"), "")
	}
	if etc {
		add("etc/", 0o755, tar.TypeDir, nil, "")
		add("etc/slurm/", 0o755, tar.TypeDir, nil, "")
		add("etc/slurm/slurm.conf", 0o644, tar.TypeReg, []byte("# bundle default\nClusterName=bundle\n"), "")
		add("etc/slurm/cgroup.conf", 0o644, tar.TypeReg, []byte("# bundle cgroup\n"), "")
	}
	add("install.sh", 0o755, tar.TypeReg, []byte("#!/bin/sh\necho INSTALL.SH RAN > /install-sh-ran\n"), "")
	add("README.md", 0o644, tar.TypeReg, []byte("bundle\n"), "")
	ts.Check(tw.Close())
	ts.Check(gz.Close())
	data := buf.Bytes()
	if corrupt {
		data = data[:len(data)/2]
	}
	apk := filepath.Join(dir, "pkgs", "slurm-apk")
	ts.Check(os.MkdirAll(apk, 0o755))
	name := fmt.Sprintf("slurm-client-%s-%s-alpine.tar.gz", version, arch)
	ts.Check(os.WriteFile(filepath.Join(apk, name), data, 0o644))
	s := sha256.Sum256(data)
	if corrupt {
		s = sha256.Sum256(buf.Bytes()) // published sum is of the good file
	}
	sum := hex.EncodeToString(s[:])
	if badsha {
		sum = strings.Repeat("0", 64)
	}
	names := []string{name, fmt.Sprintf("slurm-client-%s-alpine.tar.gz", version),
		fmt.Sprintf("slurm-client-latest-%s-alpine.tar.gz", arch), "slurm-client-latest-alpine.tar.gz"}
	for i, n := range names {
		if i > 0 {
			os.Remove(filepath.Join(apk, n))
			ts.Check(os.Symlink(name, filepath.Join(apk, n)))
		}
		if !nosha {
			ts.Check(os.WriteFile(filepath.Join(apk, n+".sha256"), []byte(sum+"  "+n+"\n"), 0o644))
		}
	}
	ts.Setenv("BUNDLE_SHA256", hex.EncodeToString(s[:]))
	ts.Setenv("BUNDLE", filepath.Join(apk, name))
}
