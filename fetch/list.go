package fetch

// What a mirror offers (List) and what a run would take from it (Plan),
// without downloading a bundle (issue 26: `slurm-installer list` and
// `install --dry-run`). Both read only what Fetch reads before a bundle:
// index.json and its signature, autoindex listings, checksum files, a
// registry's tags, manifests and configs; a bundle's existence is asked
// with HEAD.

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/slurmver"
	"slurm-installer/oci"
)

// Offer is one bundle a mirror offers.
type Offer struct {
	Version string `json:"version"`
	Arch    string `json:"arch"`
	// Libc is the C library the bundle needs: "glibc" (Glibc names the
	// version), "any" (self-contained: it carries its own), or "" when the
	// mirror does not say.
	Libc          string `json:"libc"`
	Glibc         string `json:"glibc_need"`
	SelfContained bool   `json:"self_contained"`
	Prefix        string `json:"prefix"`      // a self-contained bundle installs only here
	Compression   string `json:"compression"` // gzip, xz, zstd, bzip2, zip; "" for a tree
	Size          int64  `json:"size"`        // bytes; 0 when unknown
	URL           string `json:"url"`         // redacted
	SHA256        string `json:"sha256"`      // when the mirror publishes it in a listing read here
	// Verification is how Fetch would verify its bytes: one of the
	// Verified* values ("sidecar" when a .sha256 is published beside it).
	Verification bundle.Verification `json:"verification"`
	// Runs says whether it can run in the root Options describe: "yes",
	// "maybe" (only through something the root may have, such as
	// gcompat, or at another prefix), "no", or "other-arch".
	Runs string `json:"runs"`
	Why  string `json:"why"` // the reason when Runs is not "yes"
}

// MirrorOffers is what one mirror offers.
type MirrorOffers struct {
	Mirror string `json:"mirror"` // redacted
	// Layout is how the offers were found: index, tarball, tree, direct, oci.
	Layout bundle.Layout `json:"layout"`
	Signed bool          `json:"signed"` // the index's signature passed Options.IndexVerifier
	Offers []Offer       `json:"bundles"`
	Tags   []string      `json:"tags"` // a registry's tags
	// Error says why nothing could be listed (the mirror is down, has no
	// layout that lists).
	Error string `json:"error"`
}

// List reads what each mirror of o.Mirrors offers, one mirror after the
// other (each request bounded by Options.Timeout, the whole by
// Options.Deadline), and judges each bundle for the root o describes
// (Arch, RootGlibc, Libc, Prefix). It downloads no bundle. A mirror that
// cannot be read is listed with its Error; only a bad mirror list is an
// error.
func List(ctx context.Context, o Options) ([]MirrorOffers, error) {
	o.Version, o.Accept, o.Selector = "latest", nil, ""
	s, _, err := newSession(o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if o.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Deadline)
		defer cancel()
	}
	var out []MirrorOffers
	for _, raw := range o.Mirrors {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		m, err := planMirrorFor(raw, "latest", s.arch, false)
		if err != nil {
			return nil, err
		}
		mg := &mirrorGo{session: s, dir: m.fileRoot}
		mo := MirrorOffers{Mirror: m.name}
		switch {
		case oci.IsRef(raw):
			mo = mg.listOCI(ctx, raw)
		case m.direct:
			mo.Layout = "direct"
			mo.Offers = mg.listDirect(ctx, m.steps[0])
		default:
			mg.listBase(ctx, m, &mo)
		}
		if mo.Offers == nil {
			mo.Offers = []Offer{}
		}
		if mo.Tags == nil {
			mo.Tags = []string{}
		}
		out = append(out, mo)
	}
	return out, nil
}

// compression names an archive's compression from its name.
func compression(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "gzip"
	case strings.HasSuffix(n, ".tar.xz"):
		return "xz"
	case strings.HasSuffix(n, ".tar.zst"):
		return "zstd"
	case strings.HasSuffix(n, ".tar.bz2"):
		return "bzip2"
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	}
	return ""
}

// verdict fills an offer's Runs and Why for the root s describes.
func (s *session) verdict(of *Offer, b *index.Bundle) {
	if a, err := platform.Normalize(of.Arch); err == nil && a != s.arch {
		of.Runs, of.Why = "other-arch", "the root is "+s.arch
		return
	}
	switch v, why := s.o.judge(b); v {
	case runs:
		of.Runs = "yes"
	case doubtful:
		of.Runs, of.Why = "maybe", why
	default:
		of.Runs, of.Why = "no", why
	}
}

