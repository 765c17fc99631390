package rootfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"slurm-installer/internal/platform"
	rt "slurm-installer/internal/testkit/rootfstest"
	"slurm-installer/rootfs"
)

func TestResolve(t *testing.T) {
	deb := rt.Debian(t)
	alp := rt.Alpine(t)
	trip := rt.Triplet()
	loaderName, _ := rt.HostLoader(t)
	abi := platform.GlibcLoader(platform.Host())

	// Hostile and tricky links inside the Debian root.
	rt.WriteFile(t, deb, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
	rt.Symlink(t, deb, "../../../../../../etc/passwd", "/etc/up")
	rt.Symlink(t, deb, "/etc/passwd", "/etc/abs")
	rt.Symlink(t, deb, "../../..", "/usr/bin/top")
	rt.Symlink(t, deb, "/../../..", "/usr/bin/abstop")
	rt.Symlink(t, deb, "loop-b", "/etc/loop-a")
	rt.Symlink(t, deb, "loop-a", "/etc/loop-b")
	rt.Symlink(t, deb, "/nowhere", "/etc/dangling")
	for i := 0; i < 41; i++ {
		rt.Symlink(t, deb, fmt.Sprintf("/chain/%d", i+1), fmt.Sprintf("/chain/%d", i))
	}
	rt.WriteFile(t, deb, "/chain/41", "end\n")

	tests := []struct {
		name string
		root string
		p    string
		want string // in-root path of the result; "" means an error
		err  error
	}{
		{"debian loader via absolute link", deb, abi, "/usr/lib/" + trip + "/" + loaderName, nil},
		{"debian /bin/sh via usr-merge and relative link", deb, "/bin/sh", "/usr/bin/dash", nil},
		{"debian multiarch via /lib", deb, "/lib/" + trip + "/libc.so.6", "/usr/lib/" + trip + "/libc.so.6", nil},
		{"alpine /bin/sh absolute link to busybox", alp, "/bin/sh", "/bin/busybox", nil},
		{"alpine env", alp, "/usr/bin/env", "/bin/busybox", nil},
		{"relative path is from /", deb, "etc/debian_version", "/etc/debian_version", nil},
		{"dotdot clamps at root", deb, "/../../../etc/debian_version", "/etc/debian_version", nil},
		{"relative link climbing out clamps", deb, "/etc/up", "/etc/passwd", nil},
		{"absolute link stays inside", deb, "/etc/abs", "/etc/passwd", nil},
		{"dir link climbing out", deb, "/usr/bin/top/etc/debian_version", "/etc/debian_version", nil},
		{"absolute dir link with dotdots", deb, "/usr/bin/abstop/etc/passwd", "/etc/passwd", nil},
		{"dotdot after a link is physical", deb, "/lib64/../bin/dash", "/usr/bin/dash", nil},
		{"the root itself", deb, "/", "/", nil},
		{"loop", deb, "/etc/loop-a", "", syscall.ELOOP},
		{"41 links", deb, "/chain/0", "", syscall.ELOOP},
		{"40 links", deb, "/chain/1", "/chain/41", nil},
		{"dangling", deb, "/etc/dangling", "", fs.ErrNotExist},
		{"missing", deb, "/no/such/file", "", fs.ErrNotExist},
		{"file as dir", deb, "/etc/debian_version/x", "", syscall.ENOTDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rootfs.New(tc.root)
			got, err := r.Resolve(tc.p)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Resolve(%q) = %q, %v; want error %v", tc.p, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.p, err)
			}
			if want := filepath.Join(tc.root, tc.want); got != want {
				t.Fatalf("Resolve(%q) = %q, want %q", tc.p, got, want)
			}
			if !strings.HasPrefix(got+"/", tc.root+"/") {
				t.Fatalf("Resolve(%q) = %q is outside %q", tc.p, got, tc.root)
			}
		})
	}
}

