package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"slurm-installer/internal/platform"
	"slurm-installer/internal/slurmver"
)

// IndexSchema is the only index.json schema this version understands.
const IndexSchema = 1

// maxIndexFile caps the index.json download.
const maxIndexFile = 4 << 20

// Index is pkgs/slurm/index.json, written by `slurm-installer pack` and
// read by Fetch: the contract between the two.
//
//	{"schema":1,"created":"2026-11-23T07:00:00Z","expires":"2027-05-22T07:00:00Z","serial":1,
//	 "latest":{"x86_64":"22.05.8"},
//	 "bundles":[{"version":"22.05.8","arch":"x86_64",
//	   "url":"../slurm-apk/slurm-client-22.05.8-x86_64-alpine.tar.gz",
//	   "sha256":"<hex>","size":5800000,"self_contained":false}]}
type Index struct {
	Schema  int               `json:"schema"`
	Created time.Time         `json:"created"`
	Expires time.Time         `json:"expires,omitzero"`
	Serial  int64             `json:"serial"`
	Latest  map[string]string `json:"latest,omitempty"` // arch → version
	Bundles []Bundle          `json:"bundles"`
}

// Bundle is one downloadable bundle in the index.
type Bundle struct {
	Version       string `json:"version"`
	Arch          string `json:"arch"`
	URL           string `json:"url"`    // relative to index.json's URL, or absolute http(s)
	SHA256        string `json:"sha256"` // hex digest of the file at URL
	Size          int64  `json:"size"`   // its size in bytes; caps the download
	SelfContained bool   `json:"self_contained"`
	Prefix        string `json:"prefix,omitempty"` // the --prefix a self-contained bundle was packed for
	// Glibc is the highest GLIBC_x.y symbol version the payload's ELFs need
	// ("2.38"; "" for musl or static builds): the root's glibc must be at
	// least this, unless SelfContained (the bundle carries a glibc that is).
	Glibc  string `json:"glibc,omitempty"`
	Series string `json:"series,omitempty"` // the SLURM major release, "22.05"
}

// ParseIndex parses and checks an index.json: the schema must be
// IndexSchema, and every bundle needs a version, a known arch, a relative
// or http(s) URL, a 64-hex sha256 and a positive size.
func ParseIndex(data []byte) (*Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index is not valid JSON: %w", err)
	}
	if idx.Schema != IndexSchema {
		return nil, fmt.Errorf("index schema %d is not supported (want %d); upgrade slurm-installer", idx.Schema, IndexSchema)
	}
	for arch, v := range idx.Latest {
		if _, err := platform.Normalize(arch); err != nil {
			return nil, fmt.Errorf("index latest: %w", err)
		}
		if !validVersion(v) {
			return nil, fmt.Errorf("index latest[%s]: bad version %q", arch, v)
		}
	}
	for i, b := range idx.Bundles {
		if err := checkBundle(b); err != nil {
			return nil, fmt.Errorf("index bundle %d: %w", i, err)
		}
	}
	return &idx, nil
}

func checkBundle(b Bundle) error {
	if !validVersion(b.Version) || b.Version == "latest" {
		return fmt.Errorf("bad version %q", b.Version)
	}
	if _, err := platform.Normalize(b.Arch); err != nil {
		return err
	}
	if !isHex64(b.SHA256) {
		return fmt.Errorf("sha256 %q is not 64 hex digits", b.SHA256)
	}
	if b.Size <= 0 {
		return fmt.Errorf("size %d is not positive", b.Size)
	}
	if b.Prefix != "" && (!strings.HasPrefix(b.Prefix, "/") || path.Clean(b.Prefix) != b.Prefix || b.Prefix == "/") {
		return fmt.Errorf("prefix %q must be a clean absolute path", b.Prefix)
	}
	if b.Glibc != "" && !dottedNumber(b.Glibc) {
		return fmt.Errorf("glibc %q is not a version like 2.38", b.Glibc)
	}
	if b.Series != "" && (!dottedNumber(b.Series) || !strings.HasPrefix(b.Version, b.Series+".")) {
		return fmt.Errorf("series %q is not the major release of version %q", b.Series, b.Version)
	}
	if b.URL == "" || strings.ContainsAny(b.URL, "\x00\\") {
		return fmt.Errorf("bad url %q", b.URL)
	}
	u, err := url.Parse(b.URL)
	if err != nil {
		return fmt.Errorf("bad url %q: %w", b.URL, err)
	}
	switch {
	case u.Scheme == "" && u.Host == "" && u.Path != "":
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
	default:
		return fmt.Errorf("url %q must be relative or http(s)", b.URL)
	}
	return nil
}

