package install

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/rs/zerolog"
)

// BenchmarkExtractRealBundle extracts the real SLURM bundle built by
// scripts/build-bundle.sh (skipped when it has not been built).
func BenchmarkExtractRealBundle(b *testing.B) {
	src, _ := filepath.Abs("../build/e2e/bundle/apphub/pkgs/slurm-apk/slurm-client-22.05.8-x86_64-alpine.tar.gz")
	fi, err := os.Stat(src)
	if err != nil {
		b.Skip("no real bundle: run scripts/build-bundle.sh first")
	}
	b.SetBytes(fi.Size())
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if _, err := ExtractArchive(context.Background(), src, dir, Limits{}, zerolog.Nop()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtract extracts the real bundle (scripts/build-bundle.sh) as
// gzip and as zstd (the same tar recompressed): the extract phase of an
// install, decompression, file writes and hashing together. The
// decompress sub-benchmarks read the stream alone, to show what of it is
// the format's.
func BenchmarkExtract(b *testing.B) {
	src, _ := filepath.Abs("../build/e2e/bundle/apphub/pkgs/slurm-apk/slurm-client-22.05.8-x86_64-alpine.tar.gz")
	gz, err := os.ReadFile(src)
	if err != nil {
		b.Skip("no real bundle: run scripts/build-bundle.sh first")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(8<<20))
	zst := enc.EncodeAll(raw, nil)
	dir := b.TempDir()
	files := map[string][]byte{"gzip": gz, "zstd": zst}
	for _, name := range []string{"gzip", "zstd"} {
		p := filepath.Join(dir, "bundle.tar."+map[string]string{"gzip": "gz", "zstd": "zst"}[name])
		if err := os.WriteFile(p, files[name], 0o600); err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				out := b.TempDir()
				if _, err := ExtractArchive(context.Background(), p, out, Limits{}, zerolog.Nop()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/decompress", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				var r io.Reader
				if name == "gzip" {
					g, err := gzip.NewReader(bytes.NewReader(files[name]))
					if err != nil {
						b.Fatal(err)
					}
					r = g
				} else {
					d, err := zstd.NewReader(bytes.NewReader(files[name]))
					if err != nil {
						b.Fatal(err)
					}
					defer d.Close()
					r = d
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
