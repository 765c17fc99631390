package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	rt "slurm-installer/internal/testkit/rootfstest"
	"slurm-installer/rootfs"
)

// entry is one payload file: a host file copied in, or a symlink.
type entry struct{ rel, src, link string }

func file(rel, src string) entry     { return entry{rel: rel, src: src} }
func symlink(rel, to string) entry   { return entry{rel: rel, link: to} }
func text(rel, content string) entry { return entry{rel: rel, link: "\x00" + content} }

// payload lays out a staged <prefix> in a temp dir.
func payload(t *testing.T, es ...entry) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range es {
		switch {
		case strings.HasPrefix(e.link, "\x00"):
			rt.WriteFile(t, dir, e.rel, e.link[1:])
		case e.link != "":
			rt.Symlink(t, dir, e.link, e.rel)
		default:
			rt.Copy(t, dir, e.src, e.rel)
		}
	}
	return dir
}

const prefix = "/usr/local/slurm"

func TestPreflight(t *testing.T) {
	c := cBins(t)
	host := platform.Host()
	loader := hostLoaderPath()
	other := platform.AArch64
	if host == platform.AArch64 {
		other = platform.X86_64
	}
	in := func(p string) string { return filepath.Join(c, p) }

	debian, alpine, gcompat, rocky, distroless := rt.Debian(t), rt.Alpine(t), rt.Gcompat(t), rt.Rocky(t), rt.Distroless(t)

	// A site library in /opt/site/lib, configured through ld.so.conf.d.
	debSite := rt.Debian(t)
	rt.Copy(t, debSite, in("libfoo.so.1"), "/opt/site/lib/libfoo.so.1")
	rt.WriteFile(t, debSite, "/etc/ld.so.conf.d/site.conf", "/opt/site/lib\n")
	distroSite := rt.Distroless(t)
	rt.Copy(t, distroSite, in("libfoo.so.1"), "/opt/site/lib/libfoo.so.1")
	rt.WriteFile(t, distroSite, "/etc/ld.so.conf.d/site.conf", "/opt/site/lib\n")
	// A library of another machine where ld.so would look first: skipped.
	debWrongLib := rt.Debian(t)
	rt.Copy(t, debWrongLib, goBin(t, platform.GoArch(other), rt.HelloSource), "/usr/lib/"+rt.Triplet()+"/libfoo.so.1")

	musl := filepath.Join(c, "musl-hello")
	_, muslErr := os.Stat(musl)

	tests := []struct {
		name      string
		root      string
		libc      rootfs.Libc
		arch      string // "" = host
		files     []entry
		linker    []string
		skip      string
		wantErr   []string // substrings of the error; nil = pass
		hint      []string
		fix       []failure.Remedy // remedies the advice must include
		missing   []Missing
		onceInMsg string
	}{
		{name: "glibc binary in debian", root: debian, libc: rootfs.Glibc, files: []entry{file("bin/sinfo", in("hello"))}},
		{name: "glibc binary in rocky", root: rocky, libc: rootfs.Glibc, files: []entry{file("bin/sinfo", in("hello"))}},
		{name: "glibc binary in distroless", root: distroless, libc: rootfs.Glibc, files: []entry{file("bin/sinfo", in("hello"))}},
		{name: "glibc binary in alpine+gcompat", root: gcompat, libc: rootfs.Musl, files: []entry{file("bin/sinfo", in("hello"))}},
		{
			name: "glibc binaries in alpine", root: alpine, libc: rootfs.Musl,
			files:     []entry{file("bin/sinfo", in("hello")), file("bin/squeue", in("hello")), text("VERSION", "22.05.8\n"), text("bin/README", "not ELF\n")},
			wantErr:   []string{"missing loader " + loader, "needed by bin/sinfo, bin/squeue", "glibc's own libc.so.6"},
			hint:      []string{"this bundle is built for glibc; on Alpine run `apk add gcompat libgcc libstdc++` or publish a self-contained bundle"},
			missing:   []Missing{{"loader", loader, []string{"bin/sinfo", "bin/squeue"}}, {"library", "libc.so.6", []string{"bin/sinfo", "bin/squeue"}}},
			onceInMsg: loader,
		},
		{
			name: "missing library", root: debian, libc: rootfs.Glibc,
			files:   []entry{file("bin/squeue", in("usefoo"))},
			wantErr: []string{"missing libfoo.so.1 (needed by bin/squeue)"},
			hint:    []string{"provide libfoo.so.1"},
			missing: []Missing{{"library", "libfoo.so.1", []string{"bin/squeue"}}},
		},
		{name: "library in payload lib/", root: debian, libc: rootfs.Glibc,
			files: []entry{file("bin/squeue", in("usefoo")), file("lib/libfoo.so.1.0.0", in("libfoo.so.1")), symlink("lib/libfoo.so.1", "libfoo.so.1.0.0")}},
		{name: "library in payload lib/ in alpine+gcompat", root: gcompat, libc: rootfs.Musl,
			files: []entry{file("bin/squeue", in("usefoo")), file("lib/libfoo.so.1", in("libfoo.so.1"))}},
		{name: "library through RUNPATH $ORIGIN", root: debian, libc: rootfs.Glibc,
			files: []entry{file("bin/squeue", in("usefoo-origin")), file("private/libfoo.so.1", in("libfoo.so.1"))}},
		{
			name: "no RUNPATH, library only in a private dir", root: debian, libc: rootfs.Glibc,
			files:   []entry{file("bin/squeue", in("usefoo")), file("private/libfoo.so.1", in("libfoo.so.1"))},
			wantErr: []string{"libfoo.so.1"},
		},
		{name: "library through the installer's linker dirs", root: debian, libc: rootfs.Glibc, linker: []string{prefix + "/lib/extra"},
			files: []entry{file("bin/squeue", in("usefoo")), file("lib/extra/libfoo.so.1", in("libfoo.so.1"))}},
		{name: "library through ld.so.conf.d", root: debSite, libc: rootfs.Glibc, files: []entry{file("bin/squeue", in("usefoo"))}},
		{name: "distroless ignores ld.so.conf.d without ld.so.conf", root: distroSite, libc: rootfs.Glibc,
			files: []entry{file("bin/squeue", in("usefoo"))}, wantErr: []string{"libfoo.so.1"}},
		{name: "a library of another machine is skipped", root: debWrongLib, libc: rootfs.Glibc,
			files: []entry{file("bin/squeue", in("usefoo"))}, wantErr: []string{"libfoo.so.1"}},
		{
			name: "debian package hint", root: debian, libc: rootfs.Glibc,
			files:   []entry{file("bin/sinfo", in("usemunge")), file("bin/scontrol", in("usemunge")), file("lib/libslurmfull.so", in("usemunge"))},
			wantErr: []string{"libmunge.so.2 (needed by bin/scontrol, bin/sinfo, lib/libslurmfull.so)"},
			hint:    []string{"run `apt-get install -y libmunge2`"},
		},
		{
			name: "plugins grouped, rocky hint", root: rocky, libc: rootfs.Glibc,
			files: []entry{file("bin/sinfo", in("hello")), file("lib/slurm/auth_jwt.so", in("plugin.so")),
				file("lib/slurm/rest_auth_jwt.so", in("plugin.so")), file("lib/slurm/cli_filter_jwt.so", in("plugin.so"))},
			wantErr: []string{"libjwt.so.0 (needed by 3 plugins)"},
			hint:    []string{"run `dnf install -y libjwt`"},
			missing: []Missing{{"library", "libjwt.so.0", []string{"lib/slurm/auth_jwt.so", "lib/slurm/cli_filter_jwt.so", "lib/slurm/rest_auth_jwt.so"}}},
		},
		{name: "plugin deps in payload lib/", root: debian, libc: rootfs.Glibc,
			files: []entry{file("lib/slurm/auth_jwt.so", in("plugin.so")), file("lib/libjwt.so.0", in("libjwt.so.0"))}},
		{
			name: "self-contained bundle carries its loader", root: alpine, libc: rootfs.Musl,
			files: []entry{file("bin/sinfo", in("selfcontained")), file("lib/"+filepath.Base(loader), rootfstestLoader(t)),
				file("lib/libc.so.6", rt.HostLib(t, "libc.so.6"))},
		},
		{name: "static Go binary runs anywhere", root: alpine, libc: rootfs.Musl, files: []entry{file("bin/sinfo", goBin(t, platform.GoArch(host), rt.HelloSource))}},
		{
			name: "wrong arch", root: debian, libc: rootfs.Glibc,
			files:   []entry{file("bin/sinfo", goBin(t, platform.GoArch(other), rt.HelloSource))},
			wantErr: []string{fmt.Sprintf("bundle is %s but the target root is %s (bin/sinfo)", other, host)},
			fix:     []failure.Remedy{{Step: failure.OtherArch, Arg: host}},
		},
		{
			name: "musl bundle in debian", root: debian, libc: rootfs.Glibc, skip: errString(muslErr),
			files:   []entry{file("bin/sinfo", musl)},
			wantErr: []string{"missing loader /lib/ld-musl-" + host + ".so.1"},
			hint:    []string{"built for musl", "apt-get install musl"},
		},
		{name: "musl bundle in alpine", root: alpine, libc: rootfs.Musl, skip: errString(muslErr), files: []entry{file("bin/sinfo", musl)}},
		{name: "empty payload", root: debian, libc: rootfs.Glibc, files: []entry{text("VERSION", "x\n")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip("no musl-gcc: " + tc.skip)
			}
			arch := tc.arch
			if arch == "" {
				arch = host
			}
			rep, err := Preflight(PreflightInput{PayloadDir: payload(t, tc.files...), Prefix: prefix, Root: rootfs.New(tc.root),
				Arch: arch, Libc: tc.libc, LinkerDirs: tc.linker})
			if rep == nil {
				t.Fatalf("no report: %v", err)
			}
			js, _ := json.Marshal(rep)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Preflight: %v\nhint: %s\nreport: %s", err, failure.HintOf(err), js)
				}
				for _, ch := range rep.Checks {
					if !ch.OK {
						t.Errorf("check %+v failed without an error", ch)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("Preflight passed, want an error; report: %s", js)
			}
			if failure.ClassOf(err) != failure.Verify {
				t.Errorf("class %v, want verification", failure.ClassOf(err))
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, h := range tc.hint {
				if !strings.Contains(failure.HintOf(err), h) {
					t.Errorf("hint %q does not say %q", failure.HintOf(err), h)
				}
			}
			wantFix(t, err, tc.fix...)
			if tc.missing != nil && !slices.EqualFunc(rep.Missing, tc.missing, func(a, b Missing) bool {
				return a.What == b.What && a.Name == b.Name && slices.Equal(a.NeededBy, b.NeededBy)
			}) {
				t.Errorf("Missing = %+v, want %+v", rep.Missing, tc.missing)
			}
			if tc.onceInMsg != "" && strings.Count(err.Error(), tc.onceInMsg) != 1 {
				t.Errorf("error names %s %d times, want once: %s", tc.onceInMsg, strings.Count(err.Error(), tc.onceInMsg), err)
			}
			failed := false
			for _, ch := range rep.Checks {
				failed = failed || (!ch.OK && !ch.Skipped)
			}
			if !failed {
				t.Errorf("no failed check in %s", js)
			}
		})
	}
}

