package install

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/rs/zerolog"
	"github.com/ulikunitz/xz"
	"go.uber.org/goleak"

	"slurm-installer/internal/failure"
)

// tarOf is the plain tar of ms.
func tarOf(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Linkname: m.link, Typeflag: m.typ, Mode: m.mode, Format: tar.FormatUSTAR}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if m.typ == tar.TypeReg {
			h.Size = int64(len(m.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipOf is ms as a zip (directories, files and symlinks).
func zipOf(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		body := m.body
		switch m.typ {
		case tar.TypeDir:
			h.SetMode(0o755 | os.ModeDir)
		case tar.TypeSymlink:
			h.SetMode(0o777 | os.ModeSymlink)
			body = m.link
		default:
			h.SetMode(os.FileMode(max(m.mode, 0o644)))
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressAll is raw in every compressed tar format the installer reads:
// suffix → bytes. bzip2 comes from testdata (Go has no bzip2 writer): the
// same members as good(), written by tar and bzip2 -9.
func compressAll(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{".tar": raw}
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(raw)
	gw.Close()
	out[".tar.gz"] = gz.Bytes()
	zst, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	out[".tar.zst"] = zst.EncodeAll(raw, nil)
	var xb bytes.Buffer
	xw, err := xz.NewWriter(&xb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(raw)
	xw.Close()
	out[".tar.xz"] = xb.Bytes()
	bz, err := os.ReadFile("testdata/formats/good.tar.bz2")
	if err != nil {
		t.Fatal(err)
	}
	out[".tar.bz2"] = bz
	return out
}

// TestArchiveFormats: every format the contract names (bundle.ArchiveSuffixes,
// and a plain tar) extracts to the same entries, under its declared name and
// under a name that declares nothing (identified from its bytes); its
// unpacked size is read without writing; bytes that are not the format their
// name declares, and a truncated stream, are refused as archive errors.
func TestArchiveFormats(t *testing.T) {
	dir := t.TempDir()
	formats := compressAll(t, tarOf(t, good()))
	formats[".zip"] = zipOf(t, good())
	var want string
	for _, suffix := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".zip"} {
		data := formats[suffix]
		if suffix == ".tgz" {
			data = formats[".tar.gz"]
		}
		for _, name := range []string{"bundle" + suffix, "bundle-" + strings.TrimPrefix(suffix, ".") + ".bin"} {
			t.Run(name, func(t *testing.T) {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "out-"+name)
				if err := os.Mkdir(out, 0o755); err != nil {
					t.Fatal(err)
				}
				es, err := ExtractArchive(context.Background(), p, out, Limits{}, zerolog.Nop())
				if err != nil {
					t.Fatal(err)
				}
				var got strings.Builder
				for _, e := range es {
					got.WriteString(e.Path + " " + e.Type + " " + e.SHA256 + " " + e.Target + "\n")
				}
				if want == "" {
					want = got.String()
				} else if got.String() != want {
					t.Fatalf("entries differ from the plain tar's:\n%s\nwant\n%s", got.String(), want)
				}
				if len(es) != 8 {
					t.Fatalf("%d entries, want 8", len(es))
				}
				need, n, ok := unpackedSize(context.Background(), Source{Path: p})
				if !ok || n != 8 || need < 8*4096 {
					t.Fatalf("unpackedSize = %d, %d, %v; want 8 entries", need, n, ok)
				}
			})
		}
	}
	// A name that declares one format over another's bytes; a truncated stream.
	for _, c := range []struct{ name, bytesOf string }{
		{"zst-bytes.tar.gz", ".tar.zst"}, {"gz-bytes.tar.zst", ".tar.gz"}, {"tar-bytes.tar.xz", ".tar"},
		{"zip-bytes.tar.bz2", ".zip"}, {"gz-bytes.zip", ".tar.gz"}, {"text.bin", ""},
	} {
		t.Run("refused/"+c.name, func(t *testing.T) {
			data := []byte("not an archive, only text, long enough to fill a tar header's magic offset" + strings.Repeat(".", 300))
			if c.bytesOf != "" {
				data = formats[c.bytesOf]
			}
			p := filepath.Join(dir, c.name)
			os.WriteFile(p, data, 0o644)
			out := filepath.Join(dir, "out-"+c.name)
			os.Mkdir(out, 0o755)
			_, err := ExtractArchive(context.Background(), p, out, Limits{}, zerolog.Nop())
			if failure.ClassOf(err) != failure.Archive {
				t.Fatalf("want an archive error, got %v", err)
			}
		})
	}
	for _, suffix := range []string{".tar.gz", ".tar.zst", ".tar.xz", ".tar.bz2"} {
		t.Run("truncated"+suffix, func(t *testing.T) {
			// the payload is a few hundred bytes: cut in the middle of the stream
			data := formats[suffix]
			p := filepath.Join(dir, "cut"+suffix)
			os.WriteFile(p, data[:len(data)*2/3], 0o644)
			out := filepath.Join(dir, "out-cut"+suffix)
			os.Mkdir(out, 0o755)
			_, err := ExtractArchive(context.Background(), p, out, Limits{}, zerolog.Nop())
			if failure.ClassOf(err) != failure.Archive {
				t.Fatalf("want an archive error, got %v", err)
			}
		})
	}
}

// TestReadAhead: the bytes come through in order and whole; the source's
// error comes after its bytes, unchanged (a truncated stream stays
// io.ErrUnexpectedEOF); Close in the middle ends the goroutine.
func TestReadAhead(t *testing.T) {
	defer goleak.VerifyNone(t)
	src := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB: more than the blocks hold
	a := newReadAhead(iotest.HalfReader(bytes.NewReader(src)), 3, 4096)
	got, err := io.ReadAll(a)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("read %d bytes, %v; want %d bytes, nil", len(got), err, len(src))
	}
	a.Close()

	boom := errors.New("boom")
	a = newReadAhead(io.MultiReader(bytes.NewReader(src[:10000]), iotest.ErrReader(io.ErrUnexpectedEOF)), 2, 4096)
	got, err = io.ReadAll(a)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 10000 {
		t.Fatalf("truncated source: %d bytes, %v; want 10000, io.ErrUnexpectedEOF", len(got), err)
	}
	a.Close()
	a = newReadAhead(io.MultiReader(bytes.NewReader(src[:5]), iotest.ErrReader(boom)), 2, 4096)
	if got, err = io.ReadAll(a); !errors.Is(err, boom) || string(got) != "01234" {
		t.Fatalf("failing source: %q, %v", got, err)
	}
	a.Close()

	// stopped after one small read, with the goroutine blocked on full blocks
	a = newReadAhead(bytes.NewReader(src), 2, 4096)
	if _, err := a.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	a.Close()
}
