package index

import (
	"strings"
	"testing"
)

const good = `{"schema":1,"created":"2026-11-23T07:00:00Z","serial":2,"latest":{"amd64":"22.05.8"},
 "bundles":[{"version":"22.05.8","arch":"x86_64","url":"../slurm-apk/a.tar.gz","sha256":"` + hex + `","size":10,"glibc":"2.36","series":"22.05"},
            {"version":"24.11.5","arch":"aarch64","url":"https://m/b.tar.gz","sha256":"` + hex + `","size":10,"self_contained":true,"prefix":"/usr/local/slurm"}]}`

const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseFindLatest(t *testing.T) {
	idx, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if b := idx.Find("latest", "x86_64"); b == nil || b.Version != "22.05.8" || b.Glibc != "2.36" {
		t.Fatalf("latest x86_64 (latest named with the amd64 spelling): %+v", b)
	}
	if b := idx.Find("24.11.5", "arm64"); b == nil || !b.SelfContained {
		t.Fatalf("24.11.5 arm64: %+v", b)
	}
	if idx.LatestFor("amd64") != "22.05.8" || idx.LatestFor("aarch64") != "" || idx.LatestFor("sparc") != "" {
		t.Fatal("LatestFor")
	}
}

// Every field a hostile or broken index could get wrong is refused.
func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{`"schema":1`, `"schema":2`, "schema 2"},
		{`"sha256":"` + hex + `","size":10,"glibc"`, `"sha256":"00","size":10,"glibc"`, "64 hex"},
		{`"size":10,"glibc"`, `"size":0,"glibc"`, "not positive"},
		{`"../slurm-apk/a.tar.gz"`, `"file:///etc/passwd"`, "relative or http"},
		{`"glibc":"2.36"`, `"glibc":"2.36; rm"`, "not a version"},
		{`"series":"22.05"`, `"series":"23.02"`, "not the major release"},
		{`"prefix":"/usr/local/slurm"`, `"prefix":"/usr/../etc"`, "clean absolute"},
		{`"arch":"x86_64"`, `"arch":"sparc"`, "sparc"},
		{`"latest":{"amd64":"22.05.8"}`, `"latest":{"amd64":"$(x)"}`, "bad version"},
	} {
		bad := strings.Replace(good, c.from, c.to, 1)
		if bad == good {
			t.Fatalf("case %q does not apply", c.from)
		}
		if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s -> %s: %v, want %q", c.from, c.to, err, c.want)
		}
	}
}

// A digest in upper case is read in the one form every digest the
// installer computes has (issue 22: one digest parser, bundle.ParseDigest).
func TestParseDigestCase(t *testing.T) {
	idx, err := Parse([]byte(strings.ReplaceAll(good, hex, strings.ToUpper(hex))))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range idx.Bundles {
		if b.SHA256 != hex {
			t.Errorf("%s: sha256 %q, want %q", b.Version, b.SHA256, hex)
		}
	}
}

// Issue 25: an index may list a version in both formats (gzip first, as
// pack writes it); Find takes zstd, and the name must agree with the
// compression field.
func TestCompression(t *testing.T) {
	both := `{"schema":1,"created":"2026-12-07T07:00:00Z","serial":1,"latest":{"x86_64":"22.05.8"},"bundles":[
	 {"version":"22.05.8","arch":"x86_64","url":"../slurm-apk/a.tar.gz","sha256":"` + hex + `","size":10},
	 {"version":"22.05.8","arch":"x86_64","url":"../slurm-apk/a.tar.zst","sha256":"` + hex + `","size":8,"compression":"zstd"}]}`
	idx, err := Parse([]byte(both))
	if err != nil {
		t.Fatal(err)
	}
	if b := idx.Find("latest", "amd64"); b == nil || b.Format() != Zstd || !strings.HasSuffix(b.URL, ".tar.zst") {
		t.Fatalf("Find: %+v, want the zstd entry", b)
	}
	if idx.Bundles[0].Format() != Gzip {
		t.Fatalf("an entry without compression is %q, want gzip", idx.Bundles[0].Format())
	}
	for _, bad := range []struct{ url, comp, want string }{
		{"a.tar.zst", "", "does not name a gzip bundle"},
		{"a.tar.gz", "zstd", "does not name a zstd bundle"},
		{"a.tar.lz4", "lz4", "not gzip or zstd"},
	} {
		doc := `{"schema":1,"bundles":[{"version":"22.05.8","arch":"x86_64","url":"` + bad.url + `","sha256":"` + hex + `","size":1,"compression":"` + bad.comp + `"}]}`
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s / %q: %v, want %q", bad.url, bad.comp, err, bad.want)
		}
	}
}