func rootfstestLoader(t *testing.T) string {
	_, f := rt.HostLoader(t)
	return f
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestVerifyInstalled checks an installed prefix that is an ABSOLUTE
// symlink to a versioned directory, as an atomic symlink swap leaves it.
func TestVerifyInstalled(t *testing.T) {
	c := cBins(t)
	root := rt.Debian(t)
	rt.Copy(t, root, filepath.Join(c, "usefoo-origin"), "/usr/local/slurm-22.05.8/bin/sinfo")
	rt.Copy(t, root, filepath.Join(c, "libfoo.so.1"), "/usr/local/slurm-22.05.8/private/libfoo.so.1")
	rt.Symlink(t, root, "/usr/local/slurm-22.05.8", prefix)
	in := PreflightInput{Prefix: prefix, Root: rootfs.New(root), Arch: platform.Host(), Libc: rootfs.Glibc}
	if _, err := verifyInstalled(in); err != nil {
		t.Fatalf("VerifyInstalled: %v", err)
	}
	if err := os.Remove(filepath.Join(root, "usr/local/slurm-22.05.8/private/libfoo.so.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyInstalled(in); err == nil || !strings.Contains(err.Error(), "libfoo.so.1 (needed by bin/sinfo)") {
		t.Fatalf("VerifyInstalled after removing the library: %v", err)
	}
	in.Prefix = "/opt/none"
	if _, err := verifyInstalled(in); failure.ClassOf(err) != failure.Verify || !strings.Contains(err.Error(), "/opt/none") {
		t.Fatalf("VerifyInstalled on a missing prefix: %v", err)
	}
}

// TestPreflightFast runs on a bundle shaped like the real one: 17
// commands, 18 libraries, 110 plugins.
func TestPreflightFast(t *testing.T) {
	c := cBins(t)
	var es []entry
	for i := 0; i < 17; i++ {
		es = append(es, file(fmt.Sprintf("bin/cmd%d", i), filepath.Join(c, "usemunge")))
	}
	for i := 0; i < 18; i++ {
		es = append(es, file(fmt.Sprintf("lib/libx%d.so.1", i), filepath.Join(c, "libfoo.so.1")))
	}
	es = append(es, file("lib/libmunge.so.2", filepath.Join(c, "libmunge.so.2")), file("lib/libjwt.so.0", filepath.Join(c, "libjwt.so.0")))
	for i := 0; i < 110; i++ {
		es = append(es, file(fmt.Sprintf("lib/slurm/plugin%d.so", i), filepath.Join(c, "plugin.so")))
	}
	dir := payload(t, es...)
	root := rootfs.New(rt.Debian(t))
	start := time.Now()
	rep, err := Preflight(PreflightInput{PayloadDir: dir, Prefix: prefix, Root: root, Arch: platform.Host(), Libc: rootfs.Glibc})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took > 2*time.Second {
		t.Errorf("Preflight of %d files took %s", len(es), took)
	}
	t.Logf("%d files in %s: %+v", len(es), took, rep.Checks)
}