func offerOf(b *index.Bundle) Offer {
	of := Offer{Version: b.Version, Arch: b.Arch, Glibc: b.Glibc, SelfContained: b.SelfContained, Prefix: b.Prefix,
		Size: b.Size, SHA256: strings.ToLower(b.SHA256), Compression: compression(b.URL)}
	if a, err := platform.Normalize(b.Arch); err == nil {
		of.Arch = a
	}
	switch {
	case b.SelfContained:
		of.Libc = "any"
	case b.Glibc != "":
		of.Libc = "glibc"
	}
	return of
}

// listBase lists a base URL: its index, else its tarball layout, else its
// tree layout.
func (s *mirrorGo) listBase(ctx context.Context, m *mirror, mo *MirrorOffers) {
	var causes []string
	for _, st := range m.steps {
		switch st.kind {
		case stepIndex:
			offers, signed, cause := s.listIndex(ctx, st.url)
			if cause == "" {
				mo.Layout, mo.Signed, mo.Offers = "index", signed, offers
				return
			}
			causes = append(causes, "index: "+cause)
		case stepFile:
			if st.layout != "tarball" {
				continue
			}
			dir := st.url.ResolveReference(&url.URL{Path: "./"})
			offers, cause := s.listTarballs(ctx, dir)
			if cause == "" {
				mo.Layout, mo.Offers = "tarball", offers
				return
			}
			causes = append(causes, "tarball layout: "+cause)
			goto tree
		}
	}
tree:
	for _, st := range m.steps {
		if st.kind != stepTree {
			continue
		}
		if of, ok := s.listTree(ctx, st.url); ok {
			mo.Layout, mo.Offers = "tree", []Offer{of}
			return
		}
	}
	causes = append(causes, "no tree layout for "+s.arch)
	mo.Error = strings.Join(causes, "; ")
}

// listIndex lists every bundle of the index at u.
func (s *mirrorGo) listIndex(ctx context.Context, u *url.URL) ([]Offer, bool, string) {
	data, _, ferr := s.readSmall(ctx, u, maxIndexFile)
	if ferr != nil {
		return nil, false, ferr.cause
	}
	signed := false
	if s.o.IndexVerifier != nil {
		if ferr := s.verifyIndex(ctx, u, data); ferr == nil {
			signed = true
		} else if s.o.RequireSignedIndex {
			return nil, false, ferr.cause
		}
	}
	idx, err := index.Parse(data)
	if err != nil {
		return nil, false, err.Error()
	}
	how := VerifiedIndex
	if signed {
		how = VerifiedSignedIndex
	}
	var out []Offer
	for i := range idx.Bundles {
		b := &idx.Bundles[i]
		of := offerOf(b)
		if ref, err := url.Parse(b.URL); err == nil {
			of.URL = urlString(u.ResolveReference(ref))
		}
		of.Verification = how
		if s.want != "" {
			of.Verification = VerifiedPinned
		}
		s.verdict(&of, b)
		out = append(out, of)
	}
	sortOffers(out)
	return out, signed, ""
}

func sortOffers(out []Offer) {
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Arch != out[j].Arch {
			return out[i].Arch < out[j].Arch
		}
		return slurmver.Compare(out[i].Version, out[j].Version) > 0
	})
}

