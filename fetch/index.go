package fetch

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/slurmver"
)

// maxIndexFile caps the index.json download.
const maxIndexFile = 4 << 20

// indexPick is the bundle chosen from an index, with where it came from.
type indexPick struct {
	bundle   index.Bundle
	indexURL string
}

// fetchIndex reads B/pkgs/slurm/index.json and downloads the bundle it
// names. No index, a broken one, or one without a matching bundle is "not
// here": the seed layouts on the same mirror come next.
func (s *mirrorGo) fetchIndex(ctx context.Context, st step) (*Artifact, *fetchError) {
	signed := s.o.RequireSignedIndex
	data, _, ferr := s.readSmall(ctx, st.url, maxIndexFile)
	if ferr != nil && ferr.kind == kFatal && ctx.Err() == nil {
		// Too large, a redirect loop, a broken answer: the index is
		// unusable, which (like garbage JSON) is not the mirror's end.
		if signed && s.want == "" {
			ferr.kind = kIntegrity
			ferr.cause = "unusable signed index: " + ferr.cause
			ferr.Hint = "the mirror's pkgs/slurm/index.json cannot be read: use another mirror"
			ferr.Suggest(failure.SignIndex)
			return nil, ferr
		}
		s.log.Warn().Str("url", urlString(st.url)).Str("cause", ferr.cause).Msg("ignoring unusable index; trying the seed layouts")
		return nil, &fetchError{kind: kNotFound, url: ferr.url, cause: "unusable index: " + ferr.cause, err: ferr}
	}
	if ferr != nil {
		if ferr.kind == kNotFound {
			ferr.cause = "no index (" + ferr.cause + ")"
			if signed && s.want == "" {
				ferr.kind = kIntegrity
				ferr.Hint = "a key is pinned, so the bundle must come from a signed pkgs/slurm/index.json"
				ferr.Suggest(failure.SignIndex).Suggest(failure.PinDigest)
			}
		}
		return nil, ferr
	}
	if signed {
		if ferr := s.verifyIndex(ctx, st.url, data); ferr != nil {
			return nil, ferr
		}
	}
	idx, err := index.Parse(data)
	if err != nil {
		if signed {
			return nil, s.integrity(st.url, "unusable signed index: "+err.Error(),
				"the signed index on the mirror cannot be read by this version: upgrade slurm-installer or re-publish the index")
		}
		s.log.Warn().Str("url", urlString(st.url)).Err(err).Msg("ignoring unusable index; trying the seed layouts")
		return nil, notFound(st.url, "unusable index: "+err.Error())
	}
	// The caller's AcceptIndex owns the trust rules (expiry included) when
	// it is given; this is the default for callers without a policy.
	if !idx.Expires.IsZero() && time.Now().After(idx.Expires) && (!signed || s.o.AcceptIndex == nil) {
		if signed {
			fe := s.integrity(st.url, fmt.Sprintf("signed index expired at %s", idx.Expires.Format(time.RFC3339)),
				"the mirror's index is out of date: re-sign it")
			fe.Suggest(failure.SignIndex)
			return nil, fe
		}
		s.log.Warn().Str("url", urlString(st.url)).Time("expires", idx.Expires).Msg("index has expired; using it anyway (no key is pinned)")
	}
	if s.o.AcceptIndex != nil {
		if err := s.o.AcceptIndex(idx); err != nil {
			s.log.Warn().Str("url", urlString(st.url)).Int64("serial", idx.Serial).Err(err).Msg("index refused; trying the next mirror")
			fe := s.integrity(st.url, "index refused: "+Redact(err.Error()),
				"the mirror serves an index this run does not accept (stale or rolled back): use an up-to-date mirror")
			fe.err = err
			return nil, fe
		}
	}
	b, skipped, doubt := selectBundle(idx, s.version, s.arch, &s.o)
	b = s.pinnedFormat(idx, b)
	for _, sk := range skipped {
		s.log.Info().Str("index", urlString(st.url)).Str("version", sk.Version).Msg("skipping " + sk.Version + ": " + sk.Reason)
	}
	if b == nil && len(skipped) > 0 {
		// The index describes what this mirror holds: its other layouts
		// serve the same bundles, so the next mirror is asked.
		fe := s.unrunnable(st.url, skipped)
		s.log.Warn().Str("index", urlString(st.url)).Str("version", s.version).Str("arch", s.arch).
			Msg("no bundle in this index can run in this root; trying the next mirror")
		return nil, fe
	}
	if b == nil {
		s.log.Info().Str("url", urlString(st.url)).Str("version", s.version).Str("arch", s.arch).
			Msg("index has no bundle for this version and arch; trying the seed layouts")
		return nil, notFound(st.url, fmt.Sprintf("index has no bundle for %s/%s", s.version, s.arch))
	}
	if doubt {
		_, why := s.o.judge(b)
		s.log.Warn().Str("index", urlString(st.url)).Str("version", b.Version).
			Msgf("no bundle in the index is sure to run in this root; trying %s anyway: %s", b.Version, why)
	} else if slurmver.KindOf(s.version) != slurmver.Exact {
		s.log.Info().Str("index", urlString(st.url)).Str("version", b.Version).
			Msgf("the newest bundle of %s for %s that can run in this root is %s", s.selection(), s.arch, b.Version)
	}
	ref, err := url.Parse(b.URL)
	if err != nil {
		return nil, notFound(st.url, "bad bundle url") // index.Parse checked it
	}
	bu := st.url.ResolveReference(ref)
	if bu.Scheme != st.url.Scheme && !(bu.Scheme == "https" || bu.Scheme == "http") {
		return nil, notFound(st.url, "bad bundle url")
	}
	s.log.Info().Str("index", urlString(st.url)).Str("url", urlString(bu)).Str("version", b.Version).Int64("size", b.Size).Msg("index names a bundle")
	if signed && s.want != "" && !strings.EqualFold(s.want, b.SHA256) {
		fe := s.integrity(st.url, fmt.Sprintf("the pinned digest %s differs from the signed index's %s", s.want, strings.ToLower(b.SHA256)),
			"the pinned digest and the signed index disagree: fix the one that is wrong")
		fe.Suggest(failure.DropPin)
		return nil, fe
	}
	art, ferr := s.fetchFile(ctx, step{kind: stepFile, url: bu, layout: "index", version: b.Version},
		&indexPick{bundle: *b, indexURL: urlString(st.url)})
	if ferr != nil {
		if ferr.kind == kNotFound {
			ferr.cause = "the index names it but " + ferr.cause
		}
		return nil, ferr
	}
	art.IndexSerial, art.IndexExpires, art.IndexSigned = idx.Serial, idx.Expires, signed
	return art, nil
}

