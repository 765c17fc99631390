package decompress

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"slurm-installer/internal/bundle"
)

// TestDecompress: each stream format reads back what was written (bzip2
// from the extraction tests' bundle: Go has no bzip2 writer); a zstd frame
// that asks for a window over MaxZstdWindow, a header that does not open,
// and formats that are not streams are errors.
func TestOpen(t *testing.T) {
	payload := bytes.Repeat([]byte("slurm-client payload "), 5000)
	var gz, xb bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(payload)
	gw.Close()
	xw, err := xz.NewWriter(&xb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(payload)
	xw.Close()
	enc, _ := zstd.NewWriter(nil)
	zs := enc.EncodeAll(payload, nil)
	for c, data := range map[bundle.Compression][]byte{bundle.Gzip: gz.Bytes(), bundle.Xz: xb.Bytes(), bundle.Zstd: zs} {
		r, err := Open(bytes.NewReader(data), c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: read %d bytes, %v; want the payload", c, len(got), err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("%s: close: %v", c, err)
		}
	}
	bz, err := os.ReadFile("../../install/testdata/formats/good.tar.bz2")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(bz), bundle.Bzip2)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r); err != nil || len(b) < 512 || !bytes.Equal(b[257:262], []byte("ustar")) {
		t.Errorf("bzip2: %d bytes, %v; want a tar", len(b), err)
	}

	// A hand-made frame (magic, a descriptor with no content size, a window
	// descriptor, one raw last block "hello"): an 8 MiB window reads, a
	// 256 MiB one (over MaxZstdWindow) is refused.
	frame := func(windowLog byte) []byte {
		return append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, (windowLog - 10) << 3, 1 | 5<<3, 0, 0}, "hello"...)
	}
	if r, err := Open(bytes.NewReader(frame(23)), bundle.Zstd); err != nil {
		t.Fatalf("an 8 MiB window: %v", err)
	} else if b, err := io.ReadAll(r); err != nil || string(b) != "hello" {
		t.Fatalf("an 8 MiB window: %q, %v", b, err)
	}
	if r, err := Open(bytes.NewReader(frame(28)), bundle.Zstd); err == nil {
		if b, err := io.ReadAll(r); err == nil {
			t.Errorf("a zstd frame with a 256 MiB window was read: %q", b)
		}
	}
	if _, err := Open(bytes.NewReader([]byte("<html>not gzip</html>")), bundle.Gzip); err == nil {
		t.Error("a gzip header that does not open: no error")
	}
	for _, c := range []bundle.Compression{bundle.Zip, "", "tar"} {
		if _, err := Open(bytes.NewReader(nil), c); err == nil {
			t.Errorf("%q is not a stream: no error", c)
		}
	}
}
