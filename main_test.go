package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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

	"slurm-installer/internal/testkit/testbundle"

	"slurm-installer/internal/testkit/faultserver"
)

var update = flag.Bool("update", false, "update testscript golden files")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"slurm-installer": main,
	})
}

func TestScript(t *testing.T) {
	// The scripts run some lines only where a tool exists ([exec:minisign],
	// [exec:patchelf], [!exec:flock]); in CI a missing tool would skip them
	// silently, so there it is a failure (make unit installs them as root).
	if os.Getenv("CI") == "true" {
		for _, tool := range []string{"minisign", "patchelf", "flock"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Fatalf("CI=true: %s is not installed, so the script lines that need it would not run (bash scripts/deps.sh installs it)", tool)
			}
		}
	}
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
			// Issue 13: the same mirrors with credentials in the URL (the test servers ignore them).
			e.Setenv("AUTH_MIRROR", strings.Replace(srv.URL, "http://", "http://alice:s3cr3tPa55@", 1))
			e.Setenv("DEAD", "http://"+closedPort(e.T().(testing.TB)))
			fs, err := faultserver.New(http.FileServer(http.Dir(mirror))) // issue 4: $FAULT/<mode>, $BLACKHOLE, $REFUSED
			if err != nil {
				return err
			}
			e.Defer(fs.Close)
			e.Setenv("FAULT", fs.URL)
			e.Setenv("AUTH_FAULT", strings.Replace(fs.URL, "http://", "http://alice:s3cr3tPa55@", 1))
			e.Setenv("BLACKHOLE", fs.Blackhole)
			e.Setenv("REFUSED", fs.Refused)
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
			"mkbundle":  mkbundle,
			"mkpayload": mkpayload,
			"mkhostile": mkhostile,
			"exitcode":  exitcode,
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

// fakeSinfo builds (once per version) a static program that behaves like a
// SLURM client command; see internal/testkit/testbundle.
var fakeSinfo = testbundle.FakeSinfo

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
	var nosha, badsha, corrupt, etc, noversion, nolatestsha bool
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
		case "-nolatestsha": // like the seed layout: only versioned names have a .sha256
			nolatestsha = true
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
		if !nosha && !(nolatestsha && strings.Contains(n, "latest")) {
			ts.Check(os.WriteFile(filepath.Join(apk, n+".sha256"), []byte(sum+"  "+n+"\n"), 0o644))
		}
	}
	ts.Setenv("BUNDLE_SHA256", hex.EncodeToString(s[:]))
	ts.Setenv("BUNDLE", filepath.Join(apk, name))
}

// mkpayload DIR VERSION writes an unpacked client payload (what `pack
// --from` takes): bin/ with the fake client commands, lib/ with a fake
// library, its soname link and a plugin, and VERSION.
func mkpayload(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkpayload DIR VERSION")
	}
	dir, version := ts.MkAbs(args[0]), args[1]
	bin, err := fakeSinfo(version)
	ts.Check(err)
	exe, err := os.ReadFile(bin)
	ts.Check(err)
	ts.Check(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	ts.Check(os.MkdirAll(filepath.Join(dir, "lib", "slurm"), 0o755))
	for _, c := range []string{"sinfo", "squeue", "scontrol", "sbatch", "srun", "scancel"} {
		ts.Check(os.WriteFile(filepath.Join(dir, "bin", c), exe, 0o755))
	}
	ts.Check(os.WriteFile(filepath.Join(dir, "lib", "libslurmfull.so"), []byte("not really a library\n"), 0o644))
	os.Remove(filepath.Join(dir, "lib", "libslurm.so.38"))
	ts.Check(os.Symlink("libslurmfull.so", filepath.Join(dir, "lib", "libslurm.so.38")))
	ts.Check(os.WriteFile(filepath.Join(dir, "lib", "slurm", "select_cons_tres.so"), []byte("plugin\n"), 0o644))
	ts.Check(os.WriteFile(filepath.Join(dir, "VERSION"), []byte(version+"\n"), 0o644))
}

// hostileMember is one archive entry of a hostile bundle.
type hostileMember struct {
	name string
	typ  byte // tar type flag; zip maps it to a mode
	mode int64
	body []byte
	link string
	size int64 // > len(body): the body is that many zero bytes (a bomb)
}

