package install

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/decompress"
	"slurm-installer/internal/failure"
)

// zstdGCPercent is the GC percent while a zstd decoder's window is held.
const zstdGCPercent = 25

// tarFormat is a plain, uncompressed tar (no name declares it; only its
// "ustar" magic at offset 257 tells it).
const tarFormat bundle.Compression = "tar"

// archiveFormat is the format file is read as. A name ending in one of
// bundle.ArchiveSuffixes declares it: that name is the one the verified
// source gave the bytes (the index's compression, the layout's file name,
// the registry layer's media type), so the decompressor is chosen by it,
// and bytes that do not start with that format's magic number are refused
// (exit 6) rather than handed to another decompressor. Other names (a
// --from file without a known ending) are identified from their bytes.
func archiveFormat(file string, f *os.File) (bundle.Compression, error) {
	base := filepath.Base(file)
	head := make([]byte, 262)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", failure.Wrap(failure.FileSystem, err)
	}
	head = head[:n]
	sniffed := bundle.Sniff(head)
	if sniffed == "" && len(head) >= 262 && bytes.HasPrefix(head[257:], []byte("ustar")) {
		sniffed = tarFormat
	}
	if declared := bundle.CompressionOf(base); declared != "" {
		if sniffed != declared {
			return "", failure.New(failure.Archive, "%s is named as a %s archive but its bytes are not %s", base, declared, declared).
				Suggest(failure.Repack)
		}
		return declared, nil
	}
	if sniffed == "" {
		return "", failure.New(failure.Archive, "%s is not an archive this installer reads (tar.gz, tar.xz, tar.zst, tar.bz2, zip, tar)", base)
	}
	return sniffed, nil
}

// archiveMember is one archive member as the walk hands it over: its name, mode
// (the type bits say file, directory, symlink, device...), link targets,
// size as its header declares it, and its content (open, for regular
// files; valid only until the walk moves on).
type archiveMember struct {
	entry
	size int64
}

// walkArchive calls fn for each member of the archive in f, in archive
// order, reading it as format (see archiveFormat). A tar is decompressed
// in its own goroutine, a few blocks ahead of fn (see readAhead).
func walkArchive(ctx context.Context, f *os.File, format bundle.Compression, fn func(archiveMember) error) error {
	if format != bundle.Zstd {
		return walk(ctx, f, format, fn)
	}
	// A zstd decoder holds the frame's window (8 MiB for pack's bundles,
	// allocated once) through the whole extraction. With the default GOGC
	// the heap grows to twice that before a collection, and stays allowed
	// to after it (the goal stays where the window set it): a lower GC
	// percent while the window is held, and one collection once the
	// decoder is unreachable. Peak RSS of a real install 33 → 27 MiB, wall
	// time unchanged (docs/BENCHMARKS.md). A lower GOGC the user set stays.
	old := debug.SetGCPercent(zstdGCPercent)
	if old >= 0 && old < zstdGCPercent {
		debug.SetGCPercent(old)
	}
	err := walk(ctx, f, format, fn)
	debug.SetGCPercent(old)
	runtime.GC()
	return err
}

func walk(ctx context.Context, f *os.File, format bundle.Compression, fn func(archiveMember) error) error {
	if format == bundle.Zip {
		return walkZip(ctx, f, fn)
	}
	var r io.Reader = f
	if format != tarFormat {
		dec, err := decompress.Open(f, format)
		if err != nil {
			return err
		}
		defer dec.Close()
		ahead := newReadAhead(dec, readAheadBlocks, readAheadBlockSize)
		defer ahead.Close() // runs before dec.Close: the goroutine reading the decoder is gone then
		r = ahead
	}
	return walkTar(ctx, r, fn)
}