func TestLstatResolveParentGlob(t *testing.T) {
	deb := rt.Debian(t)
	r := rootfs.New(deb)
	abi := platform.GlibcLoader(platform.Host())
	fi, err := r.Lstat(abi)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("Lstat(%s) = %v, %v; want a symlink", abi, fi, err)
	}
	if target, err := r.Readlink(abi); err != nil || !strings.HasPrefix(target, "/") {
		t.Fatalf("Readlink(%s) = %q, %v; want the absolute target", abi, target, err)
	}
	fi, err = r.Stat(abi)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("Stat(%s) = %v, %v; want a regular file", abi, fi, err)
	}
	p, err := r.ResolveParent("/bin/not-yet")
	if err != nil || p != filepath.Join(deb, "usr/bin/not-yet") {
		t.Fatalf("ResolveParent = %q, %v", p, err)
	}
	if r.Exists("/bin/not-yet") || !r.Exists("/bin/sh") {
		t.Fatal("Exists is wrong")
	}
	b, err := r.ReadFile("/etc/debian_version")
	if err != nil || string(b) != "12.8\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	ents, err := r.ReadDir("/lib/" + rt.Triplet())
	if err != nil || len(ents) != 2 {
		t.Fatalf("ReadDir = %v, %v; want the loader and libc", ents, err)
	}
	got, err := r.Glob("/etc/ld.so.conf.d/*.conf")
	if err != nil || !slices.Equal(got, []string{"/etc/ld.so.conf.d/" + rt.Triplet() + ".conf"}) {
		t.Fatalf("Glob = %v, %v", got, err)
	}
	got, _ = r.Glob("/lib*/ld-linux-*")
	if len(got) != 1 || got[0] != abi {
		t.Fatalf("Glob(/lib*/ld-linux-*) = %v, want [%s]", got, abi)
	}
	if _, err := r.Glob("/etc/["); err == nil {
		t.Fatal("bad pattern: no error")
	}
}

// TestResolveStaysInside follows links with every kind of hostile target
// and checks that no result leaves the root.
func TestResolveStaysInside(t *testing.T) {
	root := t.TempDir()
	rt.Mkdir(t, root, "a/b/c")
	targets := []string{"/", "..", "../..", "../../../..", "/..", "/../..", "//etc", "../../../../tmp", ".", "a/../../..", "/a/b/c/../../../.."}
	for i, tg := range targets {
		rt.Symlink(t, root, tg, fmt.Sprintf("/a/b/c/l%d", i))
	}
	r := rootfs.New(root)
	for i := range targets {
		for _, suffix := range []string{"", "/a", "/a/b/c", "/..", "/../../.."} {
			p := fmt.Sprintf("/a/b/c/l%d%s", i, suffix)
			got, err := r.Resolve(p)
			if err != nil {
				continue
			}
			if got != root && !strings.HasPrefix(got, root+"/") {
				t.Errorf("Resolve(%q) = %q, outside %q", p, got, root)
			}
		}
	}
}

