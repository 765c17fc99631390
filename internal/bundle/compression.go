package bundle

import (
	"bytes"
	"strings"
)

// Compression is how a bundle archive is packed: the format its name
// says or its first bytes show.
type Compression string

// The formats a bundle comes in.
const (
	Gzip  Compression = "gzip"  // .tar.gz, .tgz
	Xz    Compression = "xz"    // .tar.xz
	Zstd  Compression = "zstd"  // .tar.zst
	Bzip2 Compression = "bzip2" // .tar.bz2
	Zip   Compression = "zip"   // .zip
)

// suffixes maps the archive name endings to their format, in the order
// ArchiveSuffixes lists them.
var suffixes = []struct {
	suffix string
	c      Compression
}{
	{".tar.gz", Gzip}, {".tgz", Gzip}, {".tar.xz", Xz}, {".tar.zst", Zstd}, {".tar.bz2", Bzip2}, {".zip", Zip},
}

// ArchiveSuffixes are the file name endings of a bundle archive.
func ArchiveSuffixes() []string {
	s := make([]string, len(suffixes))
	for i, x := range suffixes {
		s[i] = x.suffix
	}
	return s
}

// CompressionOf tells the format from a file name (case-insensitive); ""
// when the name ends in none of [ArchiveSuffixes].
func CompressionOf(name string) Compression {
	name = strings.ToLower(name)
	for _, x := range suffixes {
		if strings.HasSuffix(name, x.suffix) {
			return x.c
		}
	}
	return ""
}

// magics are the formats' first bytes.
var magics = []struct {
	magic []byte
	c     Compression
}{
	{[]byte{0x1f, 0x8b}, Gzip},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, Xz},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd},
	{[]byte("BZh"), Bzip2},
	{[]byte("PK\x03\x04"), Zip},
	{[]byte("PK\x05\x06"), Zip}, // an empty zip
}

// Sniff tells the format from an archive's first bytes; "" when they are
// none of the known magic numbers.
func Sniff(head []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	return ""
}
