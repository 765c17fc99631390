//go:build e2e

package e2e

// Issue 27 on real packages: Debian 12's and Debian 13's slurm-client and
// the libraries they need (the .debs the suite already caches) are
// installed into a Debian root the way dpkg records them
// (scripts/dpkg-root.sh: unpacked, status and .list files written, no
// maintainer scripts); `pack --from-root` makes a bundle of them; the
// bundle installs into a fresh root, whose sinfo runs; its SBOM names the
// Debian package, and Syft (a real image scanner) lists SLURM from it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dpkgRoot is a fresh root of kind with the .debs of dir (all but libc6,
// which the root already has) installed by scripts/dpkg-root.sh.
func dpkgRoot(t *testing.T, kind, dir string) string {
	t.Helper()
	root := newRoot(t, kind)
	debs, err := filepath.Glob(filepath.Join(dir, "*_"+suite.debArch+".deb"))
	if err != nil || len(debs) == 0 {
		t.Fatalf("no .debs in %s (%v)", dir, err)
	}
	var want []string
	for _, d := range debs {
		if filepath.Base(d) != "libc6_"+suite.debArch+".deb" {
			want = append(want, d)
		}
	}
	if _, err := script(context.Background(), "dpkg-root.sh", append([]string{root}, want...)...); err != nil {
		t.Fatal(err)
	}
	return root
}

// indexEntry is what these tests read of index.json.
type indexEntry struct {
	Bundles []struct {
		Version       string `json:"version"`
		SHA256        string `json:"sha256"`
		Size          int64  `json:"size"`
		SelfContained bool   `json:"self_contained"`
		SBOM          string `json:"sbom"`
		Origin        *struct {
			Distro        string          `json:"distro"`
			DistroVersion string          `json:"distro_version"`
			Database      string          `json:"database"`
			Packages      []originPackage `json:"packages"`
		} `json:"origin"`
	} `json:"bundles"`
}

type originPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl"`
	Client  bool   `json:"client"`
}

// packFromRoot packs root into a new AppHub and checks what the index
// records; it returns the AppHub.
func packFromRoot(t *testing.T, root, version, debVersion, distroVersion string, extra ...string) string {
	t.Helper()
	hub := filepath.Join(t.TempDir(), "apphub")
	t0 := time.Now()
	r := installer(t, 0, append([]string{"pack", "--from-root", root, "--out", hub}, extra...)...)
	took := time.Since(t0)
	raw, err := os.ReadFile(filepath.Join(hub, "pkgs/slurm/index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx indexEntry
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	// pack writes the zstd bundle beside the gzip one (issue 25): one entry per format, each
	// with the origin and the SBOM.
	if len(idx.Bundles) != 2 || idx.Bundles[0].Version != version || idx.Bundles[0].Origin == nil || idx.Bundles[1].Origin == nil ||
		idx.Bundles[0].SBOM == "" || idx.Bundles[0].SBOM != idx.Bundles[1].SBOM {
		t.Fatalf("index %s", raw)
	}
	b := idx.Bundles[0]
	o := b.Origin
	purl := fmt.Sprintf("pkg:deb/debian/slurm-client@%s?arch=%s&distro=debian-%s", strings.ReplaceAll(debVersion, "+", "%2B"), suite.debArch, distroVersion)
	if o.Distro != "debian" || o.DistroVersion != distroVersion || o.Database != "dpkg" || len(o.Packages) < 5 ||
		!o.Packages[0].Client || o.Packages[0].Name != "slurm-client" || o.Packages[0].Version != debVersion || o.Packages[0].PURL != purl {
		t.Fatalf("origin %+v, want the client %s first", o, purl)
	}
	sbom, err := os.ReadFile(filepath.Join(hub, "pkgs/slurm", b.SBOM))
	if err != nil || !strings.Contains(string(sbom), `"referenceLocator": "`+purl+`"`) {
		t.Fatalf("SBOM %s beside the index: %v\n%.600s", b.SBOM, err, sbom)
	}
	t.Logf("pack --from-root %s: %s (%d bytes, %s) in %s; %d packages: %s", root, b.SHA256[:12], b.Size,
		between(logLine(r.stderr, "bundle packed"), "files=", " "), took.Round(time.Millisecond), len(o.Packages), packageNames(o.Packages))
	return hub
}

func packageNames(ps []originPackage) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, " ")
}

