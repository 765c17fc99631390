package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"slurm-installer/internal/failure"
	rt "slurm-installer/internal/testkit/rootfstest"
	"slurm-installer/rootfs"
)

// Version scripts for stub libraries that define the symbol versions of a
// newer distribution (Debian 13: glibc 2.41, GCC 14's libstdc++) and of an
// older one, so tests can fabricate "needs GLIBC_2.38" without a second
// distribution: a file linked against the stub needs exactly the versions
// of the symbols it uses.
const (
	libcNew = `GLIBC_2.2.5 { global: s225; local: *; };
GLIBC_2.34 { global: s234; } GLIBC_2.2.5;
GLIBC_2.36 { global: s236; } GLIBC_2.34;
GLIBC_2.38 { global: s238; } GLIBC_2.36;
GLIBC_2.39 { global: s239; } GLIBC_2.38;
GLIBC_PRIVATE { global: spriv; } GLIBC_2.39;
`
	libcSrc     = "int s225(void){return 0;} int s234(void){return 0;} int s236(void){return 0;} int s238(void){return 0;} int s239(void){return 0;} int spriv(void){return 0;}\n"
	stdcxxNew   = "GLIBCXX_3.4 { global: x34; local: *; };\nGLIBCXX_3.4.30 { global: x3430; } GLIBCXX_3.4;\nGLIBCXX_3.4.32 { global: x3432; } GLIBCXX_3.4.30;\nCXXABI_1.3 { global: c13; };\n"
	stdcxxOld   = "GLIBCXX_3.4 { global: x34; local: *; };\nGLIBCXX_3.4.30 { global: x3430; } GLIBCXX_3.4;\nCXXABI_1.3 { global: c13; };\n"
	stdcxxSrc   = "int x34(void){return 0;} int x3430(void){return 0;} int x3432(void){return 0;} int c13(void){return 0;}\n"
	stdcxxOSrc  = "int x34(void){return 0;} int x3430(void){return 0;} int c13(void){return 0;}\n"
	cmd238Src   = "int s225(void); int s238(void);\nvoid _start(void){ s225(); s238(); for(;;); }\n"
	plugin39Src = "int s239(void); int s236(void);\nint plugin_init(void){ return s239() + s236(); }\n"
	lib236Src   = "int s236(void);\nint lib_init(void){ return s236(); }\n"
	cxxUserSrc  = "int x3432(void); int s225(void);\nint cxx_init(void){ return x3432() + s225(); }\n"
	// libm's own highest GLIBC_ version is older than its glibc release
	// (Debian 12's libm.so.6 defines up to GLIBC_2.35 in glibc 2.36).
	libmOld  = "GLIBC_2.2.5 { global: m225; local: *; };\nGLIBC_2.35 { global: m235; } GLIBC_2.2.5;\n"
	libmNew  = "GLIBC_2.2.5 { global: m225; local: *; };\nGLIBC_2.35 { global: m235; } GLIBC_2.2.5;\nGLIBC_2.39 { global: m239; } GLIBC_2.35;\n"
	libmSrc  = "int m225(void){return 0;} int m235(void){return 0;} int m239(void){return 0;}\n"
	mUserSrc = "int m239(void); int s225(void);\nint lua_init(void){ return m239() + s225(); }\n"
)

var (
	symOnce sync.Once
	symDir  string
	symErr  error
)