// dottedNumber reports whether s is digits separated by single dots.
func dottedNumber(s string) bool {
	for _, p := range strings.Split(s, ".") {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// Find returns the bundle for version ("latest" → Latest[arch]) and arch
// (any spelling), or nil.
func (idx *Index) Find(version, arch string) *Bundle {
	arch, err := platform.Normalize(arch)
	if err != nil {
		return nil
	}
	if version == "latest" || version == "" {
		version = ""
		for a, v := range idx.Latest {
			if na, _ := platform.Normalize(a); na == arch {
				version = v
				break
			}
		}
		if version == "" {
			return nil
		}
	}
	for i, b := range idx.Bundles {
		if na, _ := platform.Normalize(b.Arch); na == arch && b.Version == version {
			return &idx.Bundles[i]
		}
	}
	return nil
}

// indexPick is the bundle chosen from an index, with where it came from.
type indexPick struct {
	bundle   Bundle
	indexURL string
}

// fetchIndex reads B/pkgs/slurm/index.json and downloads the bundle it
// names. No index, a broken one, or one without a matching bundle is "not
// here": the seed layouts on the same mirror come next.
func (s *session) fetchIndex(ctx context.Context, st step) (*Artifact, *fetchError) {
	signed := s.o.RequireSignedIndex
	data, _, ferr := s.readSmall(ctx, st.url, maxIndexFile)
	if ferr != nil && ferr.kind == kFatal && ctx.Err() == nil {
		// Too large, a redirect loop, a broken answer: the index is
		// unusable, which (like garbage JSON) is not the mirror's end.
		if signed && s.want == "" {
			ferr.kind = kIntegrity
			ferr.cause = "unusable signed index: " + ferr.cause
			ferr.hint = "the mirror's pkgs/slurm/index.json cannot be read: re-publish it with `slurm-installer pack`, or use another mirror"
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
				ferr.hint = "a key is pinned, so the bundle must come from a signed pkgs/slurm/index.json: publish one with `slurm-installer pack`, or pin the bundle's digest with --sha256"
			}
		}
		return nil, ferr
	}
	if signed {
		if ferr := s.verifyIndex(ctx, st.url, data); ferr != nil {
			return nil, ferr
		}
	}
	idx, err := ParseIndex(data)
	if err != nil {
		if signed {
			return nil, s.integrity(st.url, "unusable signed index: "+err.Error(),
				"the signed index on the mirror cannot be read by this version: upgrade slurm-installer or re-publish the index")
		}
		s.log.Warn().Str("url", urlString(st.url)).Err(err).Msg("ignoring unusable index; trying the seed layouts")
		return nil, notFound(st.url, "unusable index: "+err.Error())
	}
	if !idx.Expires.IsZero() && time.Now().After(idx.Expires) {
		if signed {
			return nil, s.integrity(st.url, fmt.Sprintf("signed index expired at %s", idx.Expires.Format(time.RFC3339)),
				"the mirror's index is out of date: re-sign it with `slurm-installer pack`")
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
	b, skipped, doubt := idx.Select(s.version, s.arch, &s.o)
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
		return nil, notFound(st.url, "bad bundle url") // ParseIndex checked it
	}
	bu := st.url.ResolveReference(ref)
	if bu.Scheme != st.url.Scheme && !(bu.Scheme == "https" || bu.Scheme == "http") {
		return nil, notFound(st.url, "bad bundle url")
	}
	s.log.Info().Str("index", urlString(st.url)).Str("url", urlString(bu)).Str("version", b.Version).Int64("size", b.Size).Msg("index names a bundle")
	if signed && s.want != "" && !strings.EqualFold(s.want, b.SHA256) {
		return nil, s.integrity(st.url, fmt.Sprintf("--sha256 %s differs from the signed index's %s", s.want, strings.ToLower(b.SHA256)),
			"the pinned digest and the signed index disagree: drop --sha256 to trust the index, or fix the one that is wrong")
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
func (s *session) verifyIndex(ctx context.Context, u *url.URL, data []byte) *fetchError {
	su := *u
	su.Path += ".minisig"
	su.RawPath = ""
	sig, _, ferr := s.readSmall(ctx, &su, 64<<10)
	if ferr != nil {
		if ferr.kind == kNotFound {
			return s.integrity(&su, "index signature missing ("+ferr.cause+")",
				"a key is pinned, so the index must be signed: publish %s with `slurm-installer pack --sign-key`", urlString(&su))
		}
		return ferr
	}
	if err := s.o.IndexVerifier(data, sig); err != nil {
		s.log.Error().Str("url", urlString(u)).Err(err).Msg("index signature rejected")
		return s.integrity(u, "index signature rejected: "+err.Error(),
			"the index was not signed by the pinned key (tampered, or signed with another key): check --pubkey, or re-sign the index")
	}
	s.log.Info().Str("url", urlString(u)).Msg("index signature verified")
	return nil
}
