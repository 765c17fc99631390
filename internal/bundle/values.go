package bundle

import (
	"path"
	"slices"
	"strings"
)

// Verification is how a bundle's bytes were verified before they were
// unpacked: the receipt's "verification", status and verify show it.
type Verification string

// The verifications, strongest first. The strings are on disk (receipts):
// never change one.
const (
	Pinned      Verification = "pinned"       // the digest the operator pinned
	SignedIndex Verification = "signed-index" // the digest of an index whose signature the pinned key verified
	Index       Verification = "index"        // the digest of an unsigned index
	Sidecar     Verification = "sidecar"      // <artifact>.sha256 beside it (for latest: the versioned name's)
	SHA256SUMS  Verification = "sha256sums"   // SHA256SUMS beside it (tree: in its directory)
	LayerDigest Verification = "layer-digest" // a registry's layer digest (its manifest names the bytes by sha256)
	None        Verification = "none"         // nothing vouches for the bytes
)

// Verifications lists every [Verification], strongest first.
func Verifications() []Verification {
	return []Verification{Pinned, SignedIndex, Index, Sidecar, SHA256SUMS, LayerDigest, None}
}

// Valid reports whether v is one of [Verifications].
func (v Verification) Valid() bool { return slices.Contains(Verifications(), v) }

// Libc is the C library a root's programs, or a bundle's, are linked against.
type Libc string

// The C libraries. The strings are on disk (receipts).
const (
	Glibc       Libc = "glibc"
	Musl        Libc = "musl"
	UnknownLibc Libc = "unknown" // nothing in the root tells
)

// Libcs lists every [Libc].
func Libcs() []Libc { return []Libc{Glibc, Musl, UnknownLibc} }

// Valid reports whether l is one of [Libcs].
func (l Libc) Valid() bool { return slices.Contains(Libcs(), l) }

// Layout is where a bundle came from: the receipt's "layout".
type Layout string

// The layouts. The strings are on disk (receipts).
const (
	LayoutDirect  Layout = "direct"  // a mirror entry that names the archive itself
	LayoutIndex   Layout = "index"   // named by an AppHub index.json
	LayoutTarball Layout = "tarball" // pkgs/slurm-apk/slurm-client-<v>-<arch>-alpine.tar.gz
	LayoutTree    Layout = "tree"    // pkgs/slurm-binaries/<arch>/, file by file
	LayoutFile    Layout = "file"    // a local file: file:// or the operator's own archive
	LayoutOCI     Layout = "oci"     // a registry's layer
	LayoutCache   Layout = "cache"   // the download cache, re-hashed
)

// Layouts lists every [Layout].
func Layouts() []Layout {
	return []Layout{LayoutDirect, LayoutIndex, LayoutTarball, LayoutTree, LayoutFile, LayoutOCI, LayoutCache}
}

// Valid reports whether l is one of [Layouts].
func (l Layout) Valid() bool { return slices.Contains(Layouts(), l) }

// LibcOfLoader names the C library whose dynamic loader interp is (an ELF
// PT_INTERP): ld-musl-<arch>.so.1 is musl's, ld-linux*.so.* glibc's, on
// every arch; "" when it is neither.
func LibcOfLoader(interp string) Libc {
	switch b := path.Base(interp); {
	case strings.HasPrefix(b, "ld-musl-"):
		return Musl
	case strings.HasPrefix(b, "ld-linux"):
		return Glibc
	}
	return ""
}