// verifyIndex downloads index.json.minisig beside the index at u and
// passes both to Options.IndexVerifier. Any failure is an integrity
// failure of the mirror.
func (s *mirrorGo) verifyIndex(ctx context.Context, u *url.URL, data []byte) *fetchError {
	su := *u
	su.Path += ".minisig"
	su.RawPath = ""
	sig, _, ferr := s.readSmall(ctx, &su, 64<<10)
	if ferr != nil {
		if ferr.kind == kNotFound {
			fe := s.integrity(&su, "index signature missing ("+ferr.cause+")",
				"a key is pinned, so the index must be signed: publish %s beside it", urlString(&su))
			fe.Suggest(failure.SignIndex)
			return fe
		}
		return ferr
	}
	if err := s.o.IndexVerifier(data, sig); err != nil {
		s.log.Error().Str("url", urlString(u)).Err(err).Msg("index signature rejected")
		fe := s.integrity(u, "index signature rejected: "+err.Error(),
			"the index was not signed by the pinned key (tampered, or signed with another key): re-sign the index")
		fe.Suggest(failure.CheckPubKey)
		return fe
	}
	s.log.Info().Str("url", urlString(u)).Msg("index signature verified")
	return nil
}

// pinnedFormat is b, or the same version and arch in the other format when
// that one carries the pinned digest and b does not: a digest pinned
// before the publisher added zstd names the gzip bundle, and still gets it.
func (s *session) pinnedFormat(idx *index.Index, b *index.Bundle) *index.Bundle {
	if b == nil || s.want == "" || strings.EqualFold(b.SHA256, s.want) {
		return b
	}
	na, _ := platform.Normalize(b.Arch)
	for i, x := range idx.Bundles {
		if xa, _ := platform.Normalize(x.Arch); xa == na && x.Version == b.Version && strings.EqualFold(x.SHA256, s.want) {
			return &idx.Bundles[i]
		}
	}
	return b
}
