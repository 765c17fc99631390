// Package testbundle builds fake SLURM client bundles for tests: a static
// fake sinfo that behaves like the real one where the installer cares
// (needs a slurm.conf whose PluginDir exists, prints "slurm VERSION"), packed
// in the AppHub tarball layout with a .sha256 sidecar. It is for tests only.
package testbundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// HostArch is the AppHub spelling of this host's architecture.
var HostArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]

// commands are the client commands every fake bundle carries.
var commands = []string{"sinfo", "squeue", "scontrol", "sbatch", "srun", "scancel"}

var builds sync.Map // version -> string (path) or error

// FakeSinfo builds (once per version and process) a static fake SLURM
// client command that prints "slurm VERSION" for --version.
func FakeSinfo(version string) (string, error) {
	if v, ok := builds.Load(version); ok {
		if err, isErr := v.(error); isErr {
			return "", err
		}
		return v.(string), nil
	}
	dir, err := os.MkdirTemp("", "fakesinfo-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fakeSinfoSrc), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fakesinfo\n\ngo 1.22\n"), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "sinfo")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		err = fmt.Errorf("build fake sinfo: %v: %s", err, b)
		builds.Store(version, err)
		return "", err
	}
	builds.Store(version, out)
	return out, nil
}

// Options describe a bundle.
type Options struct {
	Version string
	// SinfoVersion is what the commands print (default Version): a
	// different value makes a bundle that fails verification.
	SinfoVersion string
	// Padding is the size of lib/padding.bin, random (incompressible)
	// bytes, to make download and extraction take time and space.
	Padding int64
	// Commands overrides the command list (default: sinfo, squeue,
	// scontrol, sbatch, srun, scancel).
	Commands []string
}

// Bundle is a written bundle.
type Bundle struct {
	Path     string // the .tar.gz
	SHA256   string
	Unpacked int64 // bytes of regular files in the payload
}

// Write writes dir/pkgs/slurm-apk/slurm-client-V-ARCH-alpine.tar.gz and its
// .sha256 sidecar.
func Write(dir string, o Options) (*Bundle, error) {
	if o.SinfoVersion == "" {
		o.SinfoVersion = o.Version
	}
	if o.Commands == nil {
		o.Commands = commands
	}
	bin, err := FakeSinfo(o.SinfoVersion)
	if err != nil {
		return nil, err
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	apk := filepath.Join(dir, "pkgs", "slurm-apk")
	if err := os.MkdirAll(apk, 0o755); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("slurm-client-%s-%s-alpine.tar.gz", o.Version, HostArch)
	p := filepath.Join(apk, name)
	f, err := os.Create(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(f, h), gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	b := &Bundle{Path: p}
	add := func(name string, mode int64, typ byte, size int64, body io.Reader, link string) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Typeflag: typ, Size: size, Linkname: link, Uname: "root", Gname: "root"}); err != nil {
			return err
		}
		if typ == tar.TypeReg {
			b.Unpacked += size
			_, err := io.CopyN(tw, body, size)
			return err
		}
		return nil
	}
	bytesOf := func(s []byte) (int64, io.Reader) { return int64(len(s)), bytes.NewReader(s) }
	var errs []error
	must := func(err error) { errs = append(errs, err) }
	for _, d := range []string{"usr/", "usr/local/", "usr/local/slurm/", "usr/local/slurm/bin/", "usr/local/slurm/lib/", "usr/local/slurm/lib/slurm/"} {
		must(add(d, 0o755, tar.TypeDir, 0, nil, ""))
	}
	for _, c := range o.Commands {
		n, r := bytesOf(exe)
		must(add("usr/local/slurm/bin/"+c, 0o755, tar.TypeReg, n, r, ""))
	}
	n, r := bytesOf([]byte("not really a library\n"))
	must(add("usr/local/slurm/lib/libslurmfull.so", 0o644, tar.TypeReg, n, r, ""))
	must(add("usr/local/slurm/lib/libslurm.so.38", 0o777, tar.TypeSymlink, 0, nil, "libslurmfull.so"))
	n, r = bytesOf([]byte("plugin\n"))
	must(add("usr/local/slurm/lib/slurm/select_cons_tres.so", 0o644, tar.TypeReg, n, r, ""))
	if o.Padding > 0 {
		must(add("usr/local/slurm/lib/padding.bin", 0o644, tar.TypeReg, o.Padding, rand.Reader, ""))
	}
	n, r = bytesOf([]byte(o.Version + "\n"))
	must(add("usr/local/slurm/VERSION", 0o644, tar.TypeReg, n, r, ""))
	must(tw.Close())
	must(gz.Close())
	must(f.Close())
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	b.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err := os.WriteFile(p+".sha256", []byte(b.SHA256+"  "+name+"\n"), 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

const fakeSinfoSrc = `package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

var version = "0.0.0"

func main() {
	name := filepath.Base(os.Args[0])
	// A test can make every run slow: /etc/slurm-fake-sleep holds seconds.
	if b, err := os.ReadFile("/etc/slurm-fake-sleep"); err == nil {
		if s, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			time.Sleep(time.Duration(s * float64(time.Second)))
		}
	}
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
	controller := "" // FakeControllerVersion=V in the conf: scontrol show config reaches a controller of V
	accepts := ""    // FakeControllerAccepts=22.05,21.08: the client majors it talks to (default all)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.EqualFold(strings.TrimSpace(k), "FakeControllerAccepts") {
			accepts = strings.TrimSpace(v)
		}
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.EqualFold(strings.TrimSpace(k), "FakeControllerVersion") {
			controller = strings.TrimSpace(v)
		}
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.EqualFold(strings.TrimSpace(k), "PluginDir") {
			if _, err := os.Stat(strings.TrimSpace(v)); err != nil {
				fmt.Fprintf(os.Stderr, "%s: error: Couldn't find the specified plugin name for cred/munge looking at all files\n%s: fatal: failed to initialize cred plugin\n", name, name)
				os.Exit(1)
			}
		}
	}
	f.Close()
	if len(os.Args) == 3 && os.Args[1] == "show" && os.Args[2] == "config" {
		if controller == "" {
			fmt.Fprintf(os.Stderr, "%s: error: slurm_load_ctl_conf error: Unable to contact slurm controller (connect failure)\n", name)
			os.Exit(1)
		}
		if major := strings.Join(strings.SplitN(version, ".", 3)[:2], "."); accepts != "" && !strings.Contains(","+accepts+",", ","+major+",") {
			fmt.Fprintf(os.Stderr, "%s: error: slurm_load_ctl_conf error: Zero Bytes were transmitted or received\n", name)
			os.Exit(1)
		}
		fmt.Printf("Configuration data as of 2026-12-01T00:00:00\nClusterName             = fake\nSLURM_VERSION           = %s\n", controller)
		return
	}
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
