//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListAndDryRun (issue 26): on the real AppHub (nginx, HTML and JSON
// autoindex) and the self-contained mirror, list says what each offers and
// what runs in a musl root, and --dry-run names the bundle a run takes, its
// digest and how it is verified, and writes nothing.
func TestListAndDryRun(t *testing.T) {
	sc := scMirror(t)
	root := newRoot(t, "musl")
	for _, full := range []string{suite.full, suite.fullJSON} {
		r := installer(t, 0, "list", "--root", root, "--mirrors", full+","+sc, "--json")
		wantExit(t, "list", r, 0)
		var v struct {
			Libc    string `json:"libc"`
			Mirrors []struct {
				Layout  string `json:"layout"`
				Error   string `json:"error"`
				Bundles []struct {
					Version, Arch, Runs, Verification, Compression string
					SelfContained                                  bool `json:"self_contained"`
					Size                                           int64
				} `json:"bundles"`
			} `json:"mirrors"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("list --json: %v\n%s", err, r.stdout)
		}
		if v.Libc != "musl" || len(v.Mirrors) != 2 {
			t.Fatalf("list: %s", r.stdout)
		}
		found := false
		for _, b := range v.Mirrors[0].Bundles {
			if b.Arch == suite.arch && b.Version == suite.version {
				found = true
				if b.Runs != "maybe" || b.Verification != "sidecar" || b.Compression != "gzip" || b.Size <= 0 {
					t.Errorf("%s: the plain bundle is listed as %+v (want maybe, sidecar, gzip, a size)", full, b)
				}
			}
		}
		if !found || v.Mirrors[0].Layout != "tarball" {
			t.Errorf("%s: no %s bundle for %s in the tarball layout: %s", full, suite.version, suite.arch, r.stdout)
		}
		// pack wrote the self-contained bundle as zstd and gzip (issue 25): both are listed.
		m := v.Mirrors[1]
		if m.Layout != "index" || len(m.Bundles) != 2 {
			t.Errorf("the self-contained mirror is listed as %+v", m)
		}
		for _, b := range m.Bundles {
			if !b.SelfContained || b.Runs != "yes" {
				t.Errorf("the self-contained mirror lists %+v", b)
			}
		}
	}

	r := installer(t, 0, "install", "--root", root, "--mirrors", sc, "--dry-run", "--strict")
	wantExit(t, "install --dry-run", r, 0)
	for _, want := range []string{"dry run: install in " + root, "(index layout)", "sha256:     ", "verified:   index (index ", "libc:       self-contained"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--dry-run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/slurm-installer")); err == nil {
		t.Errorf("--dry-run wrote the state directory")
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/local/slurm")); err == nil {
		t.Errorf("--dry-run wrote the prefix")
	}
}