func TestDetectArch(t *testing.T) {
	host := platform.Host()
	other := platform.AArch64
	if host == platform.AArch64 {
		other = platform.X86_64
	}
	foreign := t.TempDir()
	rt.Mkdir(t, foreign, "usr/bin")
	rt.Symlink(t, foreign, "usr/bin", "bin")
	rt.Copy(t, foreign, rt.GoBinary(t, platform.GoArch(other), ""), "/usr/bin/busybox")
	rt.Symlink(t, foreign, "/bin/busybox", "/usr/bin/sh")

	scriptSh := rt.Distroless(t)
	rt.WriteFile(t, scriptSh, "/usr/bin/sh", "#!/not/elf\n")

	muslOnly := t.TempDir()
	rt.WriteFile(t, muslOnly, "/lib/ld-musl-aarch64.so.1", "not even ELF, the name tells\n")

	tests := []struct {
		name     string
		root     string
		want     string
		evidence string
	}{
		{"debian", rt.Debian(t), host, "/bin/sh -> /usr/bin/dash is an ELF " + host},
		{"alpine", rt.Alpine(t), host, "/bin/sh -> /bin/busybox is an ELF " + host},
		{"rocky", rt.Rocky(t), host, "/bin/sh -> /usr/bin/bash"},
		{"gcompat", rt.Gcompat(t), host, "/bin/sh -> /bin/busybox"},
		{"distroless: loader header", rt.Distroless(t), host, "loader"},
		{"sh is a script: loader header", scriptSh, host, "loader"},
		{"foreign arch", foreign, other, "/bin/sh -> /usr/bin/busybox is an ELF " + other},
		{"musl loader name", muslOnly, platform.AArch64, "found /lib/ld-musl-aarch64.so.1"},
		{"empty", t.TempDir(), "", "nothing in the root tells"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arch, ev, err := rootfs.DetectArch(rootfs.New(tc.root))
			if tc.want == "" {
				if err == nil || arch != "" || !strings.Contains(err.Error(), tc.evidence) {
					t.Fatalf("DetectArch = %q, %q, %v; want an error saying %q", arch, ev, err, tc.evidence)
				}
				return
			}
			if err != nil || arch != tc.want || !strings.Contains(ev, tc.evidence) {
				t.Fatalf("DetectArch = %q, %q, %v; want %q with evidence containing %q", arch, ev, err, tc.want, tc.evidence)
			}
		})
	}
}

func TestDetectLibc(t *testing.T) {
	host := platform.Host()
	abi := platform.GlibcLoader(host)
	staticSh := t.TempDir()
	rt.Copy(t, staticSh, rt.GoBinary(t, platform.GoArch(host), ""), "/bin/sh")
	tests := []struct {
		name     string
		root     string
		arch     string
		want     rootfs.Libc
		evidence []string
	}{
		{"alpine", rt.Alpine(t), host, rootfs.Musl, []string{"found /lib/ld-musl-" + host + ".so.1"}},
		{"debian", rt.Debian(t), host, rootfs.Glibc, []string{"found " + abi + " (glibc loader)"}},
		{"rocky", rt.Rocky(t), host, rootfs.Glibc, []string{"glibc loader"}},
		{"distroless", rt.Distroless(t), host, rootfs.Glibc, []string{"glibc loader"}},
		// Issue 22, defect 4: Debian's musl package adds the musl loader;
		// its /bin/sh still runs on glibc's.
		{"debian with the musl package", rt.DebianWithMusl(t), host, rootfs.Glibc,
			[]string{"found " + abi + " (glibc loader), which /bin/sh -> /usr/bin/dash uses", "a musl loader /lib/ld-musl-" + host + ".so.1 is present too"}},
		{"gcompat is musl with a glibc loader too", rt.Gcompat(t), host, rootfs.Musl,
			[]string{"found /lib/ld-musl-", "glibc loader " + abi + " is present too", "/bin/sh"}},
		{"arch unknown tries all", rt.Alpine(t), "", rootfs.Musl, []string{"ld-musl"}},
		{"static shell only", staticSh, host, rootfs.Unknown, []string{"no musl or glibc dynamic loader", "statically linked"}},
		{"empty", t.TempDir(), host, rootfs.Unknown, []string{"looked for /lib/ld-musl-" + host}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			libc, ev := rootfs.DetectLibc(rootfs.New(tc.root), tc.arch)
			if libc != tc.want {
				t.Fatalf("DetectLibc = %q (%s), want %q", libc, ev, tc.want)
			}
			for _, e := range tc.evidence {
				if !strings.Contains(ev, e) {
					t.Errorf("evidence %q does not say %q", ev, e)
				}
			}
		})
	}
}