// mkhostile DIR KIND writes DIR/slurm-client-23.02.1-ARCH-alpine.tar.gz (or
// .zip for zip-* kinds) with a correct .sha256 sidecar, so the checksum
// passes and only the archive checks can stop it. The bundle is a complete,
// installable 23.02.1 payload plus the hostile entries of KIND; entries
// aimed outside point at $WORK/outside, never at the host's real /etc. It
// sets $HOSTILE to the bundle's path.
func mkhostile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkhostile DIR KIND")
	}
	dir, kind := ts.MkAbs(args[0]), args[1]
	const version = "23.02.1"
	outside := filepath.Join(ts.Getenv("WORK"), "outside")
	up := strings.Repeat("../", 24) + strings.TrimPrefix(outside, "/") // far enough up from any staging dir
	bin, err := fakeSinfo(version)
	ts.Check(err)
	exe, err := os.ReadFile(bin)
	ts.Check(err)
	const p = "usr/local/slurm/"
	ms := []hostileMember{
		{name: "usr/", typ: tar.TypeDir, mode: 0o755}, {name: "usr/local/", typ: tar.TypeDir, mode: 0o755},
		{name: p, typ: tar.TypeDir, mode: 0o755}, {name: p + "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: p + "lib/", typ: tar.TypeDir, mode: 0o755}, {name: p + "lib/slurm/", typ: tar.TypeDir, mode: 0o755},
	}
	sinfoMode := int64(0o755)
	if kind == "setuid" || kind == "zip-setuid" {
		sinfoMode = 0o4755
	}
	for _, c := range []string{"sinfo", "squeue", "scontrol", "sbatch", "srun", "scancel"} {
		m := int64(0o755)
		if c == "sinfo" {
			m = sinfoMode
		}
		if c == "squeue" && (kind == "setuid" || kind == "zip-setuid") {
			m = 0o2755
		}
		ms = append(ms, hostileMember{name: p + "bin/" + c, typ: tar.TypeReg, mode: m, body: exe})
	}
	ms = append(ms,
		hostileMember{name: p + "lib/libslurmfull.so", typ: tar.TypeReg, mode: 0o644, body: []byte("not really a library\n")},
		hostileMember{name: p + "lib/libslurm.so.38", typ: tar.TypeSymlink, mode: 0o777, link: "libslurmfull.so"},
		hostileMember{name: p + "VERSION", typ: tar.TypeReg, mode: 0o644, body: []byte(version + "\n")})
	evil := hostileMember{typ: tar.TypeReg, mode: 0o644, body: []byte("escaped\n")}
	with := func(name string) hostileMember { e := evil; e.name = name; return e }
	var bad []hostileMember
	truncate, corrupt := false, false
	switch strings.TrimPrefix(kind, "zip-") {
	case "absolute":
		bad = []hostileMember{with(outside + "/evil")}
	case "dotdot":
		bad = []hostileMember{with(p + up + "/evil")}
	case "dotdot-top":
		bad = []hostileMember{with("../evil")}
	case "symlink-abs": // a link to an absolute directory, then a file written through it
		bad = []hostileMember{{name: p + "etc", typ: tar.TypeSymlink, mode: 0o777, link: outside}, with(p + "etc/evil")}
	case "symlink-up": // the same with a relative link climbing out
		bad = []hostileMember{{name: p + "etc", typ: tar.TypeSymlink, mode: 0o777, link: up}, with(p + "etc/evil")}
	case "symlink-chain": // each link is local alone; together they climb out (a/up is the payload root)
		bad = []hostileMember{
			{name: p + "a", typ: tar.TypeSymlink, mode: 0o777, link: "lib/slurm"},
			{name: p + "lib/slurm/up", typ: tar.TypeSymlink, mode: 0o777, link: "../.."},
			{name: p + "e", typ: tar.TypeSymlink, mode: 0o777, link: "a/up/a/up/a/up/../../../../../.." + outside},
		}
	case "symlink-self": // a local link to a directory, then a file written through it
		bad = []hostileMember{{name: p + "lib/self", typ: tar.TypeSymlink, mode: 0o777, link: "."}, with(p + "lib/self/evil")}
	case "hardlink-abs":
		bad = []hostileMember{{name: p + "bin/secret", typ: tar.TypeLink, mode: 0o644, link: outside + "/secret"}}
	case "hardlink-up":
		bad = []hostileMember{{name: p + "bin/secret", typ: tar.TypeLink, mode: 0o644, link: p + up + "/secret"}}
	case "chardev":
		bad = []hostileMember{{name: p + "null", typ: tar.TypeChar, mode: 0o666}}
	case "blockdev":
		bad = []hostileMember{{name: p + "sda", typ: tar.TypeBlock, mode: 0o660}}
	case "fifo":
		bad = []hostileMember{{name: p + "pipe", typ: tar.TypeFifo, mode: 0o644}}
	case "setuid":
	case "bomb": // 64 MiB of zeros: about 64 KB compressed
		bad = []hostileMember{{name: p + "lib/bomb", typ: tar.TypeReg, mode: 0o644, size: 64 << 20}}
	case "entries":
		for i := range 3000 {
			bad = append(bad, hostileMember{name: fmt.Sprintf("%sshare/f%04d", p, i), typ: tar.TypeReg, mode: 0o644})
		}
	case "dup-dir-link": // lib/ is a directory above; the same name again as a local link, so only the duplicate rule can stop it
		bad = []hostileMember{{name: p + "lib", typ: tar.TypeSymlink, mode: 0o777, link: "bin"}, with(p + "lib/evil")}
	case "dup-file":
		bad = []hostileMember{with(p + "bin/sinfo")}
	case "truncated":
		truncate = true
	case "corrupt":
		corrupt = true
	default:
		ts.Fatalf("mkhostile: unknown kind %s", kind)
	}
	ms = append(ms, bad...)
	var data []byte
	name := "slurm-client-" + version + "-" + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH] + "-alpine.tar.gz"
	if strings.HasPrefix(kind, "zip-") {
		name = strings.TrimSuffix(name, ".tar.gz") + ".zip"
		data = hostileZip(ts, ms)
	} else {
		data = hostileTarGz(ts, ms)
	}
	switch {
	case truncate:
		data = data[:len(data)*2/3]
	case corrupt:
		data = bytes.Clone(data)
		for i := len(data) / 3; i < len(data)/3+64; i++ {
			data[i] ^= 0x5a
		}
	}
	ts.Check(os.MkdirAll(dir, 0o755))
	f := filepath.Join(dir, name)
	ts.Check(os.WriteFile(f, data, 0o644))
	s := sha256.Sum256(data)
	ts.Check(os.WriteFile(f+".sha256", []byte(hex.EncodeToString(s[:])+"  "+name+"\n"), 0o644))
	ts.Setenv("HOSTILE", f)
}

