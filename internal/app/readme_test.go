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

// TestREADMEFlags keeps the README's flag table and the install command's
// flags from drifting (issue 15): every flag of `slurm-installer install`
// has a row, with its environment variable, and every row names a real flag.
func TestREADMEFlags(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "### Flags")
	if !ok {
		t.Fatal("README.md has no ### Flags section")
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
		names = append(names, name)
		row, ok := documented[name]
		if !ok {
			t.Errorf("README.md's flag table has no row for --%s (install --help lists it)", name)
			continue
		}
		envName := env(name)[0]
		short := "_" + strings.TrimPrefix(envName, "SLURM_INSTALLER_")
		if !strings.Contains(row, envName) && !strings.Contains(row, "`"+short+"`") {
			t.Errorf("README.md's row for --%s does not name %s", name, envName)
		}
	}
	for name := range documented {
		if !slices.Contains(names, name) {
			t.Errorf("README.md documents --%s, which install does not have", name)
		}
	}
}
