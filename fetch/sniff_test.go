package fetch

import (
	"archive/tar"
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/rs/zerolog"
	"github.com/ulikunitz/xz"
)

// TestProbeReadsWhatExtractionReads: the probe that refuses an error page
// and the VERSION reader open a bundle through internal/decompress, as
// extraction does, so a zstd bundle with a 128 MiB window (`zstd
// --long=27`, which extraction reads) is not refused as a bad archive
// (the probe bounded the window at 64 MiB), and an xz bundle's VERSION is
// read. A zstd frame that is not a tar is still refused.
func TestProbeReadsWhatExtractionReads(t *testing.T) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	body := []byte("22.05.8\n")
	tw.WriteHeader(&tar.Header{Name: "usr/local/slurm/VERSION", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A hand-made frame with a 128 MiB window (encoders shrink the window
	// to small inputs): magic, no content size, window descriptor, one raw
	// last block holding the tar.
	n := len(tb.Bytes())
	long := append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, (27 - 10) << 3, byte(1 | n<<3), byte(n >> 5), byte(n >> 13)}, tb.Bytes()...)
	if h := new(zstd.Header); h.Decode(long) != nil || h.WindowSize <= 64<<20 {
		t.Fatalf("the test frame's window is %d bytes: want over 64 MiB", h.WindowSize)
	}
	var xb bytes.Buffer
	xw, _ := xz.NewWriter(&xb)
	xw.Write(tb.Bytes())
	xw.Close()
	notTar, _ := zstd.NewWriter(nil)

	s := &session{log: zerolog.Nop()}
	u, _ := url.Parse("http://mirror.example/b")
	for _, c := range []struct {
		name    string
		data    []byte
		bad     bool
		version string
	}{
		{"long.tar.zst", long, false, "22.05.8"},
		{"b.tar.xz", xb.Bytes(), false, "22.05.8"},
		{"text.tar.zst", notTar.EncodeAll(bytes.Repeat([]byte("not a tar "), 100), nil), true, ""},
	} {
		p := write(c.name, c.data)
		if ferr := s.sniff(p, u, c.name); (ferr != nil) != c.bad {
			t.Errorf("%s: probe %v, want bad=%v", c.name, ferr, c.bad)
		}
		if v := archiveVersion(p, c.name); v != c.version {
			t.Errorf("%s: VERSION %q, want %q", c.name, v, c.version)
		}
	}
}
