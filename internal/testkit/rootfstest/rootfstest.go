// Package rootfstest builds target roots laid out like real images, with
// real ELF files copied from the host, for the tests of rootfs, verify and
// their callers. Every root lives in a t.TempDir().
//
// The layouts (host arch; on x86_64 the paths are the ones in the comments):
//
//   - [Debian]: usr-merge (/bin, /sbin, /lib, /lib64 -> usr/... relative),
//     the loader in /usr/lib/x86_64-linux-gnu and /lib64/ld-linux-x86-64.so.2
//     an ABSOLUTE link to /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2, the
//     host's libc.so.6, /bin/sh -> dash, /etc/ld.so.conf including
//     ld.so.conf.d/*.conf, /etc/debian_version.
//   - [Alpine]: /lib/ld-musl-x86_64.so.1 (the host's musl loader when it has
//     one), /bin/busybox, /bin/sh and /usr/bin/env ABSOLUTE links to it,
//     /etc/alpine-release. No glibc, no /lib64.
//   - [Gcompat]: Alpine plus glibc in /usr/lib/x86_64-linux-gnu and an
//     absolute /lib64/ld-linux-x86-64.so.2 link.
//   - [Rocky]: /lib64 a real directory with the loader and libc.so.6,
//     /bin -> usr/bin, /bin/sh -> bash, /etc/redhat-release.
//   - [Distroless]: glibc loader and libc only (Debian layout), no shell,
//     /etc/ld.so.conf.d but no /etc/ld.so.conf.
package rootfstest

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"slurm-installer/internal/platform"
)

// Triplet is the host's Debian multiarch triplet.
func Triplet() string {
	if platform.Host() == platform.AArch64 {
		return "aarch64-linux-gnu"
	}
	return "x86_64-linux-gnu"
}

// HostLoader is the host glibc loader's file name and its real file.
func HostLoader(t testing.TB) (name, file string) {
	name = filepath.Base(platform.GlibcLoader(platform.Host()))
	for _, p := range []string{"/lib/" + Triplet() + "/" + name, "/usr/lib/" + Triplet() + "/" + name, "/lib64/" + name, "/lib/" + name} {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return name, r
		}
	}
	t.Skip("the host has no glibc loader to copy into fixture roots")
	return "", ""
}

// HostLib returns the host file of a glibc library (libc.so.6).
func HostLib(t testing.TB, soname string) string {
	for _, d := range []string{"/lib/" + Triplet(), "/usr/lib/" + Triplet(), "/lib64", "/usr/lib64"} {
		if r, err := filepath.EvalSymlinks(filepath.Join(d, soname)); err == nil {
			return r
		}
	}
	t.Skipf("the host has no %s to copy into fixture roots", soname)
	return ""
}

