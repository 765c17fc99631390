package pack

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/testkit/rootfstest"
)

// debianSlurmRoot is a Debian-like root with a "SLURM client" installed the
// dpkg way, made of this host's ELF files: /usr/bin/sinfo (the host's ls:
// it needs libselinux.so.1, which needs libpcre2-8.so.0), the plugin
// directory /usr/lib/<triplet>/slurm-wlm with a plugin whose needs resolve
// (auth_munge.so, the host's libz) and one whose need the root lacks
// (mpi_pmix.so, the host's libgcrypt: libgpg-error.so.0), and a dpkg
// database whose .list files name the libraries by their pre-usr-merge
// paths, as Debian's packages do.
func debianSlurmRoot(t *testing.T) string {
	t.Helper()
	if platform.Host() != platform.X86_64 {
		t.Skip("the fixture copies this host's x86_64 ELF files")
	}
	root := rootfstest.Debian(t)
	trip := rootfstest.Triplet()
	rootfstest.Copy(t, root, "/bin/ls", "/usr/bin/sinfo")
	rootfstest.Copy(t, root, rootfstest.HostLib(t, "libselinux.so.1"), "/usr/lib/"+trip+"/libselinux.so.1")
	rootfstest.Copy(t, root, rootfstest.HostLib(t, "libpcre2-8.so.0"), "/usr/lib/"+trip+"/libpcre2-8.so.0.11.2")
	rootfstest.Symlink(t, root, "libpcre2-8.so.0.11.2", "/usr/lib/"+trip+"/libpcre2-8.so.0")
	plugins := "/usr/lib/" + trip + "/slurm-wlm/"
	rootfstest.Copy(t, root, rootfstest.HostLib(t, "libz.so.1"), plugins+"auth_munge.so")
	rootfstest.Copy(t, root, rootfstest.HostLib(t, "libgcrypt.so.20"), plugins+"mpi_pmix.so")
	rootfstest.WriteFile(t, root, "/var/lib/dpkg/status", `Package: slurm-client
Status: install ok installed
Architecture: amd64
Version: 22.05.8-4+deb12u3
Description: SLURM client side commands
 continued description line: Version: 1.0

Package: libselinux1
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 3.4-1+b6

Package: slurm-wlm-basic-plugins
Status: install ok installed
Architecture: amd64
Version: 22.05.8-4+deb12u3

Package: removed-pkg
Status: deinstall ok config-files
Version: 1.0
`)
	rootfstest.WriteFile(t, root, "/var/lib/dpkg/info/slurm-client.list", "/.\n/usr\n/usr/bin\n/usr/bin/sinfo\n")
	rootfstest.WriteFile(t, root, "/var/lib/dpkg/info/libselinux1:amd64.list", "/lib/"+trip+"/libselinux.so.1\n")
	rootfstest.WriteFile(t, root, "/var/lib/dpkg/info/slurm-wlm-basic-plugins.list", plugins+"auth_munge.so\n"+plugins+"mpi_pmix.so\n")
	return root
}

