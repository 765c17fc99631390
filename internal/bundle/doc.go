// Package bundle is the bundle contract every layer shares: the typed values
// one package writes and another reads back (a receipt, an index, the JSON
// output), and the one parser of each format they exchange.
//
//   - [Verification]: how a bundle's bytes were verified before they were
//     unpacked ("pinned", "signed-index", "index", "sidecar", "sha256sums",
//     "layer-digest", "none").
//   - [Libc]: the C library a root or a bundle is built for.
//   - [Layout]: where a bundle came from (an AppHub index, the tarball or
//     tree layout, a direct URL, a file, a registry, the cache).
//   - [Compression]: how an archive is compressed, by name and by magic.
//   - [Digest]: a SHA-256 digest, parsed once ([ParseDigest]).
//   - The checksum files: a "<artifact>.sha256" sidecar ([ParseSidecar],
//     [FormatSidecar]) and a SHA256SUMS file ([ParseSums], [FormatSums]).
//
// Invariants: every value a package writes is one [Verification.Valid],
// [Libc.Valid], [Layout.Valid] accepts, and the strings are the ones
// receipts and indexes written by earlier releases hold, so old files stay
// readable. A [Digest] is always 64 lower-case hex digits. Parsers bound
// what they read. The package imports nothing of the project.
package bundle
