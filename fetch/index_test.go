package fetch

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
)

func indexJSON(bundles ...string) []byte {
	return []byte(`{"schema":1,"created":"2026-11-23T07:00:00Z","expires":"2099-05-22T07:00:00Z","serial":1,
 "latest":{"x86_64":"22.05.8","arm64":"23.02.1"},
 "bundles":[` + strings.Join(bundles, ",") + `]}`)
}

func bundleJSON(version, arch, url string, b []byte) string {
	return fmt.Sprintf(`{"version":%q,"arch":%q,"url":%q,"sha256":%q,"size":%d,"self_contained":false}`,
		version, arch, url, sum(b), len(b))
}

func TestIndex(t *testing.T) {
	other := []byte("the 23.02.1 bundle")
	arm := []byte("the arm bundle")
	files := map[string][]byte{
		"pkgs/slurm/index.json": indexJSON(
			bundleJSON("23.02.1", "x86_64", "../slurm-apk/other.tar.gz", other),
			bundleJSON("22.05.8", "amd64", "../slurm-apk/b-22.05.8.tar.gz", testBundle),
			bundleJSON("23.02.1", "aarch64", "arm/b.tar.gz", arm),
		),
		apk + "other.tar.gz":                            other,
		apk + "b-22.05.8.tar.gz":                        testBundle,
		"pkgs/slurm/arm/b.tar.gz":                       arm,
		apk + "slurm-client-9.9.9-x86_64-alpine.tar.gz": tgzOf("seed"),
	}
	m := newMirror(t, files)

	a := mustFetch(t, opts(t, m.URL()))
	checkFile(t, a, testBundle)
	if a.Layout != "index" || a.Version != "22.05.8" || a.URL != m.URL()+"/"+apk+"b-22.05.8.tar.gz" ||
		a.ChecksumSource != "index "+m.URL()+"/pkgs/slurm/index.json" || a.Name != "b-22.05.8.tar.gz" {
		t.Errorf("artifact = %+v", a)
	}

	o := opts(t, m.URL())
	o.Version, o.Arch = "latest", "aarch64"
	a = mustFetch(t, o)
	checkFile(t, a, arm)
	if a.Version != "23.02.1" {
		t.Errorf("version = %q", a.Version)
	}

	// No matching bundle: the seed layouts come next.
	o = opts(t, m.URL())
	o.Version = "9.9.9"
	a = mustFetch(t, o)
	if a.Layout != "tarball" {
		t.Errorf("layout = %q", a.Layout)
	}

	// More bytes than the index says: integrity.
	files[apk+"b-22.05.8.tar.gz"] = append([]byte("x"), testBundle...)
	_, err := Fetch(context.Background(), opts(t, m.URL()))
	wantClass(t, err, failure.Integrity)
	// Same size, other bytes: integrity too.
	files[apk+"b-22.05.8.tar.gz"] = []byte(strings.ToUpper(string(testBundle)))
	_, err = Fetch(context.Background(), opts(t, m.URL()))
	wantClass(t, err, failure.Integrity)
	if !strings.Contains(err.Error(), "index") {
		t.Errorf("error %q does not name the source", err)
	}
}

