package fetch

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
)

const bin = "pkgs/slurm-binaries/"

func treeFiles(arch string) map[string][]byte {
	files := map[string][]byte{
		"bin/sinfo":                     []byte("#!sinfo"),
		"bin/squeue":                    []byte("#!squeue"),
		"lib/libslurmfull.so":           []byte("ELF lib"),
		"lib/slurm/auth_munge.so":       []byte("ELF plugin"),
		"lib/slurm/select_cons_tres.so": []byte("ELF plugin 2"),
		"VERSION":                       []byte("22.05.8\n"),
	}
	out := map[string][]byte{}
	var sums strings.Builder
	for p, b := range files {
		out[bin+arch+"/"+p] = b
		fmt.Fprintf(&sums, "%s  %s\n", sum(b), p)
	}
	out[bin+arch+"/SHA256SUMS"] = []byte(sums.String())
	return out
}

func checkTree(t *testing.T, a *Artifact) {
	t.Helper()
	if !a.Tree || a.Layout != "tree" || a.Version != "22.05.8" {
		t.Fatalf("artifact = %+v", a)
	}
	for p, mode := range map[string]os.FileMode{"bin/sinfo": 0o755, "bin/squeue": 0o755, "lib/libslurmfull.so": 0o644, "lib/slurm/auth_munge.so": 0o644, "VERSION": 0o644} {
		fi, err := os.Stat(filepath.Join(a.Path, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", p, fi.Mode().Perm(), mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(a.Path, "lib/slurm/auth_munge.so")); string(b) != "ELF plugin" {
		t.Errorf("plugin content = %q", b)
	}
	if _, err := os.Stat(filepath.Join(a.Path, "SHA256SUMS")); err == nil {
		t.Errorf("SHA256SUMS copied into the payload")
	}
}

func TestTreeLayout(t *testing.T) {
	for _, format := range []string{"html", "json"} {
		t.Run(format, func(t *testing.T) {
			files := treeFiles("amd64")
			m := newMirror(t, files)
			m.json = format == "json"
			a := mustFetch(t, opts(t, m.URL()))
			checkTree(t, a)
			if a.URL != m.URL()+"/"+bin+"amd64/" || a.SHA256 != sum(files[bin+"amd64/SHA256SUMS"]) ||
				a.ChecksumSource != "SHA256SUMS "+m.URL()+"/"+bin+"amd64/SHA256SUMS" {
				t.Errorf("artifact = %+v", a)
			}
			a.Cleanup()
			if _, err := os.Stat(a.Path); !os.IsNotExist(err) {
				t.Errorf("Cleanup left %s", a.Path)
			}
		})
	}
}

func TestTreeIntegrity(t *testing.T) {
	t.Run("tampered file", func(t *testing.T) {
		files := treeFiles("x86_64")
		files[bin+"x86_64/lib/slurm/auth_munge.so"] = []byte("evil")
		_, err := Fetch(context.Background(), opts(t, newMirror(t, files).URL()))
		wantClass(t, err, failure.Integrity)
	})
	t.Run("file not listed in SHA256SUMS", func(t *testing.T) {
		files := treeFiles("x86_64")
		files[bin+"x86_64/bin/extra"] = []byte("extra")
		_, err := Fetch(context.Background(), opts(t, newMirror(t, files).URL()))
		wantClass(t, err, failure.Integrity)
	})
	t.Run("listed in SHA256SUMS but missing", func(t *testing.T) {
		files := treeFiles("x86_64")
		delete(files, bin+"x86_64/bin/squeue")
		_, err := Fetch(context.Background(), opts(t, newMirror(t, files).URL()))
		wantClass(t, err, failure.Integrity)
	})
	t.Run("no SHA256SUMS: unverified, canonical manifest", func(t *testing.T) {
		files := treeFiles("x86_64")
		delete(files, bin+"x86_64/SHA256SUMS")
		o := opts(t, newMirror(t, files).URL())
		a := mustFetch(t, o)
		checkTree(t, a)
		if a.ChecksumSource != "none published" || len(a.SHA256) != 64 {
			t.Errorf("artifact = %+v", a)
		}
		// The manifest digest can be pinned.
		o.SHA256 = a.SHA256
		if a2 := mustFetch(t, o); a2.ChecksumSource != "pinned digest" || a2.Verification != VerifiedPinned {
			t.Errorf("source = %q", a2.ChecksumSource)
		}
	})
	t.Run("no bin/ is not a tree", func(t *testing.T) {
		_, err := Fetch(context.Background(), opts(t, newMirror(t, map[string][]byte{bin + "x86_64/VERSION": []byte("1")}).URL()))
		wantClass(t, err, failure.Download)
	})
}

func TestTreeHostileListing(t *testing.T) {
	files := treeFiles("x86_64")
	m := newMirror(t, files)
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/"+bin+"x86_64/bin/" {
			return false
		}
		fmt.Fprint(w, `<html><body><pre><a href="../">../</a>
<a href="../x">../x</a>
<a href="/etc/passwd">passwd</a>
<a href="a%2F..%2Fb">a/../b</a>
<a href="..%2F..%2Fescape">escape</a>
<a href="http://evil.example/sinfo">sinfo</a>
<a href="?C=N;O=D">Name</a>
<a href="sinfo">sinfo</a>    23-Nov-2026 07:00    7
<a href="squeue">squeue</a>
</pre></body></html>`)
		return true
	}
	a := mustFetch(t, opts(t, m.URL()))
	checkTree(t, a)
	var got []string
	filepath.Walk(filepath.Dir(a.Path), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			got = append(got, p)
		}
		return nil
	})
	if len(got) != 6 {
		t.Errorf("files written: %v", got)
	}
	for _, p := range []string{"/etc/passwd", "/x", "/b", "/escape"} {
		if strings.HasSuffix(strings.Join(got, " "), p) {
			t.Errorf("hostile name written: %v", got)
		}
	}
}

