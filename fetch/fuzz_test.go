package fetch

import (
	"encoding/json"
	"strings"
	"testing"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/index"
)

// FuzzParseIndex: an accepted index re-validates after a JSON round trip,
// and every bundle in it has a 64-hex digest, a positive size, a known arch,
// and is what Find returns for its version and arch.
// Seeds: testdata/fuzz/FuzzParseIndex.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"schema":1,"created":"2026-11-23T07:00:00Z","expires":"2027-05-22T07:00:00Z","serial":3,` +
		`"latest":{"x86_64":"22.05.8"},"bundles":[{"version":"22.05.8","arch":"x86_64",` +
		`"url":"../slurm-apk/slurm-client-22.05.8-x86_64-alpine.tar.gz","sha256":"` + strings.Repeat("ab", 32) + `","size":5800000}]}`))
	f.Add([]byte(`{"schema":1,"bundles":[{"version":"1","arch":"arm64","url":"https://h/x.tgz","sha256":"` + strings.Repeat("F", 64) + `","size":1}]}`))
	f.Add([]byte(`{"schema":2}`))
	f.Add([]byte(`{"schema":1,"bundles":[{"version":"../x","arch":"x86_64","url":"file:///etc/passwd","sha256":"00","size":-1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := index.Parse(data)
		if err != nil {
			return
		}
		if idx.Schema != index.Schema {
			t.Fatalf("accepted schema %d", idx.Schema)
		}
		for _, b := range idx.Bundles {
			if !bundle.Digest(b.SHA256).Valid() || b.Size <= 0 || b.URL == "" || b.Version == "" || b.Version == "latest" {
				t.Fatalf("accepted bundle %+v", b)
			}
			if strings.HasPrefix(b.URL, "file:") || strings.Contains(b.URL, "\\") {
				t.Fatalf("accepted url %q", b.URL)
			}
			got := idx.Find(b.Version, b.Arch)
			if got == nil || got.Version != b.Version {
				t.Fatalf("Find(%q, %q) = %+v", b.Version, b.Arch, got)
			}
		}
		out, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		again, err := index.Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if len(again.Bundles) != len(idx.Bundles) || again.Serial != idx.Serial {
			t.Fatalf("round trip changed the index: %+v vs %+v", idx, again)
		}
	})
}

// FuzzParseAutoindex: every entry is one harmless path element (no '/',
// '\', NUL, "." or ".."), listed once, with a size of -1 or more.
func FuzzParseAutoindex(f *testing.F) {
	f.Add([]byte("<html><body><pre><a href=\"../\">../</a>\n<a href=\"bin/\">bin/</a>   23-Nov-2026 07:00    -\n"+
		"<a href=\"VERSION\">VERSION</a>   23-Nov-2026 07:00    8\n</pre></body></html>"), "text/html")
	f.Add([]byte(`[{"name":"bin","type":"directory","mtime":"x"},{"name":"VERSION","type":"file","size":8}]`), "application/json")
	f.Add([]byte(`<a href="/etc/passwd">x</a><a href="http://evil/x">y</a><a href="%2e%2e/x">z</a><a href='..%2fx'>w</a>`), "text/html")
	f.Add([]byte(`[{"name":"..","type":"directory"},{"name":"a/b","type":"file","size":-5}]`), "")
	f.Fuzz(func(t *testing.T, data []byte, contentType string) {
		es, err := parseAutoindex(data, contentType)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range es {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\\\x00") {
				t.Fatalf("unsafe entry %q", e.Name)
			}
			if seen[e.Name] {
				t.Fatalf("entry %q listed twice", e.Name)
			}
			seen[e.Name] = true
			if e.Size < -1 || (e.Dir && e.Size != -1) {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
