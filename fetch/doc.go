// Package fetch downloads a SLURM client bundle from an ordered list of
// AppHub mirrors and verifies it (docs/DESIGN.md §4, §6).
//
// For each mirror, in order, it resolves the bundle for a version and an
// architecture: a direct artifact URL (with {version} and {arch}
// substituted), or a base URL tried as index.json, then the tarball layout,
// then the tree layout listed by nginx autoindex. http://, https:// and
// file:// mirrors work the same way.
//
// Selection (select.go, docs/DESIGN.md §9): Options.Version is exact, a series
// ("22.05") or latest. Of the matching bundles an index lists, the newest
// that can run in the root (Options.RootGlibc, Libc, Prefix, Accept) is
// taken and every newer one is logged with the reason; an index whose
// matching bundles all cannot run ends that mirror with a reason per
// bundle (class Verify when no mirror serves one). A series in the
// tarball layout is resolved from an autoindex listing of pkgs/slurm-apk/;
// where the layout cannot list, the cause says so.
//
// # Invariants
//
//   - Fetch never returns unverified bytes as verified: an [Artifact] is
//     only returned after its bytes were hashed while they were written to
//     disk and compared with the expected digest (the pinned one, the index, a
//     .sha256 sidecar or SHA256SUMS, in that order; a "latest" name with
//     none is checked against the checksum of the version its VERSION file
//     names). Artifact.Verification says how: pinned, signed-index, index,
//     sidecar, sha256sums or none. When no digest is published the bytes
//     must at least be an archive of the named type, the artifact says
//     "none" and a warning is logged, or, with Options.RequireChecksum,
//     that mirror fails with an integrity error. A mismatch is never
//     returned.
//   - Every network wait is bounded: Options.Connect bounds a connect and
//     TLS handshake, Options.Timeout the wait for response headers,
//     Options.Stall a body that brings no bytes (it is then resumed with
//     Range/If-Range from the same mirror), and Options.Deadline the whole
//     Fetch, backoff included. The racer does not wait for these bounds to
//     start the next mirror (see Racing and Hedging).
//   - Sources behind one racer (source.go): each layout, and a registry,
//     is a source; a mirror's whole job (index, listings, checksums,
//     manifests, tag lists, the bundle) is one go the racer starts, hedges
//     and cancels. Every wait for headers and every body byte a go reads
//     is reported to the racer's meter, so every byte read from a mirror
//     is judged, not only the bundle's. The rules are a pure function of a
//     snapshot of the race (decide.go); race is the loop that applies them.
//   - Racing: mirrors start in order; the next starts at once when a go
//     fails (refused, 404, 5xx, 429), and also when the newest go has
//     brought nothing (no headers, no body bytes) for Options.RaceDelay or
//     has not claimed the download within the hedging grace (2 s,
//     Options.HedgeGrace: its discovery is outstanding longer than a
//     healthy mirror takes). The first 200 for the bundle claims the
//     download and every other go is cancelled; Fetch returns only after
//     all its goroutines.
//   - Hedging a slow download: once the go that claimed the download has
//     been downloading for the grace, it is judged every 250 ms. When the
//     size is known (Content-Length, the index's size, a layer's
//     descriptor) and the estimated time to finish is more than twice the
//     time spent so far and more than 3 s, or, with no size known, when it
//     brings less than 64 KiB/s, or when it has brought nothing at all for
//     the grace, or when what follows the bundle (its checksum) has taken
//     more than the grace and twice what the bundle took, the next mirror
//     in order starts as well. A hedge is the hedger before its go runs,
//     so at most one such extra go runs at a time; it may download in
//     parallel, the first of the two to finish wins and the other is
//     cancelled; if the slow one fails, the extra one carries on alone. A
//     healthy download (ETA under twice its elapsed time, or under 3 s) is
//     never hedged, so the extra load is bounded by one more download per
//     run, and only for slow ones.
//   - Downloads resume: a body that breaks after bringing bytes is resumed
//     from the same mirror (httpx.Download, the one resumable downloader
//     of fetch and oci).
//   - A 404 (and any other 4xx answer but 408 and 429) is an answer, never
//     retried. Retry waits are go-retryablehttp's
//     (RateLimitLinearJitterBackoff: Retry-After in seconds or as an HTTP
//     date on 429 and 503, else linear backoff with jitter), capped by
//     Options.MaxBackoff (Retry-After by 5 minutes) and always by what is
//     left of the deadline: a wait that would pass it gives the mirror up.
//   - Per-mirror faults stay per-mirror: a 200 whose unverified bytes are
//     not an archive of the named type (an HTML error page), a checksum
//     mismatch, an unusable index (too large, redirect loop, garbage) move
//     the run on; the final error lists every mirror's cause, redacted.
//   - Errors wrap their causes: errors.Is(err, context.DeadlineExceeded)
//     holds when the deadline cut a go short, and a run whose caller's
//     context was cancelled (SIGINT, SIGTERM) returns an error wrapping
//     context.Canceled with no class of its own, never a download failure.
//   - Credentials in mirror URLs never leave fetch: every name, URL, cause
//     and hint passes through [Redact].
//   - With Options.RequireSignedIndex the bundle comes only from an index
//     that Options.IndexVerifier accepted, unless Options.SHA256 pins it.
//   - Downloads are streamed to files under Options.TempDir, never held in
//     memory, and capped by Options.MaxBytes and the index's size.
//   - Tree downloads are written through [os.Root], so a hostile listing
//     cannot write outside the download directory; the walk is bounded
//     as it goes (depth, entries, listings, listing bytes) and all files
//     share one byte budget (MaxBytes) spent as bytes arrive.
//   - file:// mirrors are read through an [os.Root] on the mirror's
//     directory (no symlink or ".." leads out of it), regular files only,
//     opened without blocking (a FIFO cannot hang the run).
//
// Errors carry a [failure.Class]: Usage for a bad mirror list, Download
// when no mirror served the bundle in time, Integrity when a mirror served
// bytes that failed verification (and no mirror served good ones).
package fetch