func TestAssembleFromRootDebian(t *testing.T) {
	root := debianSlurmRoot(t)
	fr, err := AssembleFromRoot(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Cleanup()
	if fr.Version != "22.05.8" || fr.Arch != platform.X86_64 || fr.Prefix != "/usr" || !slices.Equal(fr.Commands, []string{"sinfo"}) {
		t.Fatalf("found %+v", fr)
	}
	if want := "/usr/lib/" + rootfstest.Triplet() + "/slurm-wlm"; fr.Plugins != want {
		t.Errorf("plugin dir %q, want %q", fr.Plugins, want)
	}
	// The closure: libselinux and, through it, libpcre2-8 (real file plus
	// soname link); glibc left out.
	if !slices.Equal(fr.Libs, []string{"libpcre2-8.so.0", "libselinux.so.1"}) {
		t.Errorf("libraries %v", fr.Libs)
	}
	for _, p := range []string{"bin/sinfo", "lib/libselinux.so.1", "lib/libpcre2-8.so.0.11.2", "lib/slurm/auth_munge.so", "VERSION"} {
		if fi, err := os.Stat(filepath.Join(fr.Dir, p)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %v", p, err)
		}
	}
	if l, _ := os.Readlink(filepath.Join(fr.Dir, "lib/libpcre2-8.so.0")); l != "libpcre2-8.so.0.11.2" {
		t.Errorf("soname link -> %q", l)
	}
	for _, p := range []string{"lib/libc.so.6", "lib/slurm/mpi_pmix.so", "lib/libgcrypt.so.20"} {
		if _, err := os.Lstat(filepath.Join(fr.Dir, p)); err == nil {
			t.Errorf("%s was taken", p)
		}
	}
	if len(fr.Skipped) != 1 || !strings.Contains(fr.Skipped[0], "mpi_pmix.so") || !strings.Contains(fr.Skipped[0], "libgpg-error.so.0") {
		t.Errorf("skipped %v", fr.Skipped)
	}
	// Origin: the distro, and each file's package from the dpkg .lists
	// (libselinux's listed by its /lib path, reached through /usr/lib).
	o := fr.Origin
	if o.Distro != "debian" || o.DistroVersion != "12" || o.Database != "dpkg" || len(o.Packages) != 3 {
		t.Fatalf("origin %+v", o)
	}
	c := o.Packages[0]
	if !c.Client || c.Name != "slurm-client" || c.PURL != "pkg:deb/debian/slurm-client@22.05.8-4%2Bdeb12u3?arch=amd64&distro=debian-12" {
		t.Errorf("client package %+v", c)
	}
	byName := map[string]index.OriginPackage{}
	for _, p := range o.Packages {
		byName[p.Name] = p
	}
	if p := byName["libselinux1"]; p.Version != "3.4-1+b6" || !slices.Equal(p.Files, []string{"lib/libselinux.so.1"}) {
		t.Errorf("libselinux1 %+v", p)
	}
	if p := byName["slurm-wlm-basic-plugins"]; !slices.Equal(p.Files, []string{"lib/slurm/auth_munge.so"}) {
		t.Errorf("plugins package %+v", p)
	}

	// Packed: the index records the origin; the SBOM names the deb package URLs.
	out := t.TempDir()
	r, err := Pack(context.Background(), Options{From: fr.Dir, Version: fr.Version, Arch: fr.Arch, Out: out, Origin: fr.Origin})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(r.Index)
	idx, err := index.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b := idx.Find("22.05.8", "x86_64")
	if b.Origin == nil || b.Origin.Distro != "debian" || b.Origin.Packages[0].PURL != c.PURL || b.SBOM != "slurm-client-22.05.8-x86_64.spdx.json" {
		t.Fatalf("index entry %+v", b)
	}
	doc, _ := os.ReadFile(r.SBOM)
	var d struct {
		Packages []struct {
			Name         string `json:"name"`
			Version      string `json:"versionInfo"`
			ExternalRefs []struct {
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Packages) != 3 || d.Packages[0].Name != "slurm-client" || d.Packages[0].Version != "22.05.8-4+deb12u3" ||
		d.Packages[0].ExternalRefs[0].Locator != c.PURL {
		t.Errorf("SBOM packages %+v", d.Packages)
	}
}

func TestAssembleFromRootPrefixWithoutDatabase(t *testing.T) {
	if platform.Host() != platform.X86_64 {
		t.Skip("the fixture copies this host's x86_64 ELF files")
	}
	root := rootfstest.Debian(t)
	// A make install under /opt/slurm: RUNPATH-less, libraries from the
	// root's own directories; no package database says the version.
	rootfstest.Copy(t, root, "/bin/ls", "/opt/slurm/bin/sinfo")
	rootfstest.Copy(t, root, "/bin/ls", "/opt/slurm/bin/squeue")
	rootfstest.Copy(t, root, rootfstest.HostLib(t, "libselinux.so.1"), "/usr/local/lib/libselinux.so.1")
	rootfstest.Copy(t, root, rootfstest.HostLib(t, "libpcre2-8.so.0"), "/usr/lib/"+rootfstest.Triplet()+"/libpcre2-8.so.0")
	rootfstest.WriteFile(t, root, "/etc/ld.so.conf.d/local.conf", "/usr/local/lib\n")
	fr, err := AssembleFromRoot(root, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Cleanup()
	if fr.Prefix != "/opt/slurm" || fr.Version != "" || fr.Origin.Database != "" || len(fr.Origin.Packages) != 0 ||
		!slices.Equal(fr.Commands, []string{"sinfo", "squeue"}) || !slices.Equal(fr.Libs, []string{"libpcre2-8.so.0", "libselinux.so.1"}) {
		t.Fatalf("found %+v (origin %+v)", fr, fr.Origin)
	}
}

func TestAssembleFromRootRefuses(t *testing.T) {
	root := rootfstest.Debian(t)
	_, err := AssembleFromRoot(root, "x86_64")
	if failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "no SLURM client in the root") {
		t.Fatalf("empty root: %v", err)
	}
	// sinfo needs a library the root does not have: named, with what needs it.
	if platform.Host() != platform.X86_64 {
		return
	}
	rootfstest.Copy(t, root, "/bin/ls", "/usr/bin/sinfo")
	_, err = AssembleFromRoot(root, "x86_64")
	if failure.ClassOf(err) != failure.Usage || !strings.Contains(err.Error(), "bin/sinfo needs libselinux.so.1, which the root") {
		t.Fatalf("missing library: %v", err)
	}
}
