package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
)

// maxChecksumFile caps a .sha256 sidecar or SHA256SUMS download.
const maxChecksumFile = bundle.MaxSidecar

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// expected is the digest an artifact must have, and where it came from.
type expected struct {
	digest string
	source string              // checksumPinned, "index <url>", "sidecar <url>", "SHA256SUMS <url>", "none published"
	how    bundle.Verification // how the bytes are verified
}

// published looks for a checksum published beside the artifact at u: the
// sidecar <u>.sha256, then SHA256SUMS in the same directory. A missing
// file is not an error; an unreadable or garbled one is.
func (s *mirrorGo) published(ctx context.Context, u *url.URL) (expected, *fetchError) {
	name := baseName(u)
	side := *u
	side.Path += ".sha256"
	side.RawPath = ""
	data, _, ferr := s.readSmall(ctx, &side, maxChecksumFile)
	switch {
	case ferr == nil:
		d, err := bundle.ParseSidecar(data, name)
		if err != nil {
			fe := s.integrity(&side, "checksum file is unusable: "+err.Error(),
				"the mirror's %s is not a checksum file: re-publish it with sha256sum", urlString(&side))
			fe.Suggest(failure.PinDigest)
			return expected{}, fe
		}
		return expected{string(d), "sidecar " + urlString(&side), VerifiedSidecar}, nil
	case errors.Is(ferr, errTooLarge):
		fe := s.integrity(&side, "checksum file is unusable: "+ferr.cause,
			"the mirror's %s is not a checksum file: re-publish it with sha256sum", urlString(&side))
		fe.Suggest(failure.PinDigest)
		return expected{}, fe
	case ferr.kind != kNotFound:
		return expected{}, ferr
	}
	sums := u.ResolveReference(&url.URL{Path: "SHA256SUMS"})
	data, _, ferr = s.readSmall(ctx, sums, bundle.MaxSums)
	switch {
	case ferr == nil:
		m, err := bundle.ParseSums(data)
		if err != nil {
			fe := s.integrity(sums, "SHA256SUMS is unusable: "+err.Error(),
				"re-publish %s with sha256sum", urlString(sums))
			fe.Suggest(failure.PinDigest)
			return expected{}, fe
		}
		if d, ok := m[name]; ok {
			return expected{string(d), "SHA256SUMS " + urlString(sums), VerifiedSHA256SUMS}, nil
		}
		s.log.Warn().Str("url", urlString(sums)).Str("file", name).Msg("SHA256SUMS has no line for this file")
	case errors.Is(ferr, errTooLarge):
		fe := s.integrity(sums, "SHA256SUMS is unusable: "+ferr.cause,
			"re-publish %s with sha256sum", urlString(sums))
		fe.Suggest(failure.PinDigest)
		return expected{}, fe
	case ferr.kind != kNotFound:
		return expected{}, ferr
	}
	return expected{source: "none published", how: VerifiedNone}, nil
}

func (s *session) integrity(u *url.URL, cause, hint string, args ...any) *fetchError {
	return &fetchError{kind: kIntegrity, url: urlString(u), cause: cause, Hints: failure.Hints{Hint: fmt.Sprintf(hint, args...)}}
}