func TestParseIndex(t *testing.T) {
	good := bundleJSON("22.05.8", "x86_64", "../a.tar.gz", testBundle)
	if idx, err := index.Parse(indexJSON(good)); err != nil || idx.Find("latest", "amd64") == nil || idx.Find("22.05.8", "aarch64") != nil {
		t.Fatalf("index.Parse: %v, %+v", err, idx)
	}
	sc := strings.Replace(good, `"self_contained":false`, `"self_contained":true,"prefix":"/opt/slurm"`, 1)
	if idx, err := index.Parse(indexJSON(sc)); err != nil || idx.Bundles[0].Prefix != "/opt/slurm" {
		t.Fatalf("self-contained prefix: %v, %+v", err, idx)
	}
	for name, data := range map[string]string{
		"schema 2":     `{"schema":2,"bundles":[]}`,
		"no schema":    `{"bundles":[]}`,
		"not json":     `<html>`,
		"short sha":    string(indexJSON(strings.Replace(good, sum(testBundle), "abcd", 1))),
		"zero size":    string(indexJSON(strings.Replace(good, fmt.Sprintf(`"size":%d`, len(testBundle)), `"size":0`, 1))),
		"file url":     string(indexJSON(strings.Replace(good, "../a.tar.gz", "file:///etc/passwd", 1))),
		"ftp url":      string(indexJSON(strings.Replace(good, "../a.tar.gz", "ftp://x/a.tar.gz", 1))),
		"unknown arch": string(indexJSON(strings.Replace(good, `"x86_64"`, `"sparc"`, 1))),
		"latest sparc": `{"schema":1,"latest":{"sparc":"1"},"bundles":[]}`,
		"rel prefix":   string(indexJSON(strings.Replace(good, `"size"`, `"prefix":"usr/local/slurm","size"`, 1))),
		"dirty prefix": string(indexJSON(strings.Replace(good, `"size"`, `"prefix":"/opt/../etc","size"`, 1))),
	} {
		if _, err := index.Parse([]byte(data)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestSignedIndex(t *testing.T) {
	idx := indexJSON(bundleJSON("22.05.8", "x86_64", "../slurm-apk/b.tar.gz", testBundle))
	files := map[string][]byte{
		"pkgs/slurm/index.json":                           idx,
		"pkgs/slurm/index.json.minisig":                   []byte("good sig"),
		apk + "b.tar.gz":                                  testBundle,
		apk + "slurm-client-22.05.8-x86_64-alpine.tar.gz": testBundle,
	}
	m := newMirror(t, files)
	var calls int
	verifier := func(index, sig []byte) error {
		calls++
		if string(index) != string(idx) {
			return fmt.Errorf("index bytes differ")
		}
		if string(sig) != "good sig" {
			return fmt.Errorf("bad signature")
		}
		return nil
	}
	signed := func(mirrors ...string) Options {
		o := opts(t, mirrors...)
		o.RequireSignedIndex, o.IndexVerifier = true, verifier
		return o
	}

	a := mustFetch(t, signed(m.URL()))
	checkFile(t, a, testBundle)
	if a.Layout != "index" || a.IndexSerial != 1 || !a.IndexSigned || a.IndexExpires.Year() != 2099 || calls != 1 {
		t.Errorf("artifact = %+v, verifier calls = %d", a, calls)
	}

	// A bad signature is an integrity failure, with no fall-back to the tarball layout.
	files["pkgs/slurm/index.json.minisig"] = []byte("forged")
	_, err := Fetch(context.Background(), signed(m.URL()))
	wantClass(t, err, failure.Integrity)
	if m.count("/"+apk+"slurm-client-22.05.8-x86_64-alpine.tar.gz") != 0 {
		t.Error("fell back to the tarball layout")
	}
	// A missing signature: integrity.
	delete(files, "pkgs/slurm/index.json.minisig")
	_, err = Fetch(context.Background(), signed(m.URL()))
	wantClass(t, err, failure.Integrity)
	if !strings.Contains(err.Error(), "signature missing") {
		t.Errorf("err = %v", err)
	}
	// No index at all: integrity, no seed layouts.
	delete(files, "pkgs/slurm/index.json")
	_, err = Fetch(context.Background(), signed(m.URL()))
	wantClass(t, err, failure.Integrity)
	// A direct URL is refused...
	_, err = Fetch(context.Background(), signed(m.URL()+"/"+apk+"b.tar.gz"))
	wantClass(t, err, failure.Integrity)
	if m.count("/"+apk+"b.tar.gz") != 1 { // only the first, good run downloaded it
		t.Errorf("direct URL was downloaded: %d", m.count("/"+apk+"b.tar.gz"))
	}
	// ...unless --sha256 pins the bytes: then every layout is fine.
	o := signed(m.URL())
	o.SHA256 = sum(testBundle)
	a = mustFetch(t, o)
	if a.Layout != "tarball" || a.IndexSigned {
		t.Errorf("artifact = %+v", a)
	}

	// A pinned digest that disagrees with the signed index: integrity.
	files["pkgs/slurm/index.json"] = idx
	files["pkgs/slurm/index.json.minisig"] = []byte("good sig")
	o = signed(m.URL())
	o.SHA256 = sum([]byte("other"))
	_, err = Fetch(context.Background(), o)
	wantClass(t, err, failure.Integrity)

	// An expired signed index is refused.
	expired := []byte(strings.Replace(string(idx), "2099-05-22", "2001-05-22", 1))
	files["pkgs/slurm/index.json"] = expired
	_, err = Fetch(context.Background(), Options{Mirrors: []string{m.URL()}, Version: "22.05.8", Arch: "x86_64",
		TempDir: t.TempDir(), Log: testLog(t), RequireSignedIndex: true, IndexVerifier: func(_, _ []byte) error { return nil }})
	wantClass(t, err, failure.Integrity)

	// No verifier: a bug in the caller.
	_, err = Fetch(context.Background(), Options{Mirrors: []string{m.URL()}, Arch: "x86_64", RequireSignedIndex: true})
	if failure.ClassOf(err) != failure.Internal {
		t.Errorf("no verifier: %v", err)
	}
}