// walkTar hands fn each member of the tar stream r. Pax global headers are
// skipped; every other type is passed on with its mode, and the extractor
// refuses what it does not write.
func walkTar(ctx context.Context, r io.Reader, fn func(archiveMember) error) error {
	tr := tar.NewReader(r)
	open := func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) { // names are checked by CheckEntry
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		m := archiveMember{entry: entry{name: h.Name, mode: h.FileInfo().Mode()}, size: h.Size}
		switch h.Typeflag {
		case tar.TypeLink:
			m.hardlink, m.mode, m.size = h.Linkname, fs.FileMode(h.Mode).Perm(), 0
		case tar.TypeSymlink:
			m.linkDest = h.Linkname
		case tar.TypeReg, tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			// the mode already says so
		default:
			if m.mode.IsRegular() && h.Typeflag != 0 { // '\x00' is an old regular file
				return unsafeEntry(h.Name, "unsupported tar entry type %q", h.Typeflag)
			}
		}
		if m.mode.IsRegular() {
			m.open = open
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

// maxZipLink bounds the content of a zip archiveMember that is a symlink (its
// target).
const maxZipLink = 4096

// walkZip hands fn each member of the zip archive f, in central-directory
// order. A symlink's target is its content, read up to maxZipLink bytes.
func walkZip(ctx context.Context, f *os.File, fn func(archiveMember) error) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are checked by CheckEntry
		return err
	}
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := archiveMember{entry: entry{name: zf.Name, mode: zf.Mode()}, size: int64(zf.UncompressedSize64)}
		switch {
		case m.mode&fs.ModeSymlink != 0:
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			target, err := io.ReadAll(io.LimitReader(rc, maxZipLink+1))
			rc.Close()
			if err != nil {
				return err
			}
			if len(target) > maxZipLink {
				return unsafeEntry(zf.Name, "symlink target longer than %d bytes", maxZipLink)
			}
			m.linkDest, m.size = string(target), 0
		case m.mode.IsRegular():
			m.open = func() (io.ReadCloser, error) { return zf.Open() }
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// The read-ahead of a decompressor: 4 blocks of 256 KiB (1 MiB in all).
const (
	readAheadBlocks    = 4
	readAheadBlockSize = 256 << 10
)

// readAhead reads src in its own goroutine into a fixed set of blocks, so
// that decompression runs beside the file writes and hashing that consume
// it (on two cores, the slower of the two sets the pace instead of their
// sum). Memory is bounded by the blocks; Close stops the goroutine and
// waits for it.
type readAhead struct {
	full  chan []byte // blocks with data, in order; closed when the goroutine ends
	empty chan []byte // blocks to fill
	stop  chan struct{}
	err   error // why the goroutine ended (io.EOF at the end): written before full is closed
	cur   []byte
	block []byte // the block cur is in, returned to empty once read
}

func newReadAhead(src io.Reader, blocks, size int) *readAhead {
	a := &readAhead{full: make(chan []byte, blocks), empty: make(chan []byte, blocks), stop: make(chan struct{})}
	for range blocks {
		a.empty <- make([]byte, size)
	}
	go a.fill(src)
	return a
}

func (a *readAhead) fill(src io.Reader) {
	defer close(a.full)
	for {
		var b []byte
		select {
		case <-a.stop:
			return
		case b = <-a.empty:
		}
		// Fill the block; the source's own error (io.EOF at its end,
		// io.ErrUnexpectedEOF for a truncated stream) is passed on as is.
		n, err := 0, error(nil)
		b = b[:cap(b)]
		for n < len(b) && err == nil {
			var k int
			k, err = src.Read(b[n:])
			n += k
		}
		if n > 0 {
			a.full <- b[:n] // never blocks: there are only as many blocks as full holds
		}
		if err != nil {
			a.err = err
			return
		}
	}
}

func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.block != nil {
			a.empty <- a.block[:cap(a.block)] // never blocks, as above
			a.block = nil
		}
		b, ok := <-a.full
		if !ok {
			return 0, a.err
		}
		a.block, a.cur = b, b
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the goroutine and waits until it has ended.
func (a *readAhead) Close() error {
	close(a.stop)
	for range a.full {
	}
	return nil
}
