//go:build runtime

package app

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
)

// TestRuntimeBuild: the runtime build (-tags runtime, `make build`'s
// bin/slurm-installer-runtime-*) offers connect, status and verify; every
// command it leaves out, no command, and install's flags at the top level
// are usage errors (exit 2) whose hint names the full binary; version says
// which build it is. make unit runs it (go test -tags runtime).
func TestRuntimeBuild(t *testing.T) {
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := Run(context.Background(), append([]string{"slurm-installer"}, args...), &out, &errb)
		return out.String(), errb.String(), err
	}
	var visible []string
	for _, c := range newApp(&bytes.Buffer{}, &bytes.Buffer{}).Commands {
		if !c.Hidden {
			visible = append(visible, c.Name)
		}
	}
	slices.Sort(visible)
	if want := []string{"completion", "connect", "status", "verify", "version"}; !slices.Equal(visible, want) {
		t.Errorf("commands %v, want %v", visible, want)
	}
	for _, args := range [][]string{
		{}, {"install", "--mirrors", "http://x/"}, {"fetch"}, {"list", "--mirrors", "http://x/"},
		{"uninstall"}, {"pack", "--from", "x"}, {"--mirrors", "http://x/", "--strict"},
	} {
		_, stderr, err := run(args...)
		if failure.ClassOf(err) != failure.Usage {
			t.Errorf("%v: class %v (%v), want usage", args, failure.ClassOf(err), err)
			continue
		}
		if !strings.Contains(stderr, "runtime build") || !strings.Contains(stderr, "/slurm-installer") {
			t.Errorf("%v: the error should say this is the runtime build and where the full binary is:\n%s", args, stderr)
		}
	}
	if _, _, err := run("instal"); failure.ClassOf(err) != failure.Usage {
		t.Errorf("a misspelt command: %v, want usage", err)
	}
	out, _, err := run("version")
	if err != nil || !strings.Contains(out, "runtime build: connect, status, verify") {
		t.Errorf("version: %q, %v", out, err)
	}
	// status and verify work: on an empty root they say nothing is installed (exit 3).
	root := t.TempDir()
	for _, cmd := range []string{"status", "verify"} {
		if _, _, err := run(cmd, "--root", root); failure.ClassOf(err) != failure.NotInstalled {
			t.Errorf("%s on an empty root: %v (class %v), want not installed (3)", cmd, err, failure.ClassOf(err))
		}
	}
}
