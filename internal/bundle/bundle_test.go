package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// The strings are on disk: receipts and indexes of earlier releases hold
// them, so a rename would make them unreadable.
func TestValuesOnDisk(t *testing.T) {
	var got []string
	for _, v := range Verifications() {
		got = append(got, string(v))
		if !v.Valid() {
			t.Errorf("%q is listed but not Valid", v)
		}
	}
	if s := strings.Join(got, ","); s != "pinned,signed-index,index,sidecar,sha256sums,layer-digest,none" {
		t.Errorf("verifications %s", s)
	}
	for _, bad := range []Verification{"", "Pinned", "layer", "sha256"} {
		if bad.Valid() {
			t.Errorf("%q is Valid", bad)
		}
	}
	got = nil
	for _, l := range Layouts() {
		got = append(got, string(l))
	}
	if s := strings.Join(got, ","); s != "direct,index,tarball,tree,file,oci,cache" {
		t.Errorf("layouts %s", s)
	}
	if !Glibc.Valid() || !Musl.Valid() || !UnknownLibc.Valid() || Libc("uclibc").Valid() {
		t.Error("libc validity")
	}
	b, _ := json.Marshal(struct{ V Verification }{LayerDigest})
	if string(b) != `{"V":"layer-digest"}` {
		t.Errorf("JSON %s", b)
	}
}

func TestParseDigest(t *testing.T) {
	h := sum([]byte("x"))
	for _, in := range []string{h, strings.ToUpper(h), " " + h + "\n", "sha256:" + h} {
		d, err := ParseDigest(in)
		if err != nil || string(d) != h || !d.Valid() {
			t.Errorf("ParseDigest(%q) = %q, %v", in, d, err)
		}
	}
	for _, in := range []string{"", h[:63], h + "0", "sha512:" + h, "md5:" + h[:32], strings.Repeat("g", 64), "sha256:"} {
		if d, err := ParseDigest(in); err == nil {
			t.Errorf("ParseDigest(%q) = %q", in, d)
		}
	}
	if d := Digest(strings.ToUpper(h)); d.Valid() {
		t.Error("an upper-case digest is not canonical")
	}
	if d, _ := ParseDigest(h); d.OCI() != "sha256:"+h {
		t.Error(d.OCI())
	}
}

func TestCompression(t *testing.T) {
	for name, want := range map[string]Compression{"a.tar.gz": Gzip, "A.TGZ": Gzip, "a.tar.xz": Xz, "a.tar.zst": Zstd,
		"a.tar.bz2": Bzip2, "a.zip": Zip, "a.tar": "", "a.gz": ""} {
		if got := CompressionOf(name); got != want {
			t.Errorf("CompressionOf(%s) = %q, want %q", name, got, want)
		}
	}
	for head, want := range map[string]Compression{"\x1f\x8b\x08": Gzip, "\xfd7zXZ\x00": Xz, "\x28\xb5\x2f\xfd": Zstd,
		"BZh9": Bzip2, "PK\x03\x04": Zip, "PK\x05\x06": Zip, "<html>": "", "": ""} {
		if got := Sniff([]byte(head)); got != want {
			t.Errorf("Sniff(%q) = %q, want %q", head, got, want)
		}
	}
	if len(ArchiveSuffixes()) != 6 {
		t.Error(ArchiveSuffixes())
	}
}

func TestParseChecksums(t *testing.T) {
	h := sum([]byte("bundle"))
	for _, in := range []string{h, h + "\n", h + "  x.tar.gz\n", h + " *x.tar.gz", "SHA256 (x.tar.gz) = " + h, strings.ToUpper(h) + "\r\n",
		"# comment\n" + sum([]byte("a")) + "  a.tar.gz\n" + h + "  ./x.tar.gz\n"} {
		if got, err := ParseSidecar([]byte(in), "x.tar.gz"); err != nil || string(got) != h {
			t.Errorf("sidecar %q: %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "<html>404</html>", h[:63], h + "x", "sha256:" + h,
		sum([]byte("a")) + "  a.tar.gz\n" + sum([]byte("b")) + "  b.tar.gz\n"} {
		if got, err := ParseSidecar([]byte(in), "x.tar.gz"); err == nil {
			t.Errorf("sidecar %q parsed as %q", in, got)
		}
	}
	if got, err := ParseSidecar(FormatSidecar(Digest(h), "x.tar.gz"), "x.tar.gz"); err != nil || string(got) != h {
		t.Errorf("FormatSidecar round trip: %q, %v", got, err)
	}
	m, err := ParseSums([]byte(h + "  bin/sinfo\n" + h + " *lib/libslurm.so\n\n# c\n"))
	if err != nil || string(m["bin/sinfo"]) != h || string(m["lib/libslurm.so"]) != h || len(m) != 2 {
		t.Errorf("SHA256SUMS: %v, %v", m, err)
	}
	for _, in := range []string{"", h, "garbage line", h + "  a\n" + sum([]byte("x")) + "  a\n"} {
		if _, err := ParseSums([]byte(in)); err == nil {
			t.Errorf("SHA256SUMS %q parsed", in)
		}
	}
	if s := string(FormatSums(map[string]Digest{"b": Digest(h), "a": Digest(h)})); s != h+"  a\n"+h+"  b\n" {
		t.Errorf("FormatSums = %q", s)
	}
}

func TestLibcOfLoader(t *testing.T) {
	for interp, want := range map[string]Libc{
		"/lib/ld-musl-x86_64.so.1": Musl, "/lib/ld-musl-aarch64.so.1": Musl,
		"/lib64/ld-linux-x86-64.so.2": Glibc, "/lib/ld-linux-aarch64.so.1": Glibc, "/lib/ld-linux-armhf.so.3": Glibc,
		"/usr/bin/env": "", "": "",
	} {
		if got := LibcOfLoader(interp); got != want {
			t.Errorf("LibcOfLoader(%q) = %q, want %q", interp, got, want)
		}
	}
}
