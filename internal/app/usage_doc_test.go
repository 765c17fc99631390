package app

import (
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestUsageFlags keeps the flag table of docs/USAGE.md (the reference the
// README links to, issue 26) and the install command's flags from drifting
// (issue 15): every flag of `slurm-installer install` has a row, with its
// environment variable, and every row names a real flag.
func TestUsageFlags(t *testing.T) {
	b, err := os.ReadFile("../../docs/USAGE.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "### Flags")
	if !ok {
		t.Fatal("docs/USAGE.md has no ### Flags section")
	}
	table, _, _ = strings.Cut(table, "\n#")
	documented := map[string]string{} // flag -> its row
	reFlag := regexp.MustCompile("`--([a-z0-9-]+)")
	for _, row := range strings.Split(table, "\n") {
		if !strings.HasPrefix(row, "| `--") {
			continue
		}
		first := strings.SplitN(row, " | ", 2)[0]
		for _, m := range reFlag.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = row
		}
	}
	var cmd *cli.Command
	for _, c := range newApp(io.Discard, io.Discard).Commands {
		if c.Name == "install" {
			cmd = c
		}
	}
	if cmd == nil {
		t.Fatal("no install command")
	}
	var names []string
	for _, f := range cmd.Flags {
		name := f.Names()[0]
		names = append(names, f.Names()...) // a row may name the aliases too
		row, ok := documented[name]
		if !ok {
			t.Errorf("docs/USAGE.md's flag table has no row for --%s (install --help lists it)", name)
			continue
		}
		envName := env(name)[0]
		short := "_" + strings.TrimPrefix(envName, "SLURM_INSTALLER_")
		if !strings.Contains(row, envName) && !strings.Contains(row, "`"+short+"`") {
			t.Errorf("docs/USAGE.md's row for --%s does not name %s", name, envName)
		}
	}
	for name := range documented {
		if !slices.Contains(names, name) {
			t.Errorf("docs/USAGE.md documents --%s, which install does not have", name)
		}
	}
}

// TestEveryCommandHasExamples: each command's --help shows examples
// (issue 26), from the examples table.
func TestEveryCommandHasExamples(t *testing.T) {
	for _, c := range newApp(io.Discard, io.Discard).Commands {
		if c.Hidden {
			continue
		}
		if !strings.Contains(c.Description, "Examples:\n") {
			t.Errorf("%s --help has no examples (add them to examples.go)", c.Name)
		}
	}
}

// TestREADMEFirstScreen: the README is a quick start (issue 26): its first
// 40 lines say what the installer does, the two make commands and a
// Dockerfile for Alpine with the installer image, a self-contained bundle
// and --strict; and every page it links to exists.
func TestREADMEFirstScreen(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	first := strings.Join(lines[:min(40, len(lines))], "\n")
	for _, want := range []string{"make demo", "make test", "COPY --from=", "FROM alpine", "self-contained", "--strict", "demo mode"} {
		if !strings.Contains(first, want) {
			t.Errorf("the README's first screen does not mention %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`\]\(((?:docs/)?[A-Za-z.]+\.(?:md|example))(?:#[^)]*)?\)`).FindAllStringSubmatch(string(b), -1) {
		if m[1] == "docs/CONNECT.md" {
			continue // written by the connect work (issue 26 links it)
		}
		if _, err := os.Stat("../../" + m[1]); err != nil {
			t.Errorf("README links to %s: %v", m[1], err)
		}
	}
	if len(lines) > 120 {
		t.Errorf("the README has %d lines; the reference belongs in docs/", len(lines))
	}
}