// RootDir is a new empty root directory in t.TempDir(), mode 0755 like
// the "/" of a real image (t.TempDir's 0700 would keep the unprivileged
// verification run out).
func RootDir(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// Copy copies the host file src to root/dst (an in-root path), creating
// directories, and keeps it executable.
func Copy(t testing.TB, root, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	d := filepath.Join(root, dst)
	if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(d, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// Symlink makes root/link a symlink to target, stored as given (absolute
// targets stay absolute).
func Symlink(t testing.TB, root, target, link string) {
	t.Helper()
	l := filepath.Join(root, link)
	if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, l); err != nil {
		t.Fatal(err)
	}
}

// WriteFile writes root/name.
func WriteFile(t testing.TB, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Mkdir makes directories under root.
func Mkdir(t testing.TB, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func usrMerge(t testing.TB, root string) {
	Mkdir(t, root, "usr/bin", "usr/sbin", "usr/lib/"+Triplet(), "usr/lib64", "usr/local/bin", "usr/local/lib", "etc", "tmp", "var/lib")
	for _, d := range []string{"bin", "sbin", "lib", "lib64"} {
		Symlink(t, root, "usr/"+d, d)
	}
}

func glibcUsr(t testing.TB, root string) {
	name, file := HostLoader(t)
	trip := Triplet()
	Copy(t, root, file, "/usr/lib/"+trip+"/"+name)
	Copy(t, root, HostLib(t, "libc.so.6"), "/usr/lib/"+trip+"/libc.so.6")
	abi := platform.GlibcLoader(platform.Host())
	if strings.HasPrefix(abi, "/lib64/") {
		Symlink(t, root, "/lib/"+trip+"/"+name, "/usr"+abi) // absolute, like Debian
	} else {
		Symlink(t, root, trip+"/"+name, "/usr"+abi) // /lib/ld-linux-aarch64.so.1
	}
	WriteFile(t, root, "/etc/ld.so.conf.d/"+trip+".conf",
		"# Multiarch support\n/usr/local/lib/"+trip+"\n/lib/"+trip+"\n/usr/lib/"+trip+"\n")
}

// Debian returns a Debian 12-like root.
func Debian(t testing.TB) string {
	t.Helper()
	root := RootDir(t)
	usrMerge(t, root)
	glibcUsr(t, root)
	sh, err := filepath.EvalSymlinks("/bin/dash")
	if err != nil {
		sh = GoBinary(t, platform.GoArch(platform.Host()), "")
	}
	Copy(t, root, sh, "/usr/bin/dash")
	Symlink(t, root, "dash", "/usr/bin/sh")
	WriteFile(t, root, "/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n\n")
	WriteFile(t, root, "/etc/debian_version", "12.8\n")
	WriteFile(t, root, "/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n")
	return root
}

// DebianWithMusl returns a Debian root with Debian's musl package
// installed: a musl loader beside glibc's, while /bin/sh (dash) still uses
// glibc's loader.
func DebianWithMusl(t testing.TB) string {
	t.Helper()
	root := Debian(t)
	arch := platform.Host()
	src := "/lib/ld-musl-" + arch + ".so.1"
	if _, err := os.Stat(src); err != nil {
		src = GoBinary(t, platform.GoArch(arch), "") // an ELF of the right machine
	}
	Copy(t, root, src, "/usr/lib/"+arch+"-linux-musl/libc.so")
	Symlink(t, root, "/usr/lib/"+arch+"-linux-musl/libc.so", "/lib/ld-musl-"+arch+".so.1")
	return root
}

// Distroless returns a distroless/base-like root: glibc, no shell.
func Distroless(t testing.TB) string {
	t.Helper()
	root := RootDir(t)
	usrMerge(t, root)
	glibcUsr(t, root)
	WriteFile(t, root, "/etc/os-release", "PRETTY_NAME=\"Distroless\"\nID=debian\n")
	return root
}

// Rocky returns a Rocky 9-like root with a real /lib64 directory.
func Rocky(t testing.TB) string {
	t.Helper()
	root := RootDir(t)
	Mkdir(t, root, "usr/bin", "usr/lib", "lib64", "etc/ld.so.conf.d", "tmp", "var/lib")
	Symlink(t, root, "usr/bin", "bin")
	Symlink(t, root, "usr/lib", "lib")
	name, file := HostLoader(t)
	Copy(t, root, file, "/lib64/"+name)
	Copy(t, root, HostLib(t, "libc.so.6"), "/lib64/libc.so.6")
	if platform.Host() == platform.AArch64 {
		Symlink(t, root, "../lib64/"+name, "/usr/lib/"+name)
	}
	sh, err := filepath.EvalSymlinks("/bin/bash")
	if err != nil {
		sh = GoBinary(t, platform.GoArch(platform.Host()), "")
	}
	Copy(t, root, sh, "/usr/bin/bash")
	Symlink(t, root, "bash", "/usr/bin/sh")
	WriteFile(t, root, "/etc/ld.so.conf", "include ld.so.conf.d/*.conf\n")
	WriteFile(t, root, "/etc/redhat-release", "Rocky Linux release 9.4 (Blue Onyx)\n")
	WriteFile(t, root, "/etc/os-release", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n")
	return root
}

// Alpine returns an Alpine 3.20-like root.
func Alpine(t testing.TB) string {
	t.Helper()
	root := RootDir(t)
	arch := platform.Host()
	Mkdir(t, root, "bin", "sbin", "lib", "usr/bin", "usr/lib", "usr/local/bin", "usr/local/lib", "etc/apk", "tmp", "var/lib")
	loader := "/lib/ld-musl-" + arch + ".so.1"
	src := loader
	if _, err := os.Stat(src); err != nil {
		src = GoBinary(t, platform.GoArch(arch), "") // an ELF of the right machine
	}
	Copy(t, root, src, loader)
	Symlink(t, root, "ld-musl-"+arch+".so.1", "/lib/libc.musl-"+arch+".so.1")
	bb, err := filepath.EvalSymlinks("/bin/busybox")
	if err != nil {
		bb = GoBinary(t, platform.GoArch(arch), "")
	}
	Copy(t, root, bb, "/bin/busybox")
	Symlink(t, root, "/bin/busybox", "/bin/sh")
	Symlink(t, root, "/bin/busybox", "/usr/bin/env")
	WriteFile(t, root, "/etc/alpine-release", "3.20.3\n")
	WriteFile(t, root, "/etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n")
	return root
}

// Gcompat returns an Alpine root with glibc added the way scripts/mkroot.sh
// gcompat does.
func Gcompat(t testing.TB) string {
	t.Helper()
	root := Alpine(t)
	name, file := HostLoader(t)
	trip := Triplet()
	Copy(t, root, file, "/usr/lib/"+trip+"/"+name)
	Copy(t, root, HostLib(t, "libc.so.6"), "/usr/lib/"+trip+"/libc.so.6")
	abi := platform.GlibcLoader(platform.Host())
	Symlink(t, root, "/usr/lib/"+trip+"/"+name, abi)
	WriteFile(t, root, "/etc/ld.so.conf", "include ld.so.conf.d/*.conf\n")
	WriteFile(t, root, "/etc/ld.so.conf.d/"+trip+".conf", "/usr/lib/"+trip+"\n")
	return root
}

// HelloSource is a Go program that prints "hello".
const HelloSource = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"

// GoBinary builds src (HelloSource when "") as a static binary for goarch
// (CGO_ENABLED=0) and returns its path in a temp dir.
func GoBinary(t testing.TB, goarch, src string) string {
	t.Helper()
	if src == "" {
		src = HelloSource
	}
	dir := t.TempDir()
	WriteFile(t, dir, "main.go", src)
	WriteFile(t, dir, "go.mod", "module fixture\n\ngo 1.21\n")
	out := filepath.Join(dir, "prog")
	cmd := exec.Command(goTool(t), "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s: %v\n%s", goarch, err, b)
	}
	return out
}

func goTool(t testing.TB) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go"
	}
	t.Skip("no go tool to build fixture binaries")
	return ""
}