func TestLibDirs(t *testing.T) {
	host := platform.Host()
	trip := rt.Triplet()
	alpPath := rt.Alpine(t)
	rt.WriteFile(t, alpPath, "/etc/ld-musl-"+host+".path", "/lib:/usr/local/lib:/usr/lib\n/usr/local/slurm/lib\n")
	debExtra := rt.Debian(t)
	rt.WriteFile(t, debExtra, "/etc/ld.so.conf.d/slurm.conf", "/usr/local/slurm/lib # bundle\n/usr/local/slurm/lib/slurm\n")
	rt.WriteFile(t, debExtra, "/etc/ld.so.conf.d/loop.conf", "include /etc/ld.so.conf\n")

	tests := []struct {
		name      string
		root      string
		libc      rootfs.Libc
		want      []string // must be present, in this order
		wantNot   []string
		wantExact bool
	}{
		{"alpine defaults", rt.Alpine(t), rootfs.Musl, []string{"/lib", "/usr/local/lib", "/usr/lib"}, nil, true},
		{"musl path replaces", alpPath, rootfs.Musl, []string{"/lib", "/usr/local/lib", "/usr/lib", "/usr/local/slurm/lib"}, nil, true},
		{"debian ld.so.conf first", rt.Debian(t), rootfs.Glibc, []string{"/usr/local/lib/" + trip, "/lib/" + trip, "/usr/lib/" + trip, "/lib64", "/usr/lib"}, nil, false},
		{"debian slurm.conf included, loop survives", debExtra, rootfs.Glibc, []string{"/usr/local/slurm/lib", "/usr/local/slurm/lib/slurm", "/lib/" + trip}, nil, false},
		{"rocky relative include", rt.Rocky(t), rootfs.Glibc, []string{"/lib64", "/usr/lib64"}, nil, false},
		{"distroless has no ld.so.conf", rt.Distroless(t), rootfs.Glibc, []string{"/lib/" + trip}, []string{"/usr/local/lib/" + trip}, false},
		{"unknown is the union", t.TempDir(), rootfs.Unknown, []string{"/lib64", "/usr/local/lib"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rootfs.LibDirs(rootfs.New(tc.root), tc.libc, host)
			if tc.wantExact && !slices.Equal(got, tc.want) {
				t.Fatalf("LibDirs = %v, want %v", got, tc.want)
			}
			last := -1
			for _, w := range tc.want {
				i := slices.Index(got, w)
				if i < 0 || i < last {
					t.Fatalf("LibDirs = %v, want %v in that order", got, tc.want)
				}
				last = i
			}
			for _, w := range tc.wantNot {
				if slices.Contains(got, w) {
					t.Fatalf("LibDirs = %v, must not contain %s", got, w)
				}
			}
		})
	}
	if got := rootfs.DefaultLibDirs(rootfs.Glibc, platform.AArch64); got[0] != "/lib/aarch64-linux-gnu" {
		t.Errorf("DefaultLibDirs(glibc, aarch64) = %v", got)
	}
}

func TestDistro(t *testing.T) {
	ubuntu := t.TempDir()
	rt.WriteFile(t, ubuntu, "/usr/lib/os-release", "ID=ubuntu\nID_LIKE=debian\n")
	rt.Symlink(t, ubuntu, "../usr/lib/os-release", "/etc/os-release")
	for name, tc := range map[string]struct{ root, want string }{
		"alpine": {rt.Alpine(t), "alpine"}, "debian": {rt.Debian(t), "debian"}, "rocky": {rt.Rocky(t), "rhel"},
		"distroless": {rt.Distroless(t), "debian"}, "ubuntu": {ubuntu, "debian"}, "empty": {t.TempDir(), ""},
	} {
		if got := rootfs.Distro(rootfs.New(tc.root)); got != tc.want {
			t.Errorf("%s: Distro = %q, want %q", name, got, tc.want)
		}
	}
}

func TestNewRelative(t *testing.T) {
	wd, _ := os.Getwd()
	if r := rootfs.New("."); r.Dir != wd {
		t.Fatalf("New(.) = %q, want %q", r.Dir, wd)
	}
	if r := rootfs.New(""); r.Dir != "/" {
		t.Fatalf("New(\"\") = %q", r.Dir)
	}
}