func TestTreeFileMirror(t *testing.T) {
	dir := t.TempDir()
	for p, b := range treeFiles("x86_64") {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), b, 0o600)
	}
	a := mustFetch(t, opts(t, "file://"+dir))
	checkTree(t, a)
}

func TestTreeFlakyFile(t *testing.T) {
	m := newMirror(t, treeFiles("x86_64"))
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/lib/libslurmfull.so") && n == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	checkTree(t, mustFetch(t, opts(t, m.URL())))
}

func TestParseAutoindex(t *testing.T) {
	es, err := parseAutoindex([]byte(`[{"name":"bin","type":"directory","mtime":"x"},{"name":"VERSION","type":"file","size":7},
		{"name":"../x","type":"file"},{"name":"..","type":"directory"},{"name":"l","type":"other"},{"name":"a\u0000b","type":"file"}]`), "application/json")
	if err != nil || len(es) != 2 || es[0] != (entry{"bin", true, -1}) || es[1] != (entry{"VERSION", false, 7}) {
		t.Errorf("json: %v, %v", es, err)
	}
	es, err = parseAutoindex([]byte(`<pre><a href="../">../</a>
<a href="bin/">bin/</a>                                               23-Nov-2026 07:00                   -
<a href="VERSION">VERSION</a>                                            23-Nov-2026 07:00                   8
<a href="my%20file">my file</a>  23-Nov-2026 07:00  5.8M
<a href="a%2F..%2Fb">x</a>
<a href="%00">x</a>
</pre>`), "text/html")
	want := []entry{{"bin", true, -1}, {"VERSION", false, 8}, {"my file", false, -1}}
	if err != nil || fmt.Sprint(es) != fmt.Sprint(want) {
		t.Errorf("html: %v, %v", es, err)
	}
	for _, bad := range []string{"plain text", "[{not json"} {
		if _, err := parseAutoindex([]byte(bad), ""); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// A tree of another version is a miss: the next mirror is asked, and
// nothing but the listing and VERSION is fetched from the first.
func TestTreeOtherVersionIsAMiss(t *testing.T) {
	older := map[string][]byte{}
	for p, b := range treeFiles("x86_64") {
		older[p] = b
	}
	older[bin+"x86_64/VERSION"] = []byte("22.05.7\n")
	delete(older, bin+"x86_64/SHA256SUMS")
	first, second := newMirror(t, older), newMirror(t, treeFiles("x86_64"))
	o := opts(t, first.URL(), second.URL())
	o.Version = "22.05.8"
	a := mustFetch(t, o)
	checkTree(t, a)
	if a.Mirror != second.URL() {
		t.Fatalf("served by %s, want the second mirror", a.Mirror)
	}
	if n := first.count("/" + bin + "x86_64/bin/sinfo"); n != 0 {
		t.Fatalf("downloaded bin/sinfo %d times from the mirror holding another version", n)
	}
	o = opts(t, first.URL())
	o.Version = "99.1.1"
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Download)
}

// A tree whose VERSION reads "slurm 22.05.8" (how some publishers write it)
// is version 22.05.8, as install and pack read it (issue 15: it failed with
// exit 4 and a reachability hint).
func TestTreeVersionWithWords(t *testing.T) {
	files := treeFiles("x86_64")
	files[bin+"x86_64/VERSION"] = []byte("slurm 22.05.8\n")
	var sums strings.Builder
	for p, b := range files {
		if rel, ok := strings.CutPrefix(p, bin+"x86_64/"); ok && rel != "SHA256SUMS" {
			fmt.Fprintf(&sums, "%s  %s\n", sum(b), rel)
		}
	}
	files[bin+"x86_64/SHA256SUMS"] = []byte(sums.String())
	for _, v := range []string{"latest", "22.05.8", "22.05"} {
		o := opts(t, newMirror(t, files).URL())
		o.Version = v
		a := mustFetch(t, o)
		if a.Version != "22.05.8" {
			t.Errorf("--slurm-version %s: version %q, want 22.05.8", v, a.Version)
		}
		a.Cleanup()
	}
}
