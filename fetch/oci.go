package fetch

// Registry mirrors (issue 17). An oci://HOST/REPO entry in Options.Mirrors
// is a mirror with one step that oci.Fetch serves inside the usual go at a
// mirror, so it races and fails over with AppHub mirrors under the same
// rules: it reports its wait for response headers to the racer (RaceDelay
// starts the next mirror), claims the download before the layer's bytes
// are fetched (a loser never downloads), and its failures map onto the
// same kinds (404/unknown tag: move on; 5xx/connection: retry; digest:
// integrity; descriptor over MaxBytes: oversize).
//
// The hooks outside this file: planMirror sends oci:// entries here, and
// runMirror reads stepOCI through ociSource (source.go), which calls fetchOCI.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/slurmver"
	"slurm-installer/oci"
)

// stepOCI: the whole mirror is one oci.Fetch.
const stepOCI stepKind = 100

func planOCI(raw string) (*mirror, error) {
	if _, err := oci.ParseRef(raw); err != nil {
		return nil, err
	}
	return &mirror{raw: raw, name: Redact(raw), steps: []step{{kind: stepOCI, layout: bundle.LayoutOCI}}}, nil
}

func (s *mirrorGo) fetchOCI(ctx context.Context, raw string) (*Artifact, *fetchError) {
	if s.o.RequireSignedIndex && s.want == "" {
		return nil, &fetchError{kind: kIntegrity, url: raw, cause: "a registry mirror carries no signed index",
			Hints: failure.Hints{Hint: "a key is pinned, so the bundle must come from a signed pkgs/slurm/index.json or be pinned by its digest",
				Fix: []failure.Remedy{{Step: failure.PinLayerDigest}}}}
	}
	res, err := oci.Fetch(ctx, oci.Options{
		Ref: raw, Version: s.version, Arch: s.arch, SHA256: s.want, MaxBytes: s.maxBytes, TempDir: s.tempDir,
		Stall: s.stall, Claim: s.claimLayer, Log: s.log, Accept: s.acceptOCI,
		Client: oci.ClientOptions{RootCAs: s.o.RootCAs, AuthFile: s.o.RegistryAuthFile, Connect: s.connect, Timeout: s.timeout,
			HTTPClient: s.o.HTTPClient, Wait: s.g.waiting, Got: s.g.got},
	})
	if err != nil {
		return nil, ociError(raw, err)
	}
	src, how := res.ChecksumSource, VerifiedLayerDigest
	if s.want != "" {
		src, how = checksumPinned, VerifiedPinned // as for the other layouts (oci words it its own way)
	}
	return &Artifact{Path: res.Path, Name: res.Name, URL: res.URL, Mirror: raw, Layout: bundle.LayoutOCI, SHA256: res.SHA256,
		ChecksumSource: src, Verification: how, Version: res.Version, Size: res.Size, Cleanup: res.Cleanup}, nil
}

// claimLayer claims the download for the layer's bytes (size from its
// descriptor), as download does for an AppHub bundle.
func (s *mirrorGo) claimLayer(size int64) bool {
	if !s.g.claim() {
		return false
	}
	s.g.downloading(size)
	return true
}

// acceptOCI judges a registry bundle by its config the way the index's
// bundles are judged (Options.judge: the root's glibc, a self-contained
// bundle's prefix, Options.Accept's window), before its layer is
// downloaded. A doubtful one is taken: preflight has the last word.
func (s *mirrorGo) acceptOCI(c oci.Config) string {
	b := &index.Bundle{Version: c.Version, Arch: c.Arch, SelfContained: c.SelfContained, Prefix: c.Prefix}
	if g := strings.TrimPrefix(c.GlibcNeed, "GLIBC_"); slurmver.Numeric(g) {
		b.Glibc = g
	}
	if v, why := s.o.judge(b); v == cannot {
		return why
	}
	return ""
}

func ociError(raw string, err error) *fetchError {
	fe := &fetchError{url: raw, err: err, cause: err.Error()}
	fe.Hint, fe.Fix = failure.Advice(err)
	var oe *oci.Error
	if errors.As(err, &oe) {
		fe.cause = oe.Cause
		if oe.RetryAfter > 0 {
			// The backoff reads Retry-After from a response, as for AppHub mirrors.
			fe.resp = &http.Response{StatusCode: http.StatusServiceUnavailable,
				Header: http.Header{"Retry-After": {strconv.Itoa(int(oe.RetryAfter.Seconds()))}}}
		}
	}
	fe.cause = strings.TrimPrefix(fe.cause, raw+": ")
	fe.kind = oci.KindOf(err) // one kind type (httpx.Kind): KindFatal when err is not oci's
	return fe
}
