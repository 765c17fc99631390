// Package oci uses an OCI registry (the CNCF distribution server, Harbor,
// Quay, GitLab's, ...) as a mirror for SLURM client bundles: [Push] puts a
// bundle tarball there as an OCI artifact and [Fetch] finds and downloads
// one for a version selector and an architecture.
//
// # The artifact
//
// One image manifest (artifactType [ArtifactType]) with one layer, the
// bundle tarball as `pack` writes it (media type [LayerMediaType], or [ZstdLayerMediaType] for a .tar.zst), and a
// small JSON config ([ConfigMediaType], see [Config]) recording version,
// arch, glibc need and self_contained. It is tagged `<version>-<arch>`
// (canonical arch spelling: x86_64, aarch64) and, unless told otherwise,
// `latest-<arch>`, which moves on every push.
//
// # References
//
// A mirror is `oci://HOST[:PORT]/REPO[/...]`. It is HTTPS; a loopback host
// (localhost, 127.0.0.0/8, ::1) is plain HTTP, as Docker treats it.
// Credentials never come from the reference (user:pass@ is refused): they
// come from the auth file the caller names ([ClientOptions].AuthFile; the
// CLI passes $REGISTRY_AUTH_FILE), then Docker's own $DOCKER_CONFIG/config.json
// or ~/.docker/config.json (`auths` entries with `auth` or `identitytoken`;
// `credsStore`/`credHelpers` helpers are run as Docker would).
//
// # Invariants
//
//   - Credentials never reach a log line, an error or a [Result].
//   - The layer's descriptor size is checked against MaxBytes before a
//     byte is downloaded, and no more bytes than it announces are read.
//   - The layer is written to a temp file and its sha256 checked against
//     the layer digest (and a pinned digest, which must equal it) before
//     [Fetch] returns it; a failed check removes the file.
//   - Errors carry a [failure.Class]; a registry's "no such tag / repo"
//     answer is also [ErrNotFound] (move on to the next mirror), and a
//     cancelled context stays errors.Is(err, context.Canceled).
package oci
