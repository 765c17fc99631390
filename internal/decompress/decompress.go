// Package decompress is the one reader of a bundle's compressed tar stream:
// extraction, the space check and the fetcher's probes all open a bundle
// through [Open], so every format has one decoder with one set of bounds.
// (internal/bundle, the contract, stays standard-library only.)
package decompress

import (
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"slurm-installer/internal/bundle"
)

// MaxZstdWindow bounds the memory a zstd frame may ask of the decoder:
// pack's bundles use 8 MiB windows, `zstd --long=27` 128 MiB.
const MaxZstdWindow = 128 << 20

// Open is the one reader of a bundle's compressed tar stream in
// format c (gzip, zstd, xz or bzip2): extraction, the space check and the
// fetcher's probes read a bundle the same way, with the same bounds. The
// zstd decoder decodes in the caller's goroutine with its smallest history
// (the window plus 1 MiB, not twice the window), and refuses a window over
// MaxZstdWindow. Close releases the decoder; an error is a header that
// does not open. A zip is not a stream, and a plain tar needs no reader:
// both are an error here.
func Open(r io.Reader, c bundle.Compression) (io.ReadCloser, error) {
	switch c {
	case bundle.Gzip:
		return gzip.NewReader(r)
	case bundle.Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(MaxZstdWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case bundle.Xz:
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(x), nil
	case bundle.Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	}
	return nil, fmt.Errorf("%q is not a compressed stream format", c)
}
