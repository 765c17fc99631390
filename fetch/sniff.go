package fetch

import (
	"archive/tar"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/decompress"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/slurmver"
)

// sniff checks that the file at p plausibly is an archive of the type its
// name says (any known type when the name says none): the magic number,
// and for a compressed tar (gzip, zstd, xz, bzip2; read with
// decompress.Open, as extraction reads it) a tar header in the first block. A 200 that
// carries an HTML error page, or anything else that will not open, is a
// fault of the mirror that served it (kBadArchive): the run moves on to
// the next mirror as it does after a checksum mismatch.
func (s *session) sniff(p string, u *url.URL, name string) *fetchError {
	f, err := os.Open(p)
	if err != nil {
		return &fetchError{kind: kLocal, url: urlString(u), cause: err.Error(), err: err}
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &fetchError{kind: kLocal, url: urlString(u), cause: err.Error(), err: err}
	}
	want, got := bundle.CompressionOf(name), bundle.Sniff(head)
	bad := func(cause string) *fetchError {
		s.log.Warn().Str("url", urlString(u)).Str("cause", cause).Msg("the mirror served something that is not the bundle")
		return &fetchError{kind: kBadArchive, url: urlString(u), cause: cause,
			Hints: failure.Hints{Hint: "a mirror answered 200 with something that is not an archive (an error page from a proxy or a misconfigured nginx): fix the mirror, or list a good one"}}
	}
	switch {
	case got == "":
		return bad(fmt.Sprintf("not an archive (%s)", describe(head)))
	case want != "" && got != want:
		return bad(fmt.Sprintf("named like a %s archive but the bytes are %s", want, got))
	}
	if got == bundle.Zip {
		return nil // not a stream: its central directory is read when it is extracted
	}
	zr, err := decompress.Open(f, got)
	if err != nil {
		return bad(fmt.Sprintf("corrupt %s header: %v", got, err))
	}
	defer zr.Close()
	block := make([]byte, 512)
	if _, err := io.ReadFull(zr, block); err != nil {
		return bad("compressed stream does not open: " + err.Error())
	}
	if !isTarHeader(block) {
		return bad("compressed, but not a tar archive")
	}
	return nil
}

// isTarHeader checks a tar header block's checksum (every tar flavour has one).
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	var sum int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	field := strings.Trim(string(b[148:156]), " \x00")
	var want int64
	if _, err := fmt.Sscanf(field, "%o", &want); err != nil {
		return false
	}
	return sum == want
}

// describe names what the first bytes look like, for the log.
func describe(head []byte) string {
	t := strings.ToLower(strings.TrimSpace(string(head[:min(len(head), 64)])))
	switch {
	case len(head) == 0:
		return "empty"
	case strings.HasPrefix(t, "<!doctype html") || strings.HasPrefix(t, "<html") || strings.Contains(t, "<head"):
		return "an HTML page"
	case strings.HasPrefix(t, "{") || strings.HasPrefix(t, "["):
		return "JSON"
	}
	return fmt.Sprintf("starts with %q", truncate(string(head[:min(len(head), 16)]), 16))
}

// archiveVersion reads the bundle's VERSION (usr/local/slurm/VERSION, or a
// VERSION at the top) from a compressed tar at p (decompress.Open), reading at most
// 256 MiB of the stream and 50000 entries; "" when it finds none.
func archiveVersion(p, name string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	c := bundle.CompressionOf(name)
	if c == "" || c == bundle.Zip {
		return ""
	}
	zr, err := decompress.Open(f, c)
	if err != nil {
		return ""
	}
	defer zr.Close()
	tr := tar.NewReader(io.LimitReader(zr, 256<<20))
	for range 50000 {
		h, err := tr.Next()
		if err != nil {
			return ""
		}
		n := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if h.Typeflag != tar.TypeReg || (n != "usr/local/slurm/VERSION" && n != "VERSION") {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(tr, 4096))
		if v := slurmver.FromFile(b); validVersion(v) && v != "latest" {
			return v
		}
		return ""
	}
	return ""
}
