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
//   - Every network wait is bounded: Options.Connect bounds a connect and
//     TLS handshake, Options.Timeout the wait for response headers,
//     Options.Stall a body that brings no bytes (it is then resumed with
//     Range/If-Range from the same mirror), and Options.Deadline the whole
//     Fetch, backoff included.
//   - Racing: mirrors start in order; the next starts when the newest has
//     not answered within Options.RaceDelay, and at once when a go fails
//     (refused, 404, 5xx, 429). The first 200 for the bundle wins and every
//     other go is cancelled; Fetch returns only after all its goroutines.
//   - A 404 (and any other 4xx answer but 408 and 429) is an answer, never
//     retried. Retries back off exponentially with jitter and honour
//     Retry-After, within the deadline.
//   - With Options.RequireSignedIndex the bundle comes only from an index
//     that Options.IndexVerifier accepted, unless Options.SHA256 pins it.
//   - Downloads are streamed to files under Options.TempDir, never held in
//     memory, and capped by Options.MaxBytes and the index's size.
//   - Tree downloads are written through [os.Root], so a hostile listing
//     cannot write outside the download directory.
//
// Errors carry a [failure.Class]: Usage for a bad mirror list, Download
// when no mirror served the bundle in time, Integrity when a mirror served
// bytes that failed verification (and no mirror served good ones).
package fetch
