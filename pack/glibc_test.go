package pack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/rootfs"
	"slurm-installer/verify"
)

// newGlibcPayload is a payload whose bin/sinfo needs GLIBC_2.38 (as Debian
// 13's 24.11.5 does): linked against a stub libc.so.6 that defines it.
func newGlibcPayload(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal("these tests build their ELF fixtures with gcc:", err)
	}
	b := t.TempDir()
	os.WriteFile(filepath.Join(b, "libc.map"), []byte("GLIBC_2.2.5 { global: s225; local: *; };\nGLIBC_2.38 { global: s238; } GLIBC_2.2.5;\n"), 0o644)
	os.WriteFile(filepath.Join(b, "libc.c"), []byte("int s225(void){return 0;} int s238(void){return 0;}\n"), 0o644)
	os.WriteFile(filepath.Join(b, "cmd.c"), []byte("int s238(void);\nvoid _start(void){ s238(); for(;;); }\n"), 0o644)
	loader := "/lib64/ld-linux-x86-64.so.2"
	for _, c := range [][]string{
		{cc, "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libc.so.6", "-Wl,--version-script=libc.map", "-o", "libc.so.6", "libc.c"},
		{cc, "-nostdlib", "-o", "sinfo", "cmd.c", "libc.so.6", "-Wl,--dynamic-linker=" + loader},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = b
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	d := filepath.Join(t.TempDir(), "slurm")
	os.MkdirAll(filepath.Join(d, "bin"), 0o755)
	os.MkdirAll(filepath.Join(d, "lib", "slurm"), 0o755)
	if err := copyFile(filepath.Join(b, "sinfo"), filepath.Join(d, "bin/sinfo"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d, "VERSION"), []byte("24.11.5\n"), 0o644)
	return d
}

// The host (Debian 12) has glibc 2.36: packing a 2.38 payload with it as
// the sysroot is refused, naming both versions (issue 14 item 3).
func TestSelfContainedRefusesOldSysroot(t *testing.T) {
	if _, err := lookPath("patchelf"); err != nil {
		t.Fatal("needs patchelf (apt-get install patchelf)")
	}
	host, _, err := rootfs.GlibcVersion(rootfs.New("/"), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if rootfs.CompareVersions(host, "2.38") >= 0 {
		t.Skipf("the host's glibc %s is not older than 2.38", host)
	}
	out := t.TempDir()
	_, err = Pack(context.Background(), Options{From: newGlibcPayload(t), Version: "24.11.5", Arch: "x86_64", Out: out, SelfContained: true})
	if err == nil || failure.ClassOf(err) != failure.Usage {
		t.Fatalf("got %v (class %v), want a usage error", err, failure.ClassOf(err))
	}
	for _, want := range []string{"needs glibc 2.38", "GLIBC_2.38, needed by bin/sinfo", "the sysroot / has glibc " + host} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The remedy is a sysroot with the glibc the payload needs (the app
	// words it with --sysroot).
	if _, fix := failure.Advice(err); len(fix) != 1 || fix[0] != (failure.Remedy{Step: failure.GiveSysroot, Arg: "2.38"}) {
		t.Errorf("remedies %+v, want GiveSysroot 2.38", fix)
	}
	t.Logf("%v\nremedies: %+v", err, failure.Steps(err))
	if _, err := os.Stat(filepath.Join(out, "pkgs")); err == nil {
		t.Error("a refused pack wrote into --out")
	}
}

// An error after the temporary copy exists used to call a nil cleanup in
// a deferred func and panic (issue 14 item 3). A sysroot with a recent
// enough libc.so.6 but no loader fails in planDeps, after the copy.
func TestSelfContainedErrorAfterCopy(t *testing.T) {
	if _, err := lookPath("patchelf"); err != nil {
		t.Fatal("needs patchelf (apt-get install patchelf)")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	sys := t.TempDir()
	os.MkdirAll(filepath.Join(sys, "lib/x86_64-linux-gnu"), 0o755)
	libc, err := rootfs.New("/").Resolve("/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(libc, filepath.Join(sys, "lib/x86_64-linux-gnu/libc.so.6"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := hostELFPayload(t)
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("pack panicked: %v", r)
		}
	}()
	_, err = Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: t.TempDir(), SelfContained: true, Sysroot: sys})
	if err == nil || failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "no glibc loader") {
		t.Fatalf("got %v, want the usage error about the missing loader", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left in TMPDIR: %v", ents)
	}
}

// index.json records each bundle's glibc need and series.
func TestIndexRecordsGlibcAndSeries(t *testing.T) {
	src := hostELFPayload(t)
	want, _, err := verify.GlibcNeed([]string{filepath.Join(src, "bin/sinfo")})
	if err != nil || want == "" {
		t.Fatalf("GlibcNeed(/bin/ls) = %q, %v", want, err)
	}
	r, err := Pack(context.Background(), Options{From: src, Version: "22.05.8", Arch: "x86_64", Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(r.Index)
	idx, err := index.Parse(raw)
	if err != nil || len(idx.Bundles) != 1 {
		t.Fatalf("index: %v %s", err, raw)
	}
	b := idx.Bundles[0]
	if b.Glibc != want || b.Series != "22.05" || b.SelfContained {
		t.Errorf("bundle %+v, want glibc %s series 22.05", b, want)
	}
	if !strings.Contains(string(raw), `"glibc": "`+want+`"`) || !strings.Contains(string(raw), `"series": "22.05"`) {
		t.Errorf("index.json:\n%s", raw)
	}
}

// A sysroot unpacked from .debs has the loader in /usr/lib/<triplet> and
// no /lib64 link yet: the loader is still found there.
func TestPlanDepsSysrootWithoutLib64(t *testing.T) {
	d := hostELFPayload(t)
	sys := t.TempDir()
	host := rootfs.New("/")
	for _, l := range []string{"ld-linux-x86-64.so.2", "libc.so.6", "libnss_files.so.2", "libnss_dns.so.2", "libresolv.so.2", "libgcc_s.so.1", "libselinux.so.1", "libpcre2-8.so.0"} {
		p, err := host.Resolve("/lib/x86_64-linux-gnu/" + l)
		if err != nil {
			t.Skipf("host has no %s", l)
		}
		os.MkdirAll(filepath.Join(sys, "usr/lib/x86_64-linux-gnu"), 0o755)
		if err := copyFile(p, filepath.Join(sys, "usr/lib/x86_64-linux-gnu", l), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := planDeps(d, rootfs.New(sys), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Loader != filepath.Join(sys, "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2") {
		t.Errorf("loader %s", plan.Loader)
	}
}
