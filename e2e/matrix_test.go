//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/testkit/registrytest"
)

// matrixSource is one way a bundle reaches a root (issue 22's first matrix).
type matrixSource struct {
	name   string
	layout bundle.Layout
	how    bundle.Verification // what the receipt must say verified the bytes
	args   []string            // what selects the source on the install command line
	// requests counts what the source has served so far (its access log);
	// nil for a source that is not a server.
	requests func(t *testing.T) int
}

// matrixCommand is one command that follows an install, with the exit code
// it must give for every source.
type matrixCommand struct {
	name string
	code int
	run  func(t *testing.T, src matrixSource, root string) run
}

// TestSourcesByCommands: every source kind a bundle comes from (an AppHub
// index, the tarball and tree layouts, a file:// URL, an OCI registry, the
// download cache, --from) × every command that follows an install (status,
// status --json, verify, verify --deep, a re-run that downloads nothing,
// install --repair of a damaged file, install --force, uninstall), with
// exact exit codes. A value one part writes must be one every other part
// reads: a registry install's receipt was refused by every later command
// (issue 22, defect 1). One real glibc root per source, the real bundle.
func TestSourcesByCommands(t *testing.T) {
	need(t)
	sha := suite.bundle["BUNDLE_TARBALL_SHA256"]
	tarball := suite.bundle["BUNDLE_TARBALL"]
	if sha == "" || tarball == "" {
		t.Fatalf("the bundle env has no BUNDLE_TARBALL/BUNDLE_TARBALL_SHA256: %v", suite.bundle)
	}
	payload := payloadDir(t)

	// An AppHub with index.json, as pack publishes it, behind real nginx.
	idxDir := filepath.Join(t.TempDir(), "apphub")
	installer(t, 0, "pack", "--from", payload, "--slurm-version", suite.version, "--arch", suite.arch, "--out", idxDir)
	idxURL := serve(t, "matrix-index", idxDir, "html")

	// The real registry (Debian's docker-registry), the bundle pushed by pack.
	reg := registrytest.Start(t, nil)
	ociRef := reg.Ref("hpc/matrix")
	installer(t, 0, "pack", "--from", payload, "--slurm-version", suite.version, "--arch", suite.arch, "--out", ociRef)
	// The same bundle as a zstd layer (issue 25), and the .tar.zst pack wrote beside the index as a
	// file:// mirror (with its .sha256 sidecar).
	ociZstd := reg.Ref("hpc/matrix-zstd")
	installer(t, 0, "pack", "--from", payload, "--slurm-version", suite.version, "--arch", suite.arch, "--out", ociZstd, "--compress", "zstd")
	zstTarball := filepath.Join(idxDir, "pkgs/slurm-apk", "slurm-client-"+suite.version+"-"+suite.arch+"-alpine.tar.zst")
	if _, err := os.Stat(zstTarball + ".sha256"); err != nil {
		t.Fatalf("pack's directory output has no zstd bundle with a sidecar: %v", err)
	}

	// A cache filled by a download; the mirror is dead afterwards.
	cacheDir := t.TempDir()
	installer(t, 0, "fetch", "--mirrors", suite.full, "--arch", suite.arch, "--slurm-version", suite.version,
		"--cache-dir", cacheDir, "--out", filepath.Join(t.TempDir(), "b.tar.gz"))
	dead := "http://127.0.0.1:" + deadPort(t) + "/"

	nginxLog := func(name string) func(t *testing.T) int {
		return func(t *testing.T) int { return countLines(t, filepath.Join(suite.state, "nginx-"+name, "access.log")) }
	}
	sources := []matrixSource{
		{"index", bundle.LayoutIndex, bundle.Index, []string{"--mirrors", idxURL}, nginxLog("matrix-index")},
		{"tarball", bundle.LayoutTarball, bundle.Sidecar, []string{"--mirrors", suite.full}, nginxLog("full-html")},
		{"tree", bundle.LayoutTree, bundle.SHA256SUMS, []string{"--mirrors", suite.tree}, nginxLog("tree-html")},
		{"file", bundle.LayoutFile, bundle.Sidecar, []string{"--mirrors", "file://" + tarball}, nil},
		{"oci", bundle.LayoutOCI, bundle.LayerDigest, []string{"--mirrors", ociRef}, func(t *testing.T) int { return registryRequests(t, reg) }},
		{"cache", bundle.LayoutCache, bundle.Pinned, []string{"--mirrors", dead, "--cache-dir", cacheDir, "--sha256", sha}, nil},
		{"from", bundle.LayoutFile, bundle.Sidecar, []string{"--from", tarball}, nil},
		{"oci-zstd", bundle.LayoutOCI, bundle.LayerDigest, []string{"--mirrors", ociZstd}, func(t *testing.T) int { return registryRequests(t, reg) }},
		{"file-zstd", bundle.LayoutFile, bundle.Sidecar, []string{"--mirrors", "file://" + zstTarball}, nil},
	}

	install := func(src matrixSource, root string, extra ...string) []string {
		return append(append([]string{"--root", root, "--fallback", "fail"}, src.args...), extra...)
	}
	commands := []matrixCommand{
		{"status", 0, func(t *testing.T, _ matrixSource, root string) run {
			r := installer(t, 0, "--root", root, "status")
			if !strings.Contains(r.stdout, "("+string(bundle.Glibc)+")") {
				t.Errorf("status does not say glibc:\n%s", r.stdout)
			}
			return r
		}},
		{"status --json", 0, func(t *testing.T, src matrixSource, root string) run {
			r := installer(t, 0, "--root", root, "status", "--json")
			var st struct {
				Installed    bool                `json:"installed"`
				Verification bundle.Verification `json:"verification"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || !st.Installed || !st.Verification.Valid() {
				t.Errorf("status --json: %+v, %v\n%s", st, err, r.stdout)
			}
			return r
		}},
		{"verify", 0, func(t *testing.T, _ matrixSource, root string) run {
			return installer(t, 0, "--root", root, "verify")
		}},
		{"verify --deep", 0, func(t *testing.T, _ matrixSource, root string) run {
			return installer(t, 0, "--root", root, "verify", "--deep")
		}},
		{"re-run (no-op)", 0, func(t *testing.T, src matrixSource, root string) run {
			before := -1
			if src.requests != nil {
				before = src.requests(t)
			}
			r := installer(t, 0, install(src, root)...)
			// Nothing fetched, read from a cache or unpacked, whatever the source.
			for _, s := range []string{"unreadable receipt", "checksum verified", "using the cached bundle", "bundle extracted"} {
				if strings.Contains(r.stderr, s) {
					t.Errorf("the re-run was not a no-op (%q):\n%s", s, r.stderr)
				}
			}
			if !strings.Contains(r.stderr, "nothing to do") {
				t.Errorf("the re-run does not say it has nothing to do:\n%s", r.stderr)
			}
			if src.requests != nil {
				if after := src.requests(t); after != before {
					t.Errorf("the no-op re-run made %d request(s) to the source", after-before)
				}
			}
			return r
		}},
		{"install --repair", 0, func(t *testing.T, src matrixSource, root string) run {
			victim := filepath.Join(root, "usr/local/slurm/bin/scontrol")
			if err := os.Remove(victim); err != nil {
				t.Fatal(err)
			}
			repair := []string{"--root", root, "install", "--repair"}
			if strings.HasPrefix(src.name, "file") || src.name == "from" {
				// The receipt is inside the root, so untrusted: a repair never follows its file://
				// source outside the root (issue 23): with no source given it says what to pass
				// (exit 2); given the source again, it repairs.
				n := installer(t, 2, repair...)
				if !strings.Contains(n.stderr, "nothing to repair from") {
					t.Errorf("a bare --repair of a local bundle outside the root should say what to pass:\n%s", n.stderr)
				}
				repair = append(repair, src.args...)
			}
			r := installer(t, 0, repair...)
			if _, err := os.Stat(victim); err != nil {
				t.Errorf("--repair did not put back bin/scontrol: %v", err)
			}
			installer(t, 0, "--root", root, "verify", "--deep")
			return r
		}},
		{"install --force", 0, func(t *testing.T, src matrixSource, root string) run {
			r := installer(t, 0, install(src, root, "--force")...)
			if rc := readReceipt(t, root); rc.Layout != string(src.layout) || rc.Mode != "real" {
				t.Errorf("after --force: receipt layout %q mode %q", rc.Layout, rc.Mode)
			}
			return r
		}},
		{"uninstall", 0, func(t *testing.T, _ matrixSource, root string) run {
			r := installer(t, 0, "--root", root, "uninstall")
			installer(t, 3, "--root", root, "status")
			return r
		}},
		// A site's own file where the install writes: --force moves it to a
		// recorded backup, and uninstall puts it back (the backup of a
		// registry install was never restored: its receipt was refused).
		{"--force backup, uninstall", 0, func(t *testing.T, src matrixSource, root string) run {
			site := filepath.Join(root, "usr/local/bin/sinfo")
			if err := os.WriteFile(site, []byte("#!/bin/sh\necho the site's own sinfo\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			installer(t, 7, install(src, root)...) // not ours: refused without --force
			installer(t, 0, install(src, root, "--force")...)
			r := installer(t, 0, "--root", root, "uninstall")
			if b, err := os.ReadFile(site); err != nil || !strings.Contains(string(b), "the site's own sinfo") {
				t.Errorf("uninstall did not put the site's sinfo back: %q, %v", b, err)
			}
			return r
		}},
	}

	got := map[string]map[string]string{}
	for _, src := range sources {
		got[src.name] = map[string]string{}
		t.Run(src.name, func(t *testing.T) {
			root := newRoot(t, "glibc")
			installer(t, 0, install(src, root)...)
			rc := readReceipt(t, root)
			if rc.Layout != string(src.layout) || rc.Verification != string(src.how) || rc.Libc != string(bundle.Glibc) {
				t.Fatalf("receipt layout %q verification %q libc %q; want %q, %q, glibc", rc.Layout, rc.Verification, rc.Libc, src.layout, src.how)
			}
			// pack's directory output offers zstd beside gzip: the installer takes zstd.
			if (src.name == "index" || src.name == "file-zstd") && !strings.HasSuffix(rc.Source, ".tar.zst") {
				t.Errorf("receipt source %q: want the .tar.zst bundle", rc.Source)
			}
			for _, c := range commands {
				if !t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
					r := c.run(t, src, root)
					got[src.name][c.name] = fmt.Sprint(r.code)
				}) {
					got[src.name][c.name] = "FAIL"
				}
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s", "source")
	for _, c := range commands {
		fmt.Fprintf(&b, " | %s", c.name)
	}
	for _, src := range sources {
		fmt.Fprintf(&b, "\n%-9s", src.name)
		for _, c := range commands {
			fmt.Fprintf(&b, " | %*s", len(c.name), got[src.name][c.name])
		}
	}
	t.Logf("exit codes (%d sources × %d commands):\n%s", len(sources), len(commands), b.String())
}

// countLines counts the lines of a log file (0 when it does not exist yet).
func countLines(t *testing.T, p string) int {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// registryRequests counts the HTTP requests the registry has logged.
func registryRequests(t *testing.T, reg *registrytest.Registry) int {
	t.Helper()
	b, err := os.ReadFile(reg.Log)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"GET /v2/`) || strings.Contains(l, `"HEAD /v2/`) || strings.Contains(l, "http.request.method=GET") || strings.Contains(l, "http.request.method=HEAD") {
			n++
		}
	}
	return n
}
