// Package fetch downloads a SLURM client bundle from an ordered list of
// AppHub mirrors and verifies it (design.md §4, §6).
//
// For each mirror, in order, it resolves the bundle for a version and an
// architecture: a direct artifact URL (with {version} and {arch}
// substituted), or a base URL tried as index.json, then the tarball layout,
// then the tree layout listed by nginx autoindex. http://, https:// and
// file:// mirrors work the same way.
//
// # Invariants
//
//   - Fetch never returns unverified bytes as verified: an [Artifact] is
//     only returned after its bytes were hashed while they were written to
//     disk and compared with the expected digest (--sha256, the index, a
//     .sha256 sidecar or SHA256SUMS, in that order). When no digest is
//     published, the artifact says so (ChecksumSource "none published") and
//     a warning is logged; a mismatch is never returned.
//   - Every network wait is bounded: Options.Timeout bounds each attempt
//     (connect, response headers, and any stall of the body), and
//     Options.Deadline bounds the whole Fetch, backoff included.
//   - A 404 (and any other 4xx answer but 408 and 429) is an answer, never
//     retried. A fast failure (refused connection, 5xx, 429) of one mirror
//     moves on to the next mirror at once; the failed mirror is retried
//     with backoff only after the others were tried.
//   - Downloads are streamed to files under Options.TempDir, never held in
//     memory, and capped by Options.MaxBytes and the index's size.
//   - Tree downloads are written through [os.Root], so a hostile listing
//     cannot write outside the download directory.
//
// Errors carry a [failure.Class]: Usage for a bad mirror list, Download
// when no mirror served the bundle in time, Integrity when a mirror served
// bytes that failed verification (and no mirror served good ones).
package fetch