// between is the text of s after start up to end (or the end of s).
func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return "files=" + v
}

// installAndRun installs the AppHub's bundle into a fresh root of kind and
// checks sinfo --version there, verify --deep, and the SBOM the install
// left at <prefix>/slurm-client.spdx.json.
func installAndRun(t *testing.T, hub, kind, version, purl string) string {
	t.Helper()
	target := newRoot(t, kind)
	installer(t, 0, "--root", target, "--mirrors", "file://"+hub, "--fallback", "fail")
	sinfoIs(t, target, version)
	installer(t, 0, "--root", target, "verify", "--deep")
	doc, err := os.ReadFile(filepath.Join(target, "usr/local/slurm/slurm-client.spdx.json"))
	if err != nil || !strings.Contains(string(doc), purl) {
		t.Fatalf("the installed SBOM: %v", err)
	}
	if rc, _ := os.ReadFile(filepath.Join(target, "var/lib/slurm-installer/receipt.json")); !strings.Contains(string(rc), `"path": "slurm-client.spdx.json"`) {
		t.Fatal("the receipt does not list the SBOM")
	}
	return target
}

func TestPackFromRootDebian12(t *testing.T) {
	need(t)
	deb := suite.bundle["BUNDLE_DEB_VERSION"]
	root := dpkgRoot(t, "glibc", filepath.Join(suite.build, "bundle", ".debs"))
	hub := packFromRoot(t, root, suite.version, deb, "12")
	purl := fmt.Sprintf("pkg:deb/debian/slurm-client@%s?arch=%s&distro=debian-12", strings.ReplaceAll(deb, "+", "%2B"), suite.debArch)
	target := installAndRun(t, hub, "glibc", suite.version, purl)

	// A real image scanner lists SLURM from the installed root's SBOM.
	syft := syftBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, syft, "scan", "dir:"+target, "--select-catalogers", "+sbom-cataloger", "-o", "json", "-q").Output()
	if err != nil {
		t.Fatalf("syft scan: %v", err)
	}
	var res struct {
		Artifacts []struct {
			Name, Version, Type, PURL string
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range res.Artifacts {
		if a.Name == "slurm-client" {
			t.Logf("syft: %s %s %s %s", a.Name, a.Version, a.Type, a.PURL)
			found = a.Version == deb && a.PURL == purl && strings.HasPrefix(a.Version, suite.version)
		}
	}
	if !found {
		t.Fatalf("syft does not list slurm-client %s with %s in %s:\n%.2000s", deb, purl, target, out)
	}
}

func TestPackFromRootDebian13(t *testing.T) {
	versionsSetup(t)
	deb := vv.trixie["BUNDLE_DEB_VERSION"]
	root := dpkgRoot(t, "glibc-trixie", filepath.Join(suite.build, "bundle-trixie", ".debs"))
	purl := fmt.Sprintf("pkg:deb/debian/slurm-client@%s?arch=%s&distro=debian-13", strings.ReplaceAll(deb, "+", "%2B"), suite.debArch)
	hub := packFromRoot(t, root, vv.newer, deb, "13")
	installAndRun(t, hub, "glibc-trixie", vv.newer, purl)

	// Self-contained with that root as the sysroot (the default for
	// --from-root): Debian 13's client then runs in a Debian 12 root, whose
	// glibc 2.36 it could not use.
	sc := packFromRoot(t, root, vv.newer, deb, "13", "--self-contained")
	installAndRun(t, sc, "glibc", vv.newer, purl)
}

// syftBinary is the Syft the e2e target built (SYFT), else scripts/syft.sh
// builds it (once; cached by version under build/tools).
func syftBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SYFT"); p != "" {
		return p
	}
	out, err := script(context.Background(), "syft.sh", filepath.Dir(suite.build))
	if err != nil {
		t.Fatal(err)
	}
	return lastLine(out)
}