// symBins builds, once, into binsDir/sym:
//
//	new/libc.so.6        stub libc defining GLIBC_2.2.5 ... GLIBC_2.39 (Debian 13-like)
//	new/libstdc++.so.6   stub defining GLIBCXX_3.4 ... 3.4.32
//	old/libstdc++.so.6   stub defining GLIBCXX_3.4 ... 3.4.30 (Debian 12-like)
//	cmd238               executable, host loader, needs GLIBC_2.38 from libc.so.6
//	plugin239.so         needs GLIBC_2.39 and GLIBC_2.36
//	lib236.so            needs GLIBC_2.36 only
//	cxxuser.so           needs GLIBCXX_3.4.32 from libstdc++.so.6
func symBins(t *testing.T) string {
	t.Helper()
	symOnce.Do(func() {
		d := filepath.Join(binsDir, "sym")
		for _, sub := range []string{"new", "old"} {
			if symErr = os.MkdirAll(filepath.Join(d, sub), 0o755); symErr != nil {
				return
			}
		}
		files := map[string]string{"libc.map": libcNew, "libc.c": libcSrc, "cxxnew.map": stdcxxNew, "cxx.c": stdcxxSrc,
			"cxxold.map": stdcxxOld, "cxxo.c": stdcxxOSrc, "cmd.c": cmd238Src, "plugin.c": plugin39Src, "lib.c": lib236Src, "cxxuser.c": cxxUserSrc,
			"mold.map": libmOld, "mnew.map": libmNew, "libm.c": libmSrc, "muser.c": mUserSrc}
		for n, c := range files {
			if symErr = os.WriteFile(filepath.Join(d, n), []byte(c), 0o644); symErr != nil {
				return
			}
		}
		cc, err := exec.LookPath("gcc")
		if err != nil {
			symErr = err
			return
		}
		so := func(out, soname, vmap, src string, libs ...string) []string {
			a := []string{cc, "-shared", "-fPIC", "-nostdlib", "-o", out, src}
			if soname != "" {
				a = append(a, "-Wl,-soname,"+soname)
			}
			if vmap != "" {
				a = append(a, "-Wl,--version-script="+vmap)
			}
			return append(a, libs...)
		}
		cmds := [][]string{
			so("new/libc.so.6", "libc.so.6", "libc.map", "libc.c"),
			so("new/libstdc++.so.6", "libstdc++.so.6", "cxxnew.map", "cxx.c"),
			so("old/libstdc++.so.6", "libstdc++.so.6", "cxxold.map", "cxxo.c"),
			{cc, "-nostdlib", "-o", "cmd238", "cmd.c", "new/libc.so.6", "-Wl,--dynamic-linker=" + hostLoaderPath()},
			so("plugin239.so", "", "", "plugin.c", "new/libc.so.6"),
			so("lib236.so", "lib236.so", "", "lib.c", "new/libc.so.6"),
			so("cxxuser.so", "cxxuser.so", "", "cxxuser.c", "new/libstdc++.so.6", "new/libc.so.6"),
			so("old/libm.so.6", "libm.so.6", "mold.map", "libm.c"),
			so("new/libm.so.6", "libm.so.6", "mnew.map", "libm.c"),
			so("muser.so", "muser.so", "", "muser.c", "new/libm.so.6", "new/libc.so.6"),
		}
		for _, c := range cmds {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Dir = d
			if b, err := cmd.CombinedOutput(); err != nil {
				symErr = &exec.Error{Name: strings.Join(c, " ") + ": " + string(b), Err: err}
				return
			}
		}
		symDir = d
	})
	if symErr != nil {
		t.Fatal(symErr)
	}
	return symDir
}

// debian13 is a Debian root whose libc.so.6 defines up to GLIBC_2.39, put
// there through an ABSOLUTE link, as an image might have it.
func debian13(t *testing.T, s string) string {
	root := rt.Debian(t)
	lib := "/usr/lib/" + rt.Triplet() + "/libc.so.6"
	if err := os.Remove(filepath.Join(root, lib)); err != nil {
		t.Fatal(err)
	}
	rt.Copy(t, root, filepath.Join(s, "new/libc.so.6"), "/opt/glibc-2.39/libc.so.6")
	rt.Symlink(t, root, "/opt/glibc-2.39/libc.so.6", lib)
	return root
}

