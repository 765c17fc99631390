package pack

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/rootfs"
)

// hostELFPayload is a payload whose bin/sinfo is this host's /bin/ls (a
// dynamically linked glibc executable) and whose lib/ holds lib, when given,
// copied from the host. It skips where the host has no such binary.
func hostELFPayload(t *testing.T, libs ...string) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs a linux/amd64 host with glibc")
	}
	f, err := elf.Open("/bin/ls")
	if err != nil {
		t.Skipf("no ELF /bin/ls: %v", err)
	}
	interp, _ := rootfs.Interp(f)
	f.Close()
	if !strings.Contains(interp, "ld-linux") {
		t.Skipf("/bin/ls is not a glibc executable (interpreter %q)", interp)
	}
	d := filepath.Join(t.TempDir(), "slurm")
	os.MkdirAll(filepath.Join(d, "bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "lib", "slurm"), 0o755)
	if err := copyFile("/bin/ls", filepath.Join(d, "bin/sinfo"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		p, err := rootfs.New("/").Resolve("/lib/x86_64-linux-gnu/" + l)
		if err != nil {
			t.Skipf("host has no %s", l)
		}
		if err := copyFile(p, filepath.Join(d, "lib", l), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(d, "VERSION"), []byte("22.05.8\n"), 0o644)
	return d
}

func TestPlanDepsWalksNeededAndRuntimeLibs(t *testing.T) {
	d := hostELFPayload(t)
	plan, err := planDeps(d, rootfs.New("/"), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if plan.LoaderRel != "lib/ld-linux-x86-64.so.2" || plan.Loader == "" {
		t.Errorf("loader %q from %q; want lib/ld-linux-x86-64.so.2 from the host", plan.LoaderRel, plan.Loader)
	}
	for _, want := range append([]string{"libc.so.6"}, runtimeLibs...) {
		if _, ok := plan.Libs[want]; !ok {
			t.Errorf("plan lacks %s; has %v", want, keys(plan.Libs))
		}
	}
	// Transitive: every library the plan takes has its own DT_NEEDED covered.
	for name, host := range plan.Libs {
		_, needed, _, err := readELF(host, elf.EM_X86_64)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needed {
			if _, ok := plan.Libs[n]; !ok && n != "ld-linux-x86-64.so.2" {
				t.Errorf("%s needs %s, which the plan lacks", name, n)
			}
		}
	}
	if len(plan.ELFs) != 1 || plan.ELFs[0].rel != "bin/sinfo" || !plan.ELFs[0].executable() {
		t.Errorf("ELFs in the payload: %+v", plan.ELFs)
	}
}

func TestPlanDepsKeepsPayloadLibs(t *testing.T) {
	d := hostELFPayload(t, "libselinux.so.1")
	_, needed, _, _ := readELF(filepath.Join(d, "bin/sinfo"), elf.EM_X86_64)
	if !contains(needed, "libselinux.so.1") {
		t.Skip("/bin/ls does not need libselinux here")
	}
	plan, err := planDeps(d, rootfs.New("/"), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plan.Libs["libselinux.so.1"]; ok {
		t.Error("libselinux.so.1 is in the payload's lib/ but the plan takes it from the sysroot")
	}
	// Its own dependencies (libpcre2-8) still come from the sysroot.
	_, sel, _, _ := readELF(filepath.Join(d, "lib/libselinux.so.1"), elf.EM_X86_64)
	for _, n := range sel {
		if _, ok := plan.Libs[n]; !ok && n != "ld-linux-x86-64.so.2" {
			t.Errorf("the payload's libselinux needs %s, which the plan lacks", n)
		}
	}
}

func TestPlanDepsEmptySysroot(t *testing.T) {
	d := hostELFPayload(t)
	_, err := planDeps(d, rootfs.New(t.TempDir()), "x86_64")
	if err == nil || failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "loader") {
		t.Fatalf("an empty sysroot: got %v, want a usage error about the missing loader", err)
	}
}

func TestSelfContainedNeedsPatchelf(t *testing.T) {
	old := lookPath
	lookPath = func(string) (string, error) { return "", errors.New("not found") }
	defer func() { lookPath = old }()
	out := t.TempDir()
	_, err := Pack(context.Background(), Options{From: payload(t), Version: "22.05.8", Arch: "x86_64", Out: out, SelfContained: true})
	if err == nil || failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "needs patchelf") ||
		!slices.Contains(failure.Steps(err), failure.GivePatchelf) {
		t.Fatalf("got %v (remedies %v), want a usage error naming patchelf", err, failure.Steps(err))
	}
	if _, err := os.Stat(filepath.Join(out, "pkgs")); err == nil {
		t.Error("a refused pack wrote into --out")
	}
}

func TestRunpath(t *testing.T) {
	dirs := []string{"lib"}
	for rel, want := range map[string]string{
		"bin/sinfo":             "$ORIGIN/../lib",
		"lib/libc.so.6":         "$ORIGIN",
		"lib/slurm/select_a.so": "$ORIGIN/..",
	} {
		if got := runpath(rel, dirs); got != want {
			t.Errorf("runpath(%s) = %q, want %q", rel, got, want)
		}
	}
	if got := runpath("lib/slurm/x.so", []string{"lib", "lib/slurm"}); got != "$ORIGIN/..:$ORIGIN" {
		t.Errorf("two dirs: %q", got)
	}
	if got := absRunpath("/usr/local/slurm", dirs); got != "/usr/local/slurm/lib" {
		t.Errorf("absRunpath: %q", got)
	}
}

// TestPackSelfContained runs the real thing with the host's patchelf: the
// input is untouched, the tarball's ELFs name the bundled loader and their
// RUNPATHs, VERSION and the index say self-contained.
func TestPackSelfContained(t *testing.T) {
	if _, err := lookPath("patchelf"); err != nil {
		t.Skip("no patchelf on this host")
	}
	src := hostELFPayload(t)
	before := treeHash(t, src)
	out := t.TempDir()
	r, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: out, SelfContained: true, Prefix: "/opt/slurm"})
	if err != nil {
		t.Fatal(err)
	}
	if treeHash(t, src) != before {
		t.Error("pack --self-contained modified its input")
	}
	if !contains(r.SystemLibs, "lib/libc.so.6") || !contains(r.SystemLibs, "lib/ld-linux-x86-64.so.2") {
		t.Errorf("SystemLibs %v", r.SystemLibs)
	}
	x := t.TempDir()
	untar(t, r.Tarball, x)
	p := filepath.Join(x, "usr/local/slurm")
	v, _ := os.ReadFile(filepath.Join(p, "VERSION"))
	if string(v) != "22.05.8\nself_contained=true\nprefix=/opt/slurm\n" {
		t.Errorf("VERSION = %q", v)
	}
	f, err := elf.Open(filepath.Join(p, "bin/sinfo"))
	if err != nil {
		t.Fatal(err)
	}
	interp, _ := rootfs.Interp(f)
	rp, _ := f.DynString(elf.DT_RUNPATH)
	f.Close()
	if interp != "/opt/slurm/lib/ld-linux-x86-64.so.2" || len(rp) != 1 || rp[0] != "/opt/slurm/lib" {
		t.Errorf("bin/sinfo: interpreter %q RUNPATH %q", interp, rp)
	}
	f, err = elf.Open(filepath.Join(p, "lib/libc.so.6"))
	if err != nil {
		t.Fatal(err)
	}
	rp, _ = f.DynString(elf.DT_RUNPATH)
	f.Close()
	if len(rp) != 1 || rp[0] != "$ORIGIN" {
		t.Errorf("lib/libc.so.6 RUNPATH %q, want $ORIGIN (NSS modules are dlopened through it)", rp)
	}
	raw, _ := os.ReadFile(r.Index)
	idx, err := index.Parse(raw)
	if err != nil || len(idx.Bundles) != 1 || !idx.Bundles[0].SelfContained || idx.Bundles[0].Prefix != "/opt/slurm" {
		t.Errorf("index: %v %+v", err, idx)
	}
}

func untar(t *testing.T, tgz, dir string) {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			os.WriteFile(p, b, fs.FileMode(h.Mode))
		}
	}
}

func treeHash(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		io.WriteString(h, p+info.Mode().String())
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
