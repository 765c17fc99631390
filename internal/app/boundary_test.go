package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// domainDirs are the packages below the command line (docs/DESIGN.md §7).
var domainDirs = []string{"connect", "fetch", "install", "verify", "pack", "trust", "oci", "rootfs",
	"internal/policy", "internal/index", "internal/slurmver", "internal/safeio", "internal/httpx", "internal/sandbox", "internal/failure"}

// TestDomainNamesNoFlag guards the error boundary (issue 15): no string in
// a domain package names one of the command line's flags, its environment
// variables or a slurm-installer command line. Those words live in
// internal/app (remedy.go); a domain package suggests a failure.Step.
// The flag list is the real one, read from every command.
func TestDomainNamesNoFlag(t *testing.T) {
	a := (&ui{stdout: io.Discard, stderr: io.Discard}).app()
	flags := map[string]bool{}
	var walk func(fs []cli.Flag, cmds []*cli.Command)
	walk = func(fs []cli.Flag, cmds []*cli.Command) {
		for _, f := range fs {
			for _, n := range f.Names() {
				flags[n] = true
			}
		}
		for _, c := range cmds {
			walk(c.Flags, c.Subcommands)
		}
	}
	walk(a.Flags, a.Commands)
	// --version is the installer's and also every SLURM command's
	// (`sinfo --version`): the domain runs SLURM's.
	delete(flags, "version")
	if !flags["sha256"] || !flags["force"] || !flags["sign-key"] || len(flags) < 30 {
		t.Fatalf("read %d flags from the command table, not the whole set: %v", len(flags), flags)
	}
	flagRE := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	cmdRE := regexp.MustCompile(`slurm-installer (install|pack|verify|fetch|status|uninstall|cache|completion|connect)\b`)
	envRE := regexp.MustCompile(`\b(SLURM_INSTALLER_[A-Z_]+|REGISTRY_AUTH_FILE)\b`)
	allowedEnv := map[string]bool{}
	root := filepath.Join("..", "..")
	n := 0
	for _, d := range domainDirs {
		files, _ := filepath.Glob(filepath.Join(root, d, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fs := token.NewFileSet()
			af, err := parser.ParseFile(fs, f, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			n++
			ast.Inspect(af, func(x ast.Node) bool {
				lit, ok := x.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				pos := fs.Position(lit.Pos())
				for _, m := range flagRE.FindAllStringSubmatch(s, -1) {
					if flags[m[1]] {
						t.Errorf("%s:%d names the flag --%s: %q (suggest a failure.Step; internal/app words it)", d, pos.Line, m[1], s)
					}
				}
				// The profile script's header tells whoever reads the file in
				// the image what removes it: that is file content, not advice.
				if m := cmdRE.FindString(s); m != "" && !strings.HasPrefix(s, "# Written by slurm-installer") {
					t.Errorf("%s:%d names the command line %q: %q", d, pos.Line, m, s)
				}
				for _, m := range envRE.FindAllString(s, -1) {
					if !allowedEnv[m] {
						t.Errorf("%s:%d names the installer's variable %s: %q (internal/app reads it and passes the value)", d, pos.Line, m, s)
					}
				}
				return true
			})
		}
	}
	if n < 50 {
		t.Fatalf("scanned only %d files of the domain packages", n)
	}
}
