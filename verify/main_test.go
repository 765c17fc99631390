package verify

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/sandbox"

	"go.uber.org/goleak"
)

// wantFix fails t unless err's advice (failure.Advice) includes each remedy
// of want, step and argument: the typed advice internal/app words with the
// flag, which the domain never names.
func wantFix(t *testing.T, err error, want ...failure.Remedy) {
	t.Helper()
	_, fix := failure.Advice(err)
	for _, w := range want {
		if !slices.Contains(fix, w) {
			t.Errorf("advice of %v: remedies %+v lack %+v", err, fix, w)
		}
	}
}

// bins holds the ELF files the tests build once: gcc-built dynamic ones
// and Go-built static ones.
var (
	binsDir  string
	binsOnce sync.Once
	binsErr  error
)

func TestMain(m *testing.M) {
	sandbox.MaybeChild() // the verification runs re-execute this binary as their sandbox helper
	dir, err := os.MkdirTemp("", "verify-test-bins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binsDir = dir
	var code int
	code = m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

const cHello = `#include <stdio.h>
int main(void) { puts("hello"); return 0; }
`

const cLib = `int foo(void) { return 42; }
`

const cPlugin = `int foo(void);
int plugin_init(void) { return foo(); }
`

const cUseLib = `#include <stdio.h>
int foo(void);
int main(void) { printf("%d\n", foo()); return 0; }
`

// cBins builds, once, the C fixtures into binsDir/c:
//
//	hello                 dynamic, glibc loader, NEEDED libc.so.6
//	libfoo.so.1           a shared library with that soname
//	libmunge.so.2         the same code with a soname apt knows (libmunge2)
//	libjwt.so.0           the same with soname libjwt.so.0
//	usefoo                NEEDED libfoo.so.1, no RUNPATH
//	usefoo-origin         NEEDED libfoo.so.1, RUNPATH $ORIGIN/../private
//	usemunge              NEEDED libmunge.so.2
//	plugin.so             a plugin (shared object) NEEDED libjwt.so.0
//	selfcontained         PT_INTERP /usr/local/slurm/lib/<glibc loader>
//	musl-hello            built with musl-gcc when it is there
func cBins(t *testing.T) string {
	t.Helper()
	binsOnce.Do(func() {
		d := filepath.Join(binsDir, "c")
		if err := os.MkdirAll(d, 0o755); err != nil {
			binsErr = err
			return
		}
		for name, src := range map[string]string{"hello.c": cHello, "lib.c": cLib, "use.c": cUseLib, "plugin.c": cPlugin} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(src), 0o644); err != nil {
				binsErr = err
				return
			}
		}
		cc, err := exec.LookPath("gcc")
		if err != nil {
			binsErr = err
			return
		}
		loader := hostLoaderPath()
		cmds := [][]string{
			{cc, "-o", "hello", "hello.c"},
			{cc, "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "libfoo.so.1", "lib.c"},
			{cc, "-shared", "-fPIC", "-Wl,-soname,libmunge.so.2", "-o", "libmunge.so.2", "lib.c"},
			{cc, "-shared", "-fPIC", "-Wl,-soname,libjwt.so.0", "-o", "libjwt.so.0", "lib.c"},
			{cc, "-o", "usefoo", "use.c", "-L.", "-l:libfoo.so.1"},
			{cc, "-o", "usefoo-origin", "use.c", "-L.", "-l:libfoo.so.1", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../private"},
			{cc, "-o", "usemunge", "use.c", "-L.", "-l:libmunge.so.2"},
			{cc, "-shared", "-fPIC", "-o", "plugin.so", "plugin.c", "-L.", "-l:libjwt.so.0"},
			{cc, "-o", "selfcontained", "hello.c", "-Wl,--dynamic-linker=/usr/local/slurm/lib/" + filepath.Base(loader)},
		}
		for _, c := range cmds {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Dir = d
			if b, err := cmd.CombinedOutput(); err != nil {
				binsErr = fmt.Errorf("%v: %v\n%s", c, err, b)
				return
			}
		}
		if mcc, err := exec.LookPath("musl-gcc"); err == nil {
			cmd := exec.Command(mcc, "-o", "musl-hello", "hello.c")
			cmd.Dir = d
			_ = cmd.Run() // optional
		}
	})
	if binsErr != nil {
		if _, err := exec.LookPath("gcc"); err != nil {
			t.Skip("no gcc to build dynamic fixture binaries")
		}
		t.Fatal(binsErr)
	}
	return filepath.Join(binsDir, "c")
}

// goBins caches Go-built static binaries by name.
var (
	goMu   sync.Mutex
	goBins = map[string]string{}
)

func goBin(t *testing.T, goarch, src string) string {
	t.Helper()
	goMu.Lock()
	defer goMu.Unlock()
	key := goarch + "\x00" + src
	if p, ok := goBins[key]; ok {
		return p
	}
	p := buildGo(t, goarch, src)
	goBins[key] = p
	return p
}

func hostLoaderPath() string { return platform.GlibcLoader(platform.Host()) }

// buildGo builds src as a static binary for goarch into binsDir.
func buildGo(t *testing.T, goarch, src string) string {
	t.Helper()
	dir, err := os.MkdirTemp(binsDir, "go-")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"main.go": src, "go.mod": "module fixture\n\ngo 1.21\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goTool := "go"
	if _, err := exec.LookPath(goTool); err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	out := filepath.Join(dir, "prog")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(err.Error(), "executable file not found") {
			t.Skip("no go tool to build fixture binaries")
		}
		t.Fatalf("go build for %s: %v\n%s", goarch, err, b)
	}
	return out
}
