package app

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
)

// steps lists the names of the failure.Step constants, read from the
// source so a step added there without words here fails this test.
func steps(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../failure/remedy.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			for _, n := range sp.(*ast.ValueSpec).Names {
				names = append(names, n.Name)
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("read only %d steps from failure/remedy.go: %v", len(names), names)
	}
	return names
}

// TestRemedyTextCoversEveryStep: every step a domain package can suggest
// has words here, and the words are distinct.
func TestRemedyTextCoversEveryStep(t *testing.T) {
	names := steps(t)
	seen := map[string]string{}
	// The constants are consecutive within each group of 100.
	var all []failure.Step
	for base := failure.Step(100); base < 1000; base += 100 {
		for s := base; remedyText(failure.Remedy{Step: s}) != ""; s++ {
			all = append(all, s)
		}
	}
	if len(all) != len(names) {
		t.Fatalf("remedyText words %d steps, failure/remedy.go declares %d (%v): a step without words, or a gap in a group", len(all), len(names), names)
	}
	for _, s := range all {
		txt := remedyText(failure.Remedy{Step: s})
		if prev, dup := seen[txt]; dup {
			t.Errorf("steps %d and %s share the words %q", s, prev, txt)
		}
		seen[txt] = fmt.Sprint(s)
	}
}

// TestHintOfJoinsDomainHintAndRemedies: the domain's own hint comes first,
// then each remedy in the order suggested; an outer error without advice
// shows the inner one's.
func TestHintOfJoinsDomainHintAndRemedies(t *testing.T) {
	inner := failure.New(failure.Integrity, "checksum mismatch").WithHint("re-publish the bundle").
		Suggest(failure.PinDigest).Suggest(failure.UsePackedPrefix, "/opt/slurm")
	err := failure.Wrap(failure.Download, errors.Join(errors.New("outer"), inner))
	got := hintOf(err)
	want := "re-publish the bundle; or pin the bundle's digest with --sha256; or install it at the prefix it was packed for: --prefix /opt/slurm"
	if got != want {
		t.Fatalf("hintOf = %q\nwant    %q", got, want)
	}
	if h := hintOf(failure.New(failure.Usage, "x").Suggest(failure.RaiseMaxSize)); !strings.HasPrefix(h, "raise --max-size") {
		t.Fatalf("a remedy alone: %q", h)
	}
	if h := hintOf(errors.New("plain")); h != "" {
		t.Fatalf("no advice: %q", h)
	}
}

// TestHintCarriesTarget (issue 26): every command line a hint quotes gets
// the run's non-default target flags, quoted for a shell; defaults add
// nothing, and a command without a target (pack) is left alone.
func TestHintCarriesTarget(t *testing.T) {
	hint := "run `slurm-installer install --repair` to put back exactly these, or `slurm-installer install --force`; or rebuild it with `slurm-installer pack`"
	for _, c := range []struct {
		t    targetOptions
		want string
	}{
		{targetOptions{rootDir: "/", prefix: defaultPrefix, binDir: defaultBinDir}, hint},
		{targetOptions{}, hint},
		{targetOptions{rootDir: "/mnt/img", prefix: "/opt/slurm/", binDir: defaultBinDir},
			"run `slurm-installer install --root /mnt/img --prefix /opt/slurm --repair` to put back exactly these, or `slurm-installer install --root /mnt/img --prefix /opt/slurm --force`; or rebuild it with `slurm-installer pack`"},
		{targetOptions{rootDir: "/mnt/my img", binDir: "/opt/bin"},
			"run `slurm-installer install --root '/mnt/my img' --bin-dir /opt/bin --repair` to put back exactly these, or `slurm-installer install --root '/mnt/my img' --bin-dir /opt/bin --force`; or rebuild it with `slurm-installer pack`"},
	} {
		if got := withTarget(hint, targetArgs(&c.t)); got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.t, got, c.want)
		}
	}
}
