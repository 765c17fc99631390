package bundle

import (
	"maps"
	"strings"
	"testing"
)

// FuzzParseSHA256Sidecar: a digest is only ever 64 lower-case hex digits.
// Seeds: testdata/fuzz/FuzzParseSHA256Sidecar.
func FuzzParseSHA256Sidecar(f *testing.F) {
	d := strings.Repeat("0123456789abcdef", 4)
	f.Add([]byte(d+"\n"), "x.tar.gz")
	f.Add([]byte(d+"  x.tar.gz\n"), "x.tar.gz")
	f.Add([]byte(strings.ToUpper(d)+" *x.tar.gz\r\n"), "x.tar.gz")
	f.Add([]byte("SHA256 (x.tar.gz) = "+d+"\n"), "x.tar.gz")
	f.Add([]byte(d+"  a\n"+d+"  b\n"), "b")
	f.Add([]byte("not a checksum"), "x")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		got, err := ParseSidecar(data, name)
		if err == nil && !got.Valid() {
			t.Fatalf("ParseSidecar returned %q", got)
		}
	})
}

// FuzzParseSHA256SUMS: every digest is 64 lower-case hex digits and every
// name is non-empty, one line, without NUL or a leading "./"; what
// FormatSums writes from the result parses back to the same.
// Seeds: testdata/fuzz/FuzzParseSHA256SUMS.
func FuzzParseSHA256SUMS(f *testing.F) {
	d := strings.Repeat("0123456789abcdef", 4)
	f.Add([]byte(d + "  bin/sinfo\n" + d + " *lib/libslurmfull.so\n# comment\n\n"))
	f.Add([]byte(d + "  ./VERSION\r\n"))
	f.Add([]byte(d + "  a\n" + strings.Repeat("1", 64) + "  a\n"))
	f.Add([]byte("SHA256 (bin/sinfo) = " + d + "\n"))
	f.Add([]byte(d + "  **a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := ParseSums(data)
		if err != nil {
			return
		}
		if len(sums) == 0 {
			t.Fatal("no error and no sums")
		}
		for n, d := range sums {
			if !d.Valid() {
				t.Fatalf("digest %q for %q", d, n)
			}
			if n == "" || strings.ContainsAny(n, "\x00\n") || strings.HasPrefix(n, "./") {
				t.Fatalf("name %q", n)
			}
		}
		again, err := ParseSums(FormatSums(sums))
		if err != nil || !maps.Equal(again, sums) {
			t.Fatalf("round trip: %v, %v; want %v", again, err, sums)
		}
	})
}