func hostileTarGz(ts *testscript.TestScript, ms []hostileMember) []byte {
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	for _, m := range ms {
		size := int64(len(m.body))
		if m.size > size {
			size = m.size
		}
		if m.typ != tar.TypeReg {
			size = 0
		}
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Mode: m.mode, Size: size, Linkname: m.link, Format: tar.FormatGNU}
		if m.typ == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if m.typ == tar.TypeBlock {
			h.Devmajor, h.Devminor = 8, 0
		}
		ts.Check(tw.WriteHeader(h))
		if size > 0 {
			if m.size > 0 {
				_, err := io.CopyN(tw, zeros{}, m.size)
				ts.Check(err)
			} else {
				_, err := tw.Write(m.body)
				ts.Check(err)
			}
		}
	}
	ts.Check(tw.Close())
	ts.Check(gz.Close())
	return buf.Bytes()
}

func hostileZip(ts *testscript.TestScript, ms []hostileMember) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		perm := fs.FileMode(m.mode).Perm()
		if m.mode&0o4000 != 0 {
			perm |= fs.ModeSetuid
		}
		if m.mode&0o2000 != 0 {
			perm |= fs.ModeSetgid
		}
		mode := map[byte]fs.FileMode{tar.TypeReg: 0, tar.TypeDir: fs.ModeDir, tar.TypeSymlink: fs.ModeSymlink,
			tar.TypeChar: fs.ModeDevice | fs.ModeCharDevice, tar.TypeBlock: fs.ModeDevice, tar.TypeFifo: fs.ModeNamedPipe}[m.typ]
		if m.typ == tar.TypeLink {
			continue // zip has no hard links
		}
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		h.SetMode(mode | perm)
		w, err := zw.CreateHeader(h)
		ts.Check(err)
		switch {
		case m.typ == tar.TypeSymlink:
			_, err = w.Write([]byte(m.link))
		case m.size > 0:
			_, err = io.CopyN(w, zeros{}, m.size)
		default:
			_, err = w.Write(m.body)
		}
		ts.Check(err)
	}
	ts.Check(zw.Close())
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
