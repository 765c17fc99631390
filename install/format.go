package install

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/mholt/archives"

	"slurm-installer/internal/failure"
)

// zstdMaxWindow bounds the memory a zstd frame may ask of the decoder:
// pack's bundles use 8 MiB windows, `zstd --long=27` 128 MiB.
const zstdMaxWindow = 128 << 20

// Magic numbers of the formats a name can declare.
var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// archiveFormat is the format file is read as. A name ending in .tar.gz,
// .tgz or .tar.zst declares it: that name is the one the verified source
// gave the bytes (the index's compression, the layout's file name, the
// registry layer's media type), so the decompressor is chosen by it, and
// bytes that do not start with that format's magic number are refused
// (exit 6) rather than handed to another decompressor. Other names (a
// --from .tar.xz or .zip) are identified from name and content.
func archiveFormat(ctx context.Context, file string, f *os.File) (archives.Extractor, io.Reader, error) {
	base := filepath.Base(file)
	lower := strings.ToLower(base)
	var comp archives.Compression
	var magic []byte
	switch {
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		// Inflate in its own goroutine, ahead of the file writes and
		// hashing: ~30% off a real bundle's extraction on 2 cores.
		comp, magic = archives.Gz{Multithreaded: true}, magicGzip
	case strings.HasSuffix(lower, ".tar.zst"):
		comp, magic = archives.Zstd{DecoderOptions: []zstd.DOption{zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderConcurrency(1)}}, magicZstd
	}
	if comp != nil {
		head := make([]byte, len(magic))
		if _, err := f.ReadAt(head, 0); err != nil || !bytes.Equal(head, magic) {
			return nil, nil, failure.New(failure.Archive, "%s is named as a %s archive but its bytes are not %s", base, comp.Extension()[1:], comp.Extension()[1:]).
				Suggest(failure.Repack)
		}
		return archives.CompressedArchive{Extraction: archives.Tar{}, Compression: comp}, f, nil
	}
	format, stream, err := archives.Identify(ctx, base, f)
	if err != nil {
		return nil, nil, failure.New(failure.Archive, "%s is not an archive this installer reads (tar.gz, tar.xz, tar.zst, tar.bz2, zip): %w", base, err)
	}
	ex, ok := format.(archives.Extractor)
	if !ok {
		return nil, nil, failure.New(failure.Archive, "%s is compressed (%s) but not an archive: expected a tar or zip inside", base, format.Extension())
	}
	return ex, stream, nil
}