// listTarballs lists the tarball layout's directory (autoindex).
func (s *mirrorGo) listTarballs(ctx context.Context, dir *url.URL) ([]Offer, string) {
	es, ferr := s.list(ctx, dir)
	if ferr != nil {
		return nil, "cannot list " + urlString(dir) + " (no autoindex: " + ferr.cause + ")"
	}
	names := map[string]bool{}
	for _, e := range es {
		names[e.Name] = !e.Dir
	}
	var sums map[string]bundle.Digest
	if names["SHA256SUMS"] {
		if data, _, ferr := s.readSmall(ctx, child(dir, "SHA256SUMS", false), 16*maxChecksumFile); ferr == nil {
			sums, _ = bundle.ParseSums(data)
		}
	}
	archNamed := map[string]bool{} // version → an arch-named file has it (the arch-less name is its alias)
	for _, e := range es {
		if v, a, ok := tarballName(e.Name); ok && !e.Dir && a != "" {
			archNamed[v] = true
		}
	}
	var out []Offer
	for _, e := range es {
		v, a, ok := tarballName(e.Name)
		if e.Dir || !ok || a == "" && archNamed[v] {
			continue
		}
		of := Offer{Version: v, Arch: a, Size: e.Size, Compression: compression(e.Name), URL: urlString(child(dir, e.Name, false))}
		if a == "" {
			of.Arch = "any (name has no arch)"
		}
		switch {
		case s.want != "":
			of.Verification = VerifiedPinned
		case names[e.Name+".sha256"]:
			of.Verification = VerifiedSidecar
		case sums[e.Name] != "":
			of.Verification, of.SHA256 = VerifiedSHA256SUMS, string(sums[e.Name])
		default:
			of.Verification = VerifiedNone
		}
		b := &index.Bundle{Version: v, Arch: cmpOr(a, s.arch)}
		s.verdict(&of, b)
		s.unknownNeed(&of)
		out = append(out, of)
	}
	sortOffers(out)
	return out, ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// listTree reads the tree layout of s.arch: its VERSION and whether
// SHA256SUMS is there.
func (s *mirrorGo) listTree(ctx context.Context, dir *url.URL) (Offer, bool) {
	es, ferr := s.list(ctx, dir)
	if ferr != nil {
		return Offer{}, false
	}
	of := Offer{Arch: s.arch, URL: urlString(dir), Verification: VerifiedNone, Runs: "yes"}
	s.unknownNeed(&of)
	if s.want != "" {
		of.Verification = VerifiedPinned
	}
	for _, e := range es {
		switch {
		case e.Name == "SHA256SUMS" && !e.Dir && s.want == "":
			of.Verification = VerifiedSHA256SUMS
		case e.Name == "VERSION" && !e.Dir:
			if data, _, ferr := s.readSmall(ctx, child(dir, "VERSION", false), 256); ferr == nil {
				of.Version = strings.TrimSpace(string(data))
			}
		}
	}
	return of, true
}

// unknownNeed: a layout that does not say which C library its bundle
// needs (tarball, tree) cannot be judged for a musl root; preflight
// decides at install time.
func (s *session) unknownNeed(of *Offer) {
	if of.Runs == "yes" && s.o.Libc == "musl" {
		of.Runs, of.Why = "maybe", "the mirror does not say which C library it needs (a glibc build runs here only through gcompat; the install's preflight decides)"
	}
}

// listDirect describes a direct artifact URL (asked with HEAD).
func (s *mirrorGo) listDirect(ctx context.Context, st step) []Offer {
	of := Offer{Version: st.version, Arch: s.arch, Compression: compression(st.url.Path), URL: urlString(st.url), Runs: "yes"}
	size, ferr := s.head(ctx, st.url)
	if ferr != nil {
		of.Runs, of.Why = "no", "not there: "+ferr.cause
		return []Offer{of}
	}
	of.Size = size
	exp, ferr := s.published(ctx, st.url)
	switch {
	case s.want != "":
		of.Verification = VerifiedPinned
	case ferr != nil:
		of.Verification, of.Why = VerifiedNone, "checksum: "+ferr.cause
	default:
		of.Verification, of.SHA256 = exp.how, exp.digest
	}
	return []Offer{of}
}

// head asks whether the file at u is there, downloading none of it; its
// size when known (-1 otherwise).
func (s *mirrorGo) head(ctx context.Context, u *url.URL) (int64, *fetchError) {
	if u.Scheme == "file" {
		b, ferr := s.openFile(u)
		if ferr != nil {
			return 0, ferr
		}
		b.close()
		return b.size, nil
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return 0, &fetchError{kind: kFatal, url: urlString(u), cause: err.Error(), err: err}
	}
	req.Header.Set("User-Agent", "slurm-installer")
	resp, err := s.client.Do(req)
	if err != nil || resp == nil {
		if resp != nil {
			resp.Body.Close()
		}
		return 0, s.transportError(ctx, u, err, false)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(u, resp)
	}
	return resp.ContentLength, nil
}

// listOCI lists a registry's tags and the bundle each names.
func (s *mirrorGo) listOCI(ctx context.Context, raw string) MirrorOffers {
	mo := MirrorOffers{Mirror: Redact(raw), Layout: "oci"}
	tags, err := oci.List(ctx, raw, s.ociClient(), maxListedTags)
	if err != nil {
		mo.Error = Redact(err.Error())
		return mo
	}
	for _, t := range tags {
		mo.Tags = append(mo.Tags, t.Tag)
		if t.Config == nil {
			continue
		}
		c := t.Config
		b := &index.Bundle{Version: c.Version, Arch: c.Arch, SelfContained: c.SelfContained, Prefix: c.Prefix}
		if g := strings.TrimPrefix(c.GlibcNeed, "GLIBC_"); slurmver.Numeric(g) {
			b.Glibc = g
		}
		of := offerOf(b)
		of.Size, of.SHA256, of.URL = t.Size, t.SHA256, Redact(raw)+":"+t.Tag
		of.Compression = t.Compression
		of.Verification = VerifiedLayerDigest
		if s.want != "" {
			of.Verification = VerifiedPinned
		}
		if strings.HasPrefix(t.Tag, "latest-") {
			continue // an alias of a versioned tag: listed under Tags only
		}
		s.verdict(&of, b)
		mo.Offers = append(mo.Offers, of)
	}
	sortOffers(mo.Offers)
	return mo
}

// maxListedTags bounds the manifests List reads from one registry.
const maxListedTags = 200

func (s *session) ociClient() oci.ClientOptions {
	return oci.ClientOptions{RootCAs: s.o.RootCAs, AuthFile: s.o.RegistryAuthFile, Connect: s.connect, Timeout: s.timeout, HTTPClient: s.o.HTTPClient}
}

// Planned is what Fetch would download, resolved without downloading it.
type Planned struct {
	Mirror         string              `json:"mirror"`          // the mirror that would serve it (redacted)
	Layout         bundle.Layout       `json:"layout"`          // index, tarball, tree, direct, file, oci
	URL            string              `json:"url"`             // the bundle (redacted)
	Version        string              `json:"version"`         // "" when only the bundle says (a latest name)
	SHA256         string              `json:"sha256"`          // the digest it must have; "" when nothing publishes one
	ChecksumSource string              `json:"checksum_source"` // where that digest comes from
	Verification   bundle.Verification `json:"verification"`    // how its bytes would be verified (Verified*)
	Size           int64               `json:"size"`            // bytes, when known
	SelfContained  bool                `json:"self_contained"`
	Glibc          string              `json:"glibc_need"`
	// Doubt says why the bundle may not run in the root (a plain glibc
	// bundle in a musl root): Fetch takes it when nothing surer is there,
	// and the install's preflight decides.
	Doubt   string `json:"doubt"`
	Skipped []Skip `json:"skipped"`        // newer bundles passed over, and why
	Passed  []Skip `json:"mirrors_passed"` // earlier mirrors that would not serve it, and why (Version holds the mirror)
}

// Skip is a bundle (or a mirror) passed over, and why.
type Skip struct {
	Version string `json:"what"`
	Reason  string `json:"why"`
}

// Plan resolves, as Fetch would, which mirror and which bundle a run
// takes and how its bytes would be verified, without downloading the
// bundle: mirrors are asked in order (no racing), the first that would
// serve a bundle is the answer. The error is Fetch's class of failure when
// no mirror would serve one.
func Plan(ctx context.Context, o Options) (*Planned, error) {
	s, mirrors, err := newSession(o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if o.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Deadline)
		defer cancel()
	}
	var passed []Skip
	var errs []*fetchError
	for _, m := range mirrors {
		if m.refuse != nil {
			passed = append(passed, Skip{m.name, m.refuse.cause})
			errs = append(errs, m.refuse)
			continue
		}
		mg := &mirrorGo{session: s, dir: m.fileRoot}
		p, ferr := mg.planMirror(ctx, m)
		if ferr == nil {
			p.Mirror, p.Passed = m.name, passed
			if p.Passed == nil {
				p.Passed = []Skip{}
			}
			if p.Skipped == nil {
				p.Skipped = []Skip{}
			}
			return p, nil
		}
		passed = append(passed, Skip{m.name, ferr.cause})
		errs = append(errs, ferr)
		if ctx.Err() != nil {
			break
		}
	}
	var ms []*mirror
	for i, m := range mirrors {
		if i < len(errs) {
			m.cause = errs[i]
			m.state = stateDone
		}
		ms = append(ms, m)
	}
	return nil, s.finalError(ctx, ms, nil)
}