// fetchFile downloads one archive (direct, tarball layout, or a bundle the
// index names) and verifies it. idx, when not nil, carries the index's
// digest, size and version.
func (s *mirrorGo) fetchFile(ctx context.Context, st step, idx *indexPick) (*Artifact, *fetchError) {
	u := st.url
	name := baseName(u)
	f, err := os.CreateTemp(s.tempDir, "slurm-fetch-*-"+sanitizeName(name))
	if err != nil {
		return nil, &fetchError{kind: kLocal, url: urlString(u), cause: err.Error(), err: err}
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var announced int64
	if idx != nil {
		announced = idx.bundle.Size
	}
	started := time.Now()
	digest, n, ferr := s.download(ctx, u, f, s.maxBytes, announced, true)
	if ferr != nil {
		return nil, ferr
	}
	done := time.Now()
	if err := f.Close(); err != nil {
		return nil, &fetchError{kind: kLocal, url: urlString(u), cause: err.Error(), err: err}
	}

	version := st.version
	var exp expected
	switch {
	case s.want != "":
		exp = expected{s.want, checksumPinned, VerifiedPinned}
	case idx != nil:
		how := VerifiedIndex
		if s.o.RequireSignedIndex {
			how = VerifiedSignedIndex
		}
		exp = expected{strings.ToLower(idx.bundle.SHA256), "index " + idx.indexURL, how}
	default:
		exp, ferr = s.published(ctx, u)
		if ferr != nil {
			return nil, ferr
		}
	}
	if exp.digest == "" {
		// Nothing vouches for these bytes: make sure they are at least an
		// archive before the mirror is taken at its word (a 200 with an
		// HTML error page must send the run to the next mirror).
		if ferr := s.sniff(tmp, u, name); ferr != nil {
			return nil, ferr
		}
		// The seed layout publishes checksums for versioned names only:
		// a "latest" download is verified against the checksum of the
		// version its VERSION file names, before anything is extracted.
		if version == "" && strings.Contains(name, "latest") {
			if v := archiveVersion(tmp, name); v != "" {
				vu := *u
				vu.Path = path.Join(path.Dir(u.Path), strings.Replace(name, "latest", v, 1))
				vu.RawPath = ""
				e2, ferr := s.published(ctx, &vu)
				if ferr != nil {
					return nil, ferr
				}
				if e2.digest != "" {
					s.log.Info().Str("url", urlString(u)).Str("version", v).Str("source", e2.source).
						Msg("no checksum for the latest name; verifying against the checksum of the version the bundle says it is")
					exp, version = e2, v
				}
			}
		}
	}
	if exp.digest == "" {
		if s.o.RequireChecksum {
			fe := s.integrity(u, "no checksum published, and a checksum is required",
				"nothing vouches for these bytes: publish %s.sha256 or SHA256SUMS on the mirror", urlString(u))
			fe.Suggest(failure.PinDigest).Suggest(failure.PinKey)
			return nil, fe
		}
		s.log.Warn().Str("url", urlString(u)).Str("sha256", digest).Str("verified", string(VerifiedNone)).
			Msgf("no checksum published for %s; download is unverified (no digest is pinned)", urlString(u))
	} else if exp.digest != digest {
		if exp.how == VerifiedPinned && st.layout == "tarball" && strings.HasSuffix(name, ".tar.zst") {
			// A digest pinned before the publisher added zstd names the
			// gzip bundle: this is another file, not a bad one.
			s.log.Info().Str("url", urlString(u)).Msg("the zstd bundle is not the pinned one; trying the gzip names")
			return nil, notFound(u, "the zstd bundle does not have the pinned digest")
		}
		cause := fmt.Sprintf("checksum mismatch: expected %s (%s), got %s", exp.digest, exp.source, digest)
		fe := s.integrity(u, cause, "the file on the mirror does not match its checksum: it is corrupt or was tampered with, or the checksum is stale; re-publish it")
		fe.Suggest(failure.PinDigest)
		s.log.Error().Str("url", urlString(u)).Str("expected", exp.digest).Str("actual", digest).Str("source", exp.source).Msg("checksum mismatch")
		return nil, fe
	} else {
		s.log.Info().Str("url", urlString(u)).Str("sha256", digest).Str("source", exp.source).Str("verified", string(exp.how)).Msg("checksum verified")
	}
	ok = true
	layout := st.layout
	if idx != nil {
		version, layout = idx.bundle.Version, "index"
	}
	if u.Scheme == "file" && layout == bundle.LayoutDirect {
		layout = bundle.LayoutFile
	}
	return &Artifact{
		Path: tmp, Name: name, URL: urlString(u), Layout: layout, SHA256: digest,
		ChecksumSource: exp.source, Verification: exp.how, Version: version, Size: n, Origin: urlString(u),
		DownloadStarted: started, DownloadDone: done,
		Cleanup: func() { os.Remove(tmp) },
	}, nil
}

// sanitizeName keeps a file name usable as a temp-file suffix (the
// extension identifies the format).
func sanitizeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c == '/' || c == 0 || c == '\\' || c == '*' {
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[len(b)-100:]
	}
	return string(bytes.TrimLeft(b, "."))
}
