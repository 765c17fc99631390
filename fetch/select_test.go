package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
)

func needJSON(version, arch, url string, b []byte, glibc string, selfContained bool, prefix string) string {
	return fmt.Sprintf(`{"version":%q,"arch":%q,"url":%q,"sha256":%q,"size":%d,"self_contained":%v,"glibc":%q,"prefix":%q}`,
		version, arch, url, sum(b), len(b), selfContained, glibc, prefix)
}

// TestSelectJudges: the newest bundle that matches the selector and can
// run in the root, with a reason for every newer one passed over.
func TestSelectJudges(t *testing.T) {
	x := []byte("x")
	idx, err := index.Parse([]byte(`{"schema":1,"created":"2026-11-23T07:00:00Z","serial":1,"bundles":[` + strings.Join([]string{
		needJSON("24.11.5", "x86_64", "a.tar.gz", x, "2.39", false, ""),
		needJSON("24.11.1", "x86_64", "b.tar.gz", x, "2.36", true, "/opt/slurm"),
		needJSON("23.11.10", "x86_64", "c.tar.gz", x, "2.34", false, ""),
		needJSON("22.05.10", "x86_64", "d.tar.gz", x, "2.36", false, ""),
		needJSON("22.05.8", "amd64", "e.tar.gz", x, "2.31", false, ""),
		needJSON("22.05.9", "aarch64", "f.tar.gz", x, "2.31", false, ""),
		needJSON("23.02.1", "x86_64", "g.tar.gz", x, "2.36", true, "/usr/local/slurm"),
	}, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	deb12 := &Options{RootGlibc: "2.36", RootGlibcFile: "/lib/x86_64-linux-gnu/libc.so.6", Libc: "glibc", Prefix: "/usr/local/slurm"}
	alpine := &Options{Libc: "musl", Prefix: "/usr/local/slurm"}
	for _, c := range []struct {
		sel   string
		o     *Options
		want  string
		skips []string
		doubt bool
	}{
		{"latest", deb12, "23.11.10", []string{
			"24.11.5: needs glibc 2.39, the root has 2.36 (/lib/x86_64-linux-gnu/libc.so.6)",
			"24.11.1: self-contained and packed for the prefix /opt/slurm, not /usr/local/slurm (its commands name their loader under /opt/slurm)"}, false},
		{"latest", &Options{RootGlibc: "2.41", Libc: "glibc", Prefix: "/opt/slurm"}, "24.11.5", nil, false},
		// Packed for another prefix: taken when nothing else is there (the install refuses the --prefix, exit 2).
		{"24.11", deb12, "24.11.1", []string{"24.11.5: needs glibc 2.39"}, true},
		{"24.11", &Options{RootGlibc: "2.36", Libc: "glibc", Prefix: "/opt/slurm"}, "24.11.1", []string{"24.11.5: needs glibc 2.39, the root has 2.36"}, false},
		{"22.05", deb12, "22.05.10", nil, false}, // 22.05.10 > 22.05.8 numerically
		{"22.05", &Options{RootGlibc: "2.31", Libc: "glibc"}, "22.05.8", []string{"22.05.10: needs glibc 2.36, the root has 2.31"}, false},
		{"22.05.8", deb12, "22.05.8", nil, false},
		{"22.05.10", &Options{RootGlibc: "2.31", Libc: "glibc"}, "", []string{"22.05.10: needs glibc 2.36, the root has 2.31"}, false},
		// musl: the self-contained bundle for this prefix beats newer plain glibc ones ...
		{"latest", alpine, "23.02.1", []string{
			"24.11.5: needs glibc 2.39 and the root has musl libc (it could run only through gcompat); a bundle that surely runs here is preferred",
			"24.11.1: self-contained and packed for the prefix /opt/slurm",
			"23.11.10: needs glibc 2.34 and the root has musl libc"}, false},
		// ... and with none, the newest plain one is tried (gcompat may carry it; preflight decides).
		{"22.05", alpine, "22.05.10", nil, true},
		// Nothing known about the root: newest wins, as before.
		{"latest", &Options{}, "24.11.5", nil, false},
		{"21.08", deb12, "", nil, false},
	} {
		t.Run(c.sel, func(t *testing.T) {
			b, skipped, doubt := selectBundle(idx, c.sel, "x86_64", c.o)
			got := ""
			if b != nil {
				got = b.Version
			}
			if got != c.want || doubt != c.doubt {
				t.Fatalf("Select(%s) = %q (doubt %v), want %q (doubt %v); skipped %v", c.sel, got, doubt, c.want, c.doubt, skipped)
			}
			if len(skipped) != len(c.skips) {
				t.Fatalf("skipped %v, want %d like %v", skipped, len(c.skips), c.skips)
			}
			for i, s := range skipped {
				if line := s.Version + ": " + s.Reason; !strings.HasPrefix(line, c.skips[i]) {
					t.Errorf("skip %d = %q, want %q...", i, line, c.skips[i])
				}
			}
		})
	}
	// The index's latest pointer caps latest.
	idx.Latest = map[string]string{"amd64": "23.02.1"}
	if b, _, _ := selectBundle(idx, "latest", "x86_64", &Options{}); b == nil || b.Version != "23.02.1" {
		t.Errorf("latest with a latest pointer = %+v", b)
	}
}

// TestSelectIndexFetch: through Fetch, the skipped bundle is not
// downloaded; when none can run, the mirror's cause says why for each and
// the run fails with class Verify.
func TestSelectIndexFetch(t *testing.T) {
	new1, old := tgzOf("24.11.5"), tgzOf("22.05.8")
	files := map[string][]byte{
		"pkgs/slurm/index.json": []byte(`{"schema":1,"created":"2026-11-23T07:00:00Z","serial":1,"bundles":[` +
			needJSON("24.11.5", "x86_64", "../slurm-apk/new.tar.gz", new1, "2.99", false, "") + "," +
			needJSON("22.05.8", "x86_64", "../slurm-apk/old.tar.gz", old, "2.31", false, "") + `]}`),
		apk + "new.tar.gz": new1,
		apk + "old.tar.gz": old,
	}
	m := newMirror(t, files)
	o := opts(t, m.URL())
	o.Version, o.RootGlibc, o.RootGlibcFile, o.Libc = "latest", "2.36", "/lib/x86_64-linux-gnu/libc.so.6", "glibc"
	a := mustFetch(t, o)
	checkFile(t, a, old)
	if a.Version != "22.05.8" || m.count("/"+apk+"new.tar.gz") != 0 {
		t.Errorf("artifact %+v; new.tar.gz fetched %d times", a, m.count("/"+apk+"new.tar.gz"))
	}

	o = opts(t, m.URL())
	o.Version, o.RootGlibc, o.RootGlibcFile, o.Libc = "24.11", "2.36", "/lib/x86_64-linux-gnu/libc.so.6", "glibc"
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Verify)
	if !errors.Is(err, ErrNoBundleRuns) {
		t.Errorf("not ErrNoBundleRuns: %v", err)
	}
	for _, want := range []string{"no bundle of SLURM 24.11 for x86_64 can run in this root",
		"24.11.5: needs glibc 2.99, the root has 2.36 (/lib/x86_64-linux-gnu/libc.so.6)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if h := failure.HintOf(err); !strings.Contains(h, "2.36") {
		t.Errorf("hint = %q", h)
	}
	if st := failure.Steps(err); !slices.Contains(st, failure.PackSelfContained) || !slices.Contains(st, failure.OtherVersion) {
		t.Errorf("remedies %v: want a self-contained bundle and another version", st)
	}
	if m.count("/"+apk+"slurm-client-24.11.5-x86_64-alpine.tar.gz")+m.count("/"+apk) != 0 {
		t.Error("the seed layouts were tried after the index said nothing runs")
	}
}

// TestSelectTarballListing: a series in the tarball layout is resolved by
// listing pkgs/slurm-apk/ (HTML and JSON autoindex), newest first by
// numeric comparison, arch-named before arch-less, other arches ignored.
func TestSelectTarballListing(t *testing.T) {
	b8, b10, b23, arm, bare := tgzOf("22.05.8"), tgzOf("22.05.10"), tgzOf("23.02.1"), tgzOf("arm 22.05.11"), tgzOf("bare 22.05.9")
	files := map[string][]byte{
		apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz":        b8,
		apk + "slurm-client-22.05.10-amd64-alpine.tar.gz":        b10,
		apk + "slurm-client-22.05.10-amd64-alpine.tar.gz.sha256": []byte(sum(b10) + "\n"),
		apk + "slurm-client-23.02.1-x86_64-alpine.tar.gz":        b23,
		apk + "slurm-client-22.05.11-aarch64-alpine.tar.gz":      arm,
		apk + "slurm-client-22.05.9-alpine.tar.gz":               bare,
		apk + "slurm-client-latest-x86_64-alpine.tar.gz":         b23,
	}
	for _, format := range []string{"html", "json"} {
		t.Run(format, func(t *testing.T) {
			m := newMirror(t, files)
			m.json = format == "json"
			o := opts(t, m.URL())
			o.Version = "22.05"
			a := mustFetch(t, o)
			checkFile(t, a, b10)
			if a.Version != "22.05.10" || a.Layout != "tarball" || a.Verification != VerifiedSidecar {
				t.Errorf("artifact = %+v", a)
			}
			o.Version = "23.02"
			a = mustFetch(t, o)
			checkFile(t, a, b23)
			// Accept narrows the listing (the controller's window).
			o.Version = "22.05"
			o.Accept = func(v string) string {
				if v == "22.05.10" {
					return "outside the window"
				}
				return ""
			}
			a = mustFetch(t, o)
			checkFile(t, a, bare)
			if a.Version != "22.05.9" {
				t.Errorf("version = %q", a.Version)
			}
		})
	}
}

// TestSelectCannotList: a tarball layout without autoindex cannot resolve
// a series; the mirror says so and the next layout and mirror are asked.
func TestSelectCannotList(t *testing.T) {
	b := tgzOf("22.05.8")
	m := newMirror(t, map[string][]byte{apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz": b})
	m.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/"+apk {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return true
		}
		return false
	}
	o := opts(t, m.URL())
	o.Version = "22.05"
	_, err := Fetch(context.Background(), o)
	wantClass(t, err, failure.Download)
	if !strings.Contains(err.Error(), "cannot list versions of the tarball layout (no autoindex: 403 forbidden)") {
		t.Errorf("error = %v", err)
	}
	if !slices.Contains(failure.Steps(err), failure.ExactVersion) {
		t.Errorf("remedies %v: want an exact version", failure.Steps(err))
	}
	good := newMirror(t, map[string][]byte{apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz": b})
	o = opts(t, m.URL(), good.URL())
	o.Version = "22.05"
	checkFile(t, mustFetch(t, o), b)

	// A direct URL with {version} cannot list either.
	o = opts(t, m.URL()+"/pkgs/slurm-apk/slurm-client-{version}-x86_64-alpine.tar.gz")
	o.Version = "22.05"
	_, err = Fetch(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "cannot list versions through a direct URL") || !slices.Contains(failure.Steps(err), failure.ExactVersion) {
		t.Errorf("direct: %v (remedies %v)", err, failure.Steps(err))
	}
}

// TestSelectTree: the tree layout holds one version: it matches a series
// iff its VERSION does.
func TestSelectTree(t *testing.T) {
	m := newMirror(t, treeFiles("x86_64"))
	for sel, ok := range map[string]bool{"22.05": true, "latest": true, "22.05.8": true, "23.02": false, "22.05.9": false} {
		o := opts(t, m.URL())
		o.Version = sel
		a, err := Fetch(context.Background(), o)
		if ok != (err == nil) {
			t.Fatalf("%s: %v", sel, err)
		}
		if err == nil {
			checkTree(t, a)
			a.Cleanup()
		} else if !strings.Contains(err.Error(), `the tree holds SLURM "22.05.8", not the requested `+sel) {
			t.Errorf("%s: %v", sel, err)
		}
	}
	o := opts(t, m.URL())
	o.Version = "latest"
	o.Accept = func(v string) string { return "controller 24.11.5 accepts 23.11 to 24.11 only" }
	_, err := Fetch(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), `the tree holds SLURM "22.05.8", controller 24.11.5 accepts`) {
		t.Errorf("accept: %v", err)
	}
}

func TestTarballName(t *testing.T) {
	for name, want := range map[string][2]string{
		"slurm-client-22.05.8-x86_64-alpine.tar.gz":        {"22.05.8", "x86_64"},
		"slurm-client-22.05.8-amd64-alpine.tar.gz":         {"22.05.8", "x86_64"},
		"slurm-client-24.11.5-1-arm64-alpine.tar.gz":       {"24.11.5-1", "aarch64"},
		"slurm-client-22.05.8-alpine.tar.gz":               {"22.05.8", ""},
		"slurm-client-latest-x86_64-alpine.tar.gz":         {"", "-"},
		"slurm-client-22.05.8-x86_64-alpine.tar.gz.sha256": {"", "-"},
		"other-22.05.8.tar.gz":                             {"", "-"},
	} {
		v, a, ok := tarballName(name)
		if want[1] == "-" {
			if ok {
				t.Errorf("%s: parsed as %s/%s", name, v, a)
			}
			continue
		}
		if !ok || v != want[0] || a != want[1] {
			t.Errorf("%s = %s/%s/%v, want %v", name, v, a, ok, want)
		}
	}
}

// TestCandidates: what `install --slurm-version cluster` probes: the
// index's bundles that can run, newest first, capped by its latest
// pointer; else the tarball listing; nothing from a mirror that cannot list.
func TestCandidates(t *testing.T) {
	x := []byte("x")
	m := newMirror(t, map[string][]byte{
		"pkgs/slurm/index.json": []byte(`{"schema":1,"created":"2026-11-23T07:00:00Z","serial":1,"latest":{"x86_64":"24.11.5"},"bundles":[` + strings.Join([]string{
			needJSON("25.05.1", "x86_64", "p.tar.gz", x, "2.31", false, ""), // a preview above latest
			needJSON("24.11.5", "x86_64", "a.tar.gz", x, "2.99", false, ""),
			needJSON("22.05.8", "x86_64", "e.tar.gz", x, "2.31", false, ""),
			needJSON("22.05.10", "x86_64", "d.tar.gz", x, "2.36", false, ""),
			needJSON("23.02.1", "aarch64", "f.tar.gz", x, "2.31", false, ""),
		}, ",") + `]}`),
	})
	o := opts(t, m.URL())
	o.RootGlibc, o.Libc = "2.36", "glibc"
	vs, err := Candidates(context.Background(), o)
	if err != nil || strings.Join(vs, " ") != "22.05.10 22.05.8" {
		t.Errorf("index candidates = %v, %v", vs, err)
	}

	l := newMirror(t, map[string][]byte{
		apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz":  x,
		apk + "slurm-client-22.05.10-x86_64-alpine.tar.gz": x,
		apk + "slurm-client-23.02.1-aarch64-alpine.tar.gz": x,
		apk + "slurm-client-21.08.2-alpine.tar.gz":         x,
	})
	l.json = true
	dead := newMirror(t, nil)
	vs, err = Candidates(context.Background(), opts(t, dead.URL(), l.URL()))
	if err != nil || strings.Join(vs, " ") != "22.05.10 22.05.8 21.08.2" {
		t.Errorf("listing candidates = %v, %v", vs, err)
	}
	vs, err = Candidates(context.Background(), opts(t, dead.URL()))
	if err != nil || len(vs) != 0 {
		t.Errorf("nothing listable = %v, %v", vs, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Candidates(ctx, opts(t, l.URL())); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