func TestGlibcVersion(t *testing.T) {
	s := symBins(t)
	// The host's own libc, in a root laid out like Debian's.
	host, file, err := rootfs.GlibcVersion(rootfs.New(rt.Debian(t)), "")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^2\.\d+$`).MatchString(host) || file != "/lib/"+rt.Triplet()+"/libc.so.6" {
		t.Errorf("host glibc = %q from %s", host, file)
	}
	if out, err := exec.Command("getconf", "GNU_LIBC_VERSION").Output(); err == nil {
		if want := strings.TrimPrefix(strings.TrimSpace(string(out)), "glibc "); want != host {
			t.Errorf("GlibcVersion = %s, getconf says %s", host, want)
		}
	}
	v, _, err := rootfs.GlibcVersion(rootfs.New(debian13(t, s)), "")
	if err != nil || v != "2.39" {
		t.Errorf("stub root: %q, %v; want 2.39", v, err)
	}
	if _, _, err := rootfs.GlibcVersion(rootfs.New(rt.Alpine(t)), ""); err == nil {
		t.Error("an Alpine root has no glibc version")
	}
}

func TestGlibcNeed(t *testing.T) {
	s := symBins(t)
	dir := payload(t, file("bin/sinfo", filepath.Join(s, "cmd238")), file("lib/lib236.so", filepath.Join(s, "lib236.so")),
		file("lib/slurm/x.so", filepath.Join(s, "plugin239.so")), text("VERSION", "24.11.5\n"))
	need, by, err := PayloadGlibcNeed(dir)
	if err != nil || need != "2.39" || strings.Join(by, ",") != "lib/slurm/x.so" {
		t.Errorf("PayloadGlibcNeed = %q %v %v", need, by, err)
	}
	need, by, err = GlibcNeed([]string{filepath.Join(s, "cmd238"), filepath.Join(s, "lib236.so"), filepath.Join(dir, "VERSION")})
	if err != nil || need != "2.38" || len(by) != 1 {
		t.Errorf("GlibcNeed = %q %v %v", need, by, err)
	}
	if need, _, _ := GlibcNeed([]string{goBin(t, "amd64", rt.HelloSource)}); need != "" {
		t.Errorf("a static Go binary needs %q", need)
	}
}

func TestPreflightSymbolVersions(t *testing.T) {
	s := symBins(t)
	in := func(p string) string { return filepath.Join(s, p) }
	bundle := []entry{file("bin/sinfo", in("cmd238")), file("lib/lib236.so", in("lib236.so")),
		file("lib/slurm/plugin_a.so", in("plugin239.so")), file("lib/slurm/plugin_b.so", in("plugin239.so"))}
	oldLibm := rt.Debian(t)
	rt.Copy(t, oldLibm, in("old/libm.so.6"), "/usr/lib/"+rt.Triplet()+"/libm.so.6")
	oldCxx := rt.Debian(t)
	rt.Copy(t, oldCxx, in("old/libstdc++.so.6"), "/usr/lib/"+rt.Triplet()+"/libstdc++.so.6")

	tests := []struct {
		name    string
		root    string
		files   []entry
		wantErr []string
		hint    []string
		fix     []failure.Remedy // remedies the advice must include
		detail  string
	}{
		{name: "24.11-like bundle in a Debian 12 root", root: rt.Debian(t), files: bundle,
			wantErr: []string{"it needs glibc 2.39 but the root's /lib/" + rt.Triplet() + "/libc.so.6 is glibc 2.3",
				"GLIBC_2.38, GLIBC_2.39 needed by bin/sinfo and 2 plugins"},
			hint: []string{"distribution with glibc 2.3", "base the image on a distribution with glibc >= 2.39"},
			fix:  []failure.Remedy{{Step: failure.PackSelfContained, Arg: "2.39"}}},
		{name: "the same in a glibc 2.39 root", root: debian13(t, s), files: bundle,
			detail: "the payload needs up to GLIBC_2.39; /lib/" + rt.Triplet() + "/libc.so.6 is glibc 2.39"},
		{name: "a self-contained bundle carries its libc", root: rt.Debian(t),
			files:  append([]entry{file("lib/libc.so.6", in("new/libc.so.6"))}, bundle...),
			detail: "the payload needs up to GLIBC_2.39; /usr/local/slurm/lib/libc.so.6 is glibc 2.39"},
		{name: "a GLIBC_2.39 need from libm names the glibc release", root: oldLibm,
			files:   []entry{file("bin/sinfo", filepath.Join(cBins(t), "hello")), file("lib/liblua.so", in("muser.so"))},
			wantErr: []string{"it needs glibc 2.39 but the root's /lib/" + rt.Triplet() + "/libc.so.6 is glibc 2.3", "(GLIBC_2.39 needed by lib/liblua.so)"}},
		{name: "an old bundle in the Debian 12 root", root: rt.Debian(t), files: []entry{file("lib/lib236.so", in("lib236.so")), file("bin/sinfo", filepath.Join(cBins(t), "hello"))}},
		{name: "libstdc++ too old", root: oldCxx, files: []entry{file("bin/sinfo", filepath.Join(cBins(t), "hello")), file("lib/libcxxuser.so", in("cxxuser.so"))},
			wantErr: []string{"it needs GLIBCXX_3.4.32 from libstdc++.so.6 but the root's /lib/" + rt.Triplet() + "/libstdc++.so.6 defines up to GLIBCXX_3.4.30 (GLIBCXX_3.4.32 needed by lib/libcxxuser.so)"},
			hint:    []string{"libstdc++.so.6 is older than the bundle was built against"}},
		{name: "the bundle ships libstdc++", root: oldCxx, files: []entry{file("bin/sinfo", filepath.Join(cBins(t), "hello")),
			file("lib/libcxxuser.so", in("cxxuser.so")), file("lib/libstdc++.so.6", in("new/libstdc++.so.6"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Preflight(PreflightInput{PayloadDir: payload(t, tc.files...), Prefix: prefix, Root: rootfs.New(tc.root), Arch: "", Libc: rootfs.Glibc})
			var sv Check
			if rep != nil {
				for _, c := range rep.Checks {
					if c.Name == "symbol-versions" {
						sv = c
					}
				}
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v (hint: %s)", err, failure.HintOf(err))
				}
				if !sv.OK || !strings.Contains(sv.Detail, tc.detail) {
					t.Errorf("symbol-versions check = %+v, want detail %q", sv, tc.detail)
				}
				return
			}
			if err == nil {
				t.Fatalf("passed; want %q", tc.wantErr)
			}
			if failure.ClassOf(err) != failure.Verify {
				t.Errorf("class %v, want verification", failure.ClassOf(err))
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			for _, w := range tc.hint {
				if !strings.Contains(failure.HintOf(err), w) {
					t.Errorf("hint %q\nlacks %q", failure.HintOf(err), w)
				}
			}
			wantFix(t, err, tc.fix...)
			if sv.OK || len(rep.Versions) == 0 {
				t.Errorf("report: %+v", rep)
			}
			t.Logf("error: %v\nhint: %s", err, failure.HintOf(err))
		})
	}
}