// planMirror is Plan for one mirror: its steps in Fetch's order.
func (s *mirrorGo) planMirror(ctx context.Context, m *mirror) (*Planned, *fetchError) {
	var last *fetchError
	for _, st := range m.steps {
		var p *Planned
		var ferr *fetchError
		switch st.kind {
		case stepIndex:
			p, ferr = s.planIndex(ctx, st)
		case stepFile:
			p, ferr = s.planFile(ctx, st)
		case stepList:
			p, ferr = s.planListed(ctx, st)
		case stepTree:
			p, ferr = s.planTree(ctx, st)
		case stepOCI:
			p, ferr = s.planOCI(ctx, m.raw)
		}
		if ferr == nil {
			return p, nil
		}
		last = ferr
		if ferr.kind != kNotFound {
			return nil, ferr // as in Fetch: only "not here" moves on to the next layout
		}
	}
	if last == nil {
		last = &fetchError{kind: kNotFound, url: m.name, cause: "nothing to try"}
	}
	return nil, last
}

func (s *mirrorGo) planIndex(ctx context.Context, st step) (*Planned, *fetchError) {
	data, _, ferr := s.readSmall(ctx, st.url, maxIndexFile)
	if ferr != nil {
		if ferr.kind == kNotFound || ferr.kind == kFatal && ctx.Err() == nil {
			return nil, &fetchError{kind: kNotFound, url: ferr.url, cause: "no usable index (" + ferr.cause + ")"}
		}
		return nil, ferr
	}
	signed := s.o.RequireSignedIndex
	if signed {
		if ferr := s.verifyIndex(ctx, st.url, data); ferr != nil {
			return nil, ferr
		}
	}
	idx, err := index.Parse(data)
	if err != nil {
		return nil, notFound(st.url, "unusable index: "+err.Error())
	}
	if s.o.AcceptIndex != nil {
		if err := s.o.AcceptIndex(idx); err != nil {
			return nil, s.integrity(st.url, "index refused: "+Redact(err.Error()), "")
		}
	}
	b, skipped, doubt := selectBundle(idx, s.version, s.arch, &s.o)
	if b == nil && len(skipped) > 0 {
		return nil, s.unrunnable(st.url, skipped)
	}
	if b == nil {
		return nil, notFound(st.url, "index has no bundle for "+s.version+"/"+s.arch)
	}
	ref, _ := url.Parse(b.URL)
	bu := st.url.ResolveReference(ref)
	p := &Planned{Layout: "index", URL: urlString(bu), Version: b.Version, SHA256: strings.ToLower(b.SHA256),
		ChecksumSource: "index " + urlString(st.url), Verification: VerifiedIndex, Size: b.Size,
		SelfContained: b.SelfContained, Glibc: b.Glibc}
	if signed {
		p.Verification = VerifiedSignedIndex
	}
	if s.want != "" {
		p.SHA256, p.ChecksumSource, p.Verification = s.want, checksumPinned, VerifiedPinned
	}
	for _, sk := range skipped {
		p.Skipped = append(p.Skipped, Skip(sk))
	}
	if doubt {
		_, p.Doubt = s.o.judge(b)
	}
	return p, nil
}

