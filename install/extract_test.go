package install

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"slurm-installer/internal/failure"
)

// member describes one crafted archive entry.
type member struct {
	name, link string
	typ        byte
	mode       int64
	body       string
	size       int64 // for bombs: zero bytes of this size instead of body
}

func writeTarGz(t *testing.T, dir string, ms []member) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Linkname: m.link, Typeflag: m.typ, Mode: m.mode}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if m.typ == tar.TypeReg {
			h.Size = int64(len(m.body))
			if m.size > 0 {
				h.Size = m.size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.typ == tar.TypeReg {
			if m.size > 0 {
				zero := make([]byte, 1<<20)
				for left := m.size; left > 0; {
					n := min(left, int64(len(zero)))
					if _, err := tw.Write(zero[:n]); err != nil {
						t.Fatal(err)
					}
					left -= n
				}
			} else if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bundle.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func good() []member {
	return []member{
		{name: "usr/local/slurm/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/bin/sinfo", typ: tar.TypeReg, mode: 0o755, body: "#!fake\n"},
		{name: "usr/local/slurm/lib/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/slurm/lib/libslurmfull.so", typ: tar.TypeReg, body: "lib"},
		{name: "usr/local/slurm/lib/libslurmfull.so.1", typ: tar.TypeSymlink, link: "libslurmfull.so"},
		{name: "usr/local/slurm/VERSION", typ: tar.TypeReg, body: "22.05.8\n"},
		{name: "install.sh", typ: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\ntouch /PWNED\n"},
	}
}

func TestExtractGood(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	es, err := ExtractArchive(context.Background(), writeTarGz(t, dir, good()), out, Limits{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 8 {
		t.Fatalf("got %d entries, want 8: %+v", len(es), es)
	}
	if l, err := os.Readlink(filepath.Join(out, "usr/local/slurm/lib/libslurmfull.so.1")); err != nil || l != "libslurmfull.so" {
		t.Fatalf("symlink: %q %v", l, err)
	}
	p, err := findPayload(es, "/usr/local/slurm")
	if err != nil || p != "usr/local/slurm" {
		t.Fatalf("payload %q %v", p, err)
	}
}

func TestExtractHostile(t *testing.T) {
	cases := []struct {
		name  string
		ms    []member
		lim   Limits
		class failure.Class
	}{
		{"absolute path", []member{{name: "/etc/passwd", typ: tar.TypeReg, body: "x"}}, Limits{}, failure.Archive},
		{"dot-dot", []member{{name: "bin/../../escape", typ: tar.TypeReg, body: "x"}}, Limits{}, failure.Archive},
		{"symlink to /etc then write through", []member{
			{name: "etc", typ: tar.TypeSymlink, link: "/etc"},
			{name: "etc/cron.d/evil", typ: tar.TypeReg, body: "x"}}, Limits{}, failure.Archive},
		{"relative symlink escape then write through", []member{
			{name: "a/", typ: tar.TypeDir},
			{name: "a/up", typ: tar.TypeSymlink, link: "../.."},
			{name: "a/up/evil", typ: tar.TypeReg, body: "x"}}, Limits{}, failure.Archive},
		{"symlink chain escapes", []member{
			{name: "a/", typ: tar.TypeDir},
			{name: "a/b", typ: tar.TypeSymlink, link: "."},
			{name: "c", typ: tar.TypeSymlink, link: "a/b/../../x"}}, Limits{}, failure.Archive},
		{"write through in-archive link", []member{
			{name: "d", typ: tar.TypeSymlink, link: "x"},
			{name: "d/f", typ: tar.TypeReg, body: "x"}}, Limits{}, failure.Archive},
		{"hard link outside", []member{{name: "h", typ: tar.TypeLink, link: "../../etc/shadow"}}, Limits{}, failure.Archive},
		{"hard link absolute", []member{{name: "h", typ: tar.TypeLink, link: "/etc/shadow"}}, Limits{}, failure.Archive},
		{"char device", []member{{name: "null", typ: tar.TypeChar}}, Limits{}, failure.Archive},
		{"block device", []member{{name: "sda", typ: tar.TypeBlock}}, Limits{}, failure.Archive},
		{"fifo", []member{{name: "p", typ: tar.TypeFifo}}, Limits{}, failure.Archive},
		{"size bomb", []member{{name: "big", typ: tar.TypeReg, size: 8 << 20}}, Limits{MaxSize: 1 << 20}, failure.Archive},
		{"entry bomb", func() []member {
			var ms []member
			for i := 0; i < 50; i++ {
				ms = append(ms, member{name: "f" + strings.Repeat("x", i), typ: tar.TypeReg, body: "x"})
			}
			return ms
		}(), Limits{MaxEntries: 20}, failure.Archive},
		{"dir replaced by link", []member{
			{name: "lib/", typ: tar.TypeDir},
			{name: "lib", typ: tar.TypeSymlink, link: "."}}, Limits{}, failure.Archive},
		{"file replaced", []member{
			{name: "f", typ: tar.TypeReg, body: "a"},
			{name: "f", typ: tar.TypeReg, body: "b"}}, Limits{}, failure.Archive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			os.Mkdir(out, 0o755)
			_, err := ExtractArchive(context.Background(), writeTarGz(t, dir, tc.ms), out, tc.lim, zerolog.Nop())
			if err == nil {
				t.Fatal("accepted a hostile archive")
			}
			if c := failure.ClassOf(err); c != tc.class {
				t.Fatalf("class %v, want %v: %v", c, tc.class, err)
			}
			// Nothing was written outside the extraction directory.
			for _, p := range []string{filepath.Join(dir, "escape"), filepath.Join(dir, "evil"), filepath.Join(filepath.Dir(dir), "escape")} {
				if _, err := os.Lstat(p); err == nil {
					t.Fatalf("%s was written outside the extraction dir", p)
				}
			}
		})
	}
}

func TestExtractDropsSetuid(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	ms := []member{{name: "bin/", typ: tar.TypeDir}, {name: "bin/su", typ: tar.TypeReg, mode: 0o4755 | 0o2000, body: "x"}}
	es, err := ExtractArchive(context.Background(), writeTarGz(t, dir, ms), out, Limits{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(out, "bin/su"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 || fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if es[1].Mode != 0o755 {
		t.Fatalf("recorded mode %v", es[1].Mode)
	}
}

func TestExtractCorrupt(t *testing.T) {
	dir := t.TempDir()
	p := writeTarGz(t, dir, good())
	b, _ := os.ReadFile(p)
	for name, data := range map[string][]byte{
		"truncated": b[:len(b)/2],
		"garbage":   []byte("this is not an archive at all, just text\n"),
		"flipped":   append(append([]byte{}, b[:20]...), bytes.Repeat([]byte{0xff}, len(b)-20)...),
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, name+".tar.gz")
			os.WriteFile(f, data, 0o644)
			out := filepath.Join(dir, "out-"+name)
			os.Mkdir(out, 0o755)
			_, err := ExtractArchive(context.Background(), f, out, Limits{}, zerolog.Nop())
			if failure.ClassOf(err) != failure.Archive {
				t.Fatalf("want archive class, got %v", err)
			}
		})
	}
}

func TestExtractZip(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, add func(*zip.Writer)) string {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		add(zw)
		zw.Close()
		p := filepath.Join(dir, name)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	okZip := mk("ok.zip", func(zw *zip.Writer) {
		w, _ := zw.Create("slurm/bin/sinfo")
		w.Write([]byte("x"))
		w, _ = zw.Create("slurm/VERSION")
		w.Write([]byte("1.0\n"))
	})
	out := filepath.Join(dir, "ok")
	os.Mkdir(out, 0o755)
	es, err := ExtractArchive(context.Background(), okZip, out, Limits{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := findPayload(es, "/usr/local/slurm"); err != nil || p != "slurm" {
		t.Fatalf("payload %q %v", p, err)
	}
	for name, add := range map[string]func(*zip.Writer){
		"slip.zip": func(zw *zip.Writer) { w, _ := zw.Create("../../evil"); w.Write([]byte("x")) },
		"abs.zip":  func(zw *zip.Writer) { w, _ := zw.Create("/evil"); w.Write([]byte("x")) },
		"link.zip": func(zw *zip.Writer) {
			h := &zip.FileHeader{Name: "l"}
			h.SetMode(fs.ModeSymlink | 0o777)
			w, _ := zw.CreateHeader(h)
			w.Write([]byte("/etc"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+name)
			os.Mkdir(out, 0o755)
			_, err := ExtractArchive(context.Background(), mk(name, add), out, Limits{}, zerolog.Nop())
			if !errors.Is(err, errUnsafeEntry) && failure.ClassOf(err) != failure.Archive {
				t.Fatalf("want rejection, got %v", err)
			}
		})
	}
}

func TestFindPayload(t *testing.T) {
	d := func(ps ...string) []Entry {
		var es []Entry
		for _, p := range ps {
			typ := "file"
			if strings.HasSuffix(p, "/") {
				typ, p = "dir", strings.TrimSuffix(p, "/")
			}
			es = append(es, Entry{Path: p, Type: typ})
		}
		return es
	}
	cases := []struct {
		es   []Entry
		want string
		err  bool
	}{
		{d("usr/", "usr/local/", "usr/local/slurm/", "usr/local/slurm/bin/", "usr/local/slurm/bin/sinfo", "install.sh"), "usr/local/slurm", false},
		{d("slurm-22/", "slurm-22/bin/", "slurm-22/bin/sinfo"), "slurm-22", false},
		{d("bin/", "bin/sinfo", "lib/", "VERSION"), "", false},
		{d("opt/", "opt/slurm/", "opt/slurm/bin/", "README"), "", true},
		{d("docs/", "docs/x"), "", true},
	}
	for i, tc := range cases {
		got, err := findPayload(tc.es, "/usr/local/slurm")
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("case %d: got %q, %v; want %q, err=%v", i, got, err, tc.want, tc.err)
		}
	}
	// A prefix of /opt/slurm finds opt/slurm.
	if got, err := findPayload(cases[3].es, "/opt/slurm"); err != nil || got != "opt/slurm" {
		t.Errorf("opt prefix: %q %v", got, err)
	}
}

// TestMergeMuslPath: the site's path file is kept byte for byte and ours
// is appended after it; unmerge gives the site's bytes back, and takes our
// lines out by line when the site edited the file since.
func TestMergeMuslPath(t *testing.T) {
	dirs := []string{"/usr/local/slurm/lib"}
	got, added, app := mergeMuslPath(nil, dirs)
	if string(got) != "/lib\n/usr/local/lib\n/usr/lib\n/usr/local/slurm/lib\n" || len(added) != 1 || app != "" {
		t.Fatalf("fresh: %q %v %q", got, added, app)
	}
	for _, site := range []string{"/opt/x/lib:/lib /usr/lib\n", "/lib:/usr/lib:/opt/site/lib", "/lib\n\n/usr/lib\n\n"} {
		got, added, app := mergeMuslPath([]byte(site), dirs)
		if !strings.HasPrefix(string(got), site) || !strings.HasSuffix(string(got), "\n/usr/local/slurm/lib\n") || len(added) != 1 {
			t.Fatalf("%q: merged %q: the site's bytes must come first, untouched", site, got)
		}
		if string(got) != site+app {
			t.Fatalf("%q: appended %q does not account for %q", site, app, got)
		}
		again, added2, app2 := mergeMuslPath(got, dirs)
		if !bytes.Equal(got, again) || len(added2) != 0 || app2 != "" {
			t.Fatalf("%q: a second merge changed it: %q", site, again)
		}
		cf := Config{Lines: added, Appended: app}
		if back := unmerge(got, cf); string(back) != site {
			t.Fatalf("%q: unmerge gave %q", site, back)
		}
		edited := append([]byte("/site/new\n"), got...) // still ends with ours
		if back := unmerge(edited, cf); string(back) != "/site/new\n"+site {
			t.Fatalf("%q edited before: unmerge gave %q", site, back)
		}
		after := append(slices.Clone(got), "/site/late\n"...) // ours is no longer the tail
		if back := unmerge(after, cf); strings.Contains(string(back), "/usr/local/slurm/lib") || !strings.Contains(string(back), "/site/late") {
			t.Fatalf("%q edited after: unmerge gave %q", site, back)
		}
	}
}

func TestLinkTarget(t *testing.T) {
	for _, tc := range []struct{ bin, prefix, want string }{
		{"/usr/local/bin", "/usr/local/slurm", "../slurm/bin/sinfo"},
		{"/usr/bin", "/opt/slurm", "../../opt/slurm/bin/sinfo"},
		{"/bin", "/slurm", "../slurm/bin/sinfo"},
	} {
		in, err := Open(Options{RootDir: t.TempDir(), BinDir: tc.bin, Prefix: tc.prefix})
		if err != nil {
			t.Fatal(err)
		}
		if got := in.linkTarget("sinfo"); got != tc.want {
			t.Errorf("%s→%s: got %s want %s", tc.bin, tc.prefix, got, tc.want)
		}
		in.Close()
	}
}

// Issue 12 item 5: on a merged-/usr root (/bin -> usr/bin) the kernel
// resolves a link in /bin from /usr/bin, so the relative target must be
// computed from there, or every link dangles.
func TestLinkTargetMergedUsr(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"bin": "usr/bin", "sbin": "/usr/bin"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for bin, want := range map[string]string{"/bin": "../local/slurm/bin/sinfo", "/sbin": "../local/slurm/bin/sinfo", "/usr/bin": "../local/slurm/bin/sinfo"} {
		in, err := Open(Options{RootDir: root, BinDir: bin, Prefix: "/usr/local/slurm"})
		if err != nil {
			t.Fatal(err)
		}
		if got := in.linkTarget("sinfo"); got != want {
			t.Errorf("--bin-dir %s: target %s, want %s", bin, got, want)
		}
		if !in.ours(bin+"/sinfo", want) {
			t.Errorf("--bin-dir %s: its own link %s is not recognised as ours", bin, want)
		}
		in.Close()
	}
}