func (s *mirrorGo) planFile(ctx context.Context, st step) (*Planned, *fetchError) {
	size, ferr := s.head(ctx, st.url)
	if ferr != nil {
		return nil, ferr
	}
	layout := st.layout
	if st.url.Scheme == "file" && layout == "direct" {
		layout = "file"
	}
	p := &Planned{Layout: layout, URL: urlString(st.url), Version: st.version, Size: max(size, 0)}
	if s.want != "" {
		p.SHA256, p.ChecksumSource, p.Verification = s.want, checksumPinned, VerifiedPinned
		return p, nil
	}
	exp, ferr := s.published(ctx, st.url)
	if ferr != nil {
		return nil, ferr
	}
	if exp.digest == "" && st.version == "" && strings.Contains(baseName(st.url), "latest") {
		exp.source = "none published for the latest name: checked against the checksum of the version the bundle's VERSION names, once downloaded"
	}
	if exp.digest == "" && s.o.RequireChecksum && !strings.Contains(baseName(st.url), "latest") {
		return nil, s.integrity(st.url, "no checksum published, and a checksum is required", "")
	}
	p.SHA256, p.ChecksumSource, p.Verification = exp.digest, exp.source, exp.how
	return p, nil
}

func (s *mirrorGo) planListed(ctx context.Context, st step) (*Planned, *fetchError) {
	es, ferr := s.list(ctx, st.url)
	if ferr != nil {
		return nil, &fetchError{kind: kNotFound, url: urlString(st.url), cause: "cannot list versions of the tarball layout (no autoindex: " + ferr.cause + ")"}
	}
	var skipped []Skip
	type cand struct {
		v, name   string
		archNamed bool
	}
	best := map[string]cand{} // as fetchListed: the arch-named file of a version, else its arch-less name
	for _, e := range es {
		v, a, ok := tarballName(e.Name)
		if e.Dir || !ok || a != "" && a != s.arch {
			continue
		}
		if c, seen := best[v]; seen && (c.archNamed || a == "") {
			continue
		}
		best[v] = cand{v, e.Name, a != ""}
	}
	var cands []cand
	for _, c := range best {
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(i, j int) bool { return slurmver.Compare(cands[i].v, cands[j].v) > 0 })
	for _, c := range cands {
		if ok, why := s.accepts(c.v); !ok {
			if slurmver.Matches(s.version, c.v) {
				skipped = append(skipped, Skip{c.v, why})
			}
			continue
		}
		p, ferr := s.planFile(ctx, step{kind: stepFile, url: child(st.url, c.name, false), layout: "tarball", version: c.v})
		if ferr != nil {
			return nil, ferr
		}
		p.Skipped = skipped
		return p, nil
	}
	return nil, notFound(st.url, "the listing has no bundle of "+s.selection()+" for "+s.arch)
}

func (s *mirrorGo) planTree(ctx context.Context, st step) (*Planned, *fetchError) {
	of, ok := s.listTree(ctx, st.url)
	if !ok {
		return nil, notFound(st.url, "no tree layout")
	}
	if of.Version != "" && !slurmver.Matches(s.version, of.Version) {
		return nil, notFound(st.url, "the tree holds "+of.Version+", not "+s.version)
	}
	src := "none published"
	if of.Verification == VerifiedSHA256SUMS {
		src = "SHA256SUMS " + urlString(child(st.url, "SHA256SUMS", false))
	} else if of.Verification == VerifiedPinned {
		src = checksumPinned
	}
	return &Planned{Layout: "tree", URL: of.URL, Version: of.Version, ChecksumSource: src, Verification: of.Verification, SHA256: s.want}, nil
}

func (s *mirrorGo) planOCI(ctx context.Context, raw string) (*Planned, *fetchError) {
	if s.o.RequireSignedIndex && s.want == "" {
		return nil, &fetchError{kind: kIntegrity, url: raw, cause: "a registry mirror carries no signed index"}
	}
	res, err := oci.Resolve(ctx, oci.Options{Ref: raw, Version: s.version, Arch: s.arch, SHA256: s.want, MaxBytes: s.maxBytes,
		Log: s.log, Accept: s.acceptOCI, Client: s.ociClient()})
	if err != nil {
		return nil, ociError(raw, err)
	}
	p := &Planned{Layout: "oci", URL: res.URL, Version: res.Version, SHA256: res.SHA256, ChecksumSource: res.ChecksumSource,
		Verification: VerifiedLayerDigest, Size: res.Size, SelfContained: res.Config.SelfContained,
		Glibc: strings.TrimPrefix(res.Config.GlibcNeed, "GLIBC_")}
	if s.want != "" {
		p.ChecksumSource, p.Verification = checksumPinned, VerifiedPinned
	}
	b := &index.Bundle{Version: res.Version, Arch: s.arch, SelfContained: res.Config.SelfContained, Prefix: res.Config.Prefix, Glibc: p.Glibc}
	if !slurmver.Numeric(b.Glibc) {
		b.Glibc = ""
	}
	if v, why := s.o.judge(b); v == doubtful {
		p.Doubt = why
	}
	for _, sk := range res.Skipped {
		v, why, _ := strings.Cut(sk, ": ")
		p.Skipped = append(p.Skipped, Skip{v, why})
	}
	return p, nil
}
