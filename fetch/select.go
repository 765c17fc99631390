package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/slurmver"
)

// Selection (docs/DESIGN.md §9): the version asked for is an exact version, a series
// ("22.05": the newest 22.05.x) or latest. Where a layout can list the
// versions it holds (the index; the tarball layout through nginx
// autoindex of pkgs/slurm-apk/; the tree layout's one VERSION), the newest
// bundle that matches the selector and the arch and can run in the root is
// taken, and every newer one passed over is logged with the reason.

// ErrNoBundleRuns is in the chain of a Fetch error (class Verify) when the
// mirrors have bundles that match but none can run in the root (or none
// Options.Accept takes). Test with errors.Is.
var ErrNoBundleRuns = errors.New("no matching bundle can run in this root")

// Verdicts on whether a bundle can run in the root.
const (
	runs     = iota // nothing known stops it (preflight has the last word)
	doubtful        // it runs only if the root has something this cannot see (gcompat), or at another prefix: taken only when nothing better is there
	cannot          // certain to fail here
)

// packedFor begins the reason a self-contained bundle packed for another
// prefix is passed over (finalError looks for it).
const packedFor = "self-contained and packed for the prefix"

// skip is one bundle passed over by the selection, and why.
type skip struct {
	Version string
	Reason  string
}

// judge tells whether the bundle b can run in the root Options describe.
func (o *Options) judge(b *index.Bundle) (int, string) {
	if o.Accept != nil {
		if why := o.Accept(b.Version); why != "" {
			return cannot, why
		}
	}
	if b.SelfContained {
		if b.Prefix != "" && o.Prefix != "" && b.Prefix != o.Prefix {
			// Taken only when nothing else is there: the install then
			// refuses the prefix as a usage error naming both (exit 2).
			return doubtful, fmt.Sprintf(packedFor+" %s, not %s (its commands name their loader under %s)", b.Prefix, o.Prefix, b.Prefix)
		}
		return runs, "" // it carries its own glibc
	}
	if b.Glibc == "" {
		return runs, "" // a musl or static build, or an index without needs: preflight decides
	}
	switch {
	case o.Libc == bundle.Musl:
		return doubtful, fmt.Sprintf("needs glibc %s and the root has musl libc (it could run only through gcompat)", b.Glibc)
	case o.RootGlibc != "" && slurmver.Compare(b.Glibc, o.RootGlibc) > 0:
		where := ""
		if o.RootGlibcFile != "" {
			where = " (" + o.RootGlibcFile + ")"
		}
		return cannot, fmt.Sprintf("needs glibc %s, the root has %s%s", b.Glibc, o.RootGlibc, where)
	}
	return runs, ""
}

// selectBundle returns the bundle of idx for the selector sel (exact, series or latest)
// and arch that o.judge likes best: the newest that runs, else the newest
// doubtful one (then doubt is true). skipped lists the newer candidates
// passed over, newest first. For latest, an index's Latest[arch] caps the
// candidates (the publisher's pointer: a newer bundle may be a preview).
// pick is nil when no candidate can run (skipped says why) or there is no
// candidate at all (skipped is empty).
func selectBundle(idx *index.Index, sel, arch string, o *Options) (pick *index.Bundle, skipped []skip, doubt bool) {
	arch, err := platform.Normalize(arch)
	if err != nil {
		return nil, nil, false
	}
	latest := ""
	if slurmver.KindOf(sel) == slurmver.Latest {
		latest = idx.LatestFor(arch)
	}
	var cands []*index.Bundle
	for i := range idx.Bundles {
		b := &idx.Bundles[i]
		if na, _ := platform.Normalize(b.Arch); na != arch || !slurmver.Matches(sel, b.Version) {
			continue
		}
		if latest != "" && slurmver.Compare(b.Version, latest) > 0 {
			continue
		}
		cands = append(cands, b)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if c := slurmver.Compare(cands[i].Version, cands[j].Version); c != 0 {
			return c > 0
		}
		return index.Preferred(*cands[i], *cands[j]) // the same version in both formats: zstd first
	})
	var firstDoubt *index.Bundle
	var doubts []skip
	for _, b := range cands {
		v, why := o.judge(b)
		switch v {
		case runs:
			for _, d := range doubts {
				d.Reason += "; a bundle that surely runs here is preferred"
				skipped = append(skipped, d)
			}
			sortSkips(skipped)
			return b, skipped, false
		case doubtful:
			if firstDoubt == nil {
				firstDoubt = b
			}
			doubts = append(doubts, skip{Version: b.Version, Reason: why})
		default:
			skipped = append(skipped, skip{Version: b.Version, Reason: why})
		}
	}
	if firstDoubt != nil {
		return firstDoubt, skipped, true
	}
	return nil, skipped, false
}

func sortSkips(s []skip) {
	sort.SliceStable(s, func(i, j int) bool { return slurmver.Compare(s[i].Version, s[j].Version) > 0 })
}

// selection names what is being selected, for messages: "SLURM 22.05",
// "any SLURM version" (latest), "a SLURM version the controller accepts".
func (s *session) selection() string {
	sel := s.o.Selector
	if sel == "" {
		sel = s.version
	}
	switch slurmver.KindOf(sel) {
	case slurmver.Latest:
		if s.o.Accept != nil {
			return "an accepted SLURM version"
		}
		return "any SLURM version"
	case slurmver.Cluster:
		return "a SLURM version the controller accepts"
	}
	return "SLURM " + sel
}

// listing says whether the mirror's versions must be listed to resolve
// the selector: a series, or latest narrowed by Options.Accept.
func (s *session) listing() bool {
	k := slurmver.KindOf(s.version)
	return k == slurmver.Series || k == slurmver.Latest && s.o.Accept != nil
}

// accepts says whether a version found by listing (tarball, tree) matches
// the selector and Options.Accept; the reason when not.
func (s *session) accepts(version string) (bool, string) {
	if !slurmver.Matches(s.version, version) {
		return false, fmt.Sprintf("not SLURM %s", s.version)
	}
	if s.o.Accept != nil {
		if why := s.o.Accept(version); why != "" {
			return false, why
		}
	}
	return true, ""
}

// archSpellings are every arch spelling a bundle name may end in.
var archSpellings = []string{"x86_64", "amd64", "x86-64", "aarch64", "arm64"}

// tarballName parses slurm-client-{V}-{A}-alpine.tar.gz (arch "" for the
// arch-less slurm-client-{V}-alpine.tar.gz) and the zstd names
// slurm-client-{V}-{A}-alpine.tar.zst; ok is false for other names
// and for the latest names.
func tarballName(name string) (version, arch string, ok bool) {
	rest, found := strings.CutPrefix(name, "slurm-client-")
	if !found {
		return "", "", false
	}
	rest, found = strings.CutSuffix(rest, "-alpine.tar.gz")
	if !found {
		rest, found = strings.CutSuffix(rest, "-alpine.tar.zst")
	}
	if !found || rest == "" {
		return "", "", false
	}
	for _, a := range archSpellings {
		if v, cut := strings.CutSuffix(rest, "-"+a); cut {
			n, _ := platform.Normalize(a)
			rest, arch = v, n
			break
		}
	}
	if rest == "latest" || !validVersion(rest) || slurmver.SeriesOf(rest) == "" {
		return "", "", false
	}
	return rest, arch, true
}

// cannotList is what a mirror says when a layout cannot list its versions.
func cannotList(mirror, layout, cause string) string {
	return fmt.Sprintf("mirror %s: cannot list versions of the %s layout (no autoindex: %s); only an exact version can be fetched from it", mirror, layout, cause)
}

// fetchListed resolves a series (or an Accept-narrowed latest) in the
// tarball layout: it lists pkgs/slurm-apk/ (nginx autoindex, HTML or
// JSON), takes the newest slurm-client-{V}-{A}-alpine.tar.gz that
// matches (the arch-less name when no arch-named one has that version)
// and downloads it. A directory that cannot be listed is "not here", with
// a cause that says so.
func (s *mirrorGo) fetchListed(ctx context.Context, st step, mirror string) (*Artifact, *fetchError) {
	es, ferr := s.list(ctx, st.url)
	if ferr != nil {
		if ferr.kind == kNotFound || ferr.kind == kFatal && ctx.Err() == nil {
			msg := cannotList(mirror, "tarball", ferr.cause)
			s.log.Warn().Str("url", urlString(st.url)).Msg(msg)
			return nil, &fetchError{kind: kNotFound, url: urlString(st.url), cause: "cannot list versions of the tarball layout (no autoindex: " + ferr.cause + ")", err: ferr}
		}
		return nil, ferr
	}
	type cand struct {
		version, name   string
		archNamed, zstd bool
	}
	best := map[string]cand{}
	for _, e := range es {
		if e.Dir {
			continue
		}
		v, a, ok := tarballName(e.Name)
		if !ok || a != "" && a != s.arch {
			continue
		}
		zstd := strings.HasSuffix(e.Name, ".tar.zst")
		// Per version: an arch-named name over the arch-less one, and of
		// those zstd over gzip.
		if c, seen := best[v]; seen && (c.archNamed && a == "" || c.archNamed == (a != "") && (c.zstd || !zstd)) {
			continue
		}
		best[v] = cand{version: v, name: e.Name, archNamed: a != "", zstd: zstd}
	}
	var cands []cand
	for _, c := range best {
		cands = append(cands, c)
	}
	sort.Slice(cands, func(i, j int) bool { return slurmver.Compare(cands[i].version, cands[j].version) > 0 })
	var skipped []skip
	for _, c := range cands {
		ok, why := s.accepts(c.version)
		if !ok {
			if slurmver.Matches(s.version, c.version) {
				s.log.Info().Str("url", urlString(st.url)).Str("version", c.version).Msg("skipping " + c.version + ": " + why)
				skipped = append(skipped, skip{Version: c.version, Reason: why})
			}
			continue
		}
		s.log.Info().Str("url", urlString(st.url)).Str("version", c.version).Str("file", c.name).
			Msgf("the listing's newest bundle of %s for %s is %s", s.selection(), s.arch, c.version)
		return s.fetchFile(ctx, step{kind: stepFile, url: child(st.url, c.name, false), layout: bundle.LayoutTarball, version: c.version}, nil)
	}
	if len(skipped) > 0 {
		fe := s.unrunnable(st.url, skipped)
		fe.cause = strings.Replace(fe.cause, "the index's bundles", "the listed bundles", 1)
		return nil, fe
	}
	return nil, notFound(st.url, fmt.Sprintf("the listing has no bundle of %s for %s", s.selection(), s.arch))
}

// unrunnable is the failure of a mirror whose index has bundles for the
// selector but none that can run in the root.
func (s *session) unrunnable(u *url.URL, skipped []skip) *fetchError {
	var parts []string
	for _, sk := range skipped {
		parts = append(parts, sk.Version+": "+sk.Reason)
	}
	return &fetchError{kind: kUnrunnable, url: urlString(u),
		cause: fmt.Sprintf("none of the index's bundles of %s for %s can run in this root (%s)", s.selection(), s.arch, strings.Join(parts, "; "))}
}

// Candidates lists, newest first, the versions of the bundles for o.Arch
// that can run in the root o describes (see Options.RootGlibc; Accept and
// Version are ignored: every version is a candidate), from the first
// mirror that can list them: its index (signature checked when
// RequireSignedIndex), else an autoindex listing of its tarball layout.
// Skipped bundles are logged with the reason. It is how the installer,
// asked for the version the cluster runs, finds what to probe when no
// installed client can ask the controller. Mirrors are asked one after the
// other, each step bounded by Options.Timeout, the whole by
// Options.Deadline. An empty list with a nil error means no mirror could
// list a candidate.
func Candidates(ctx context.Context, o Options) ([]string, error) {
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
	for _, raw := range o.Mirrors {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		m, err := planMirrorFor(raw, "latest", s.arch, true)
		if err != nil {
			return nil, err
		}
		if m.direct || m.refuse != nil {
			continue
		}
		mg := &mirrorGo{session: s, dir: m.fileRoot}
		var vs []string
		var cause string
		for _, st := range m.steps {
			switch st.kind {
			case stepIndex:
				vs, cause = mg.indexCandidates(ctx, st)
			case stepList:
				if s.o.RequireSignedIndex && s.want == "" {
					continue
				}
				vs, cause = mg.listCandidates(ctx, st)
			default:
				continue
			}
			if len(vs) > 0 {
				return vs, nil
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("listing the candidate bundles: %w", err)
			}
			if cause != "" {
				s.log.Info().Str("mirror", m.name).Str("url", urlString(st.url)).Str("cause", cause).Msg("no candidates here")
			}
		}
	}
	return nil, nil
}

// indexCandidates is Candidates for one index.
func (s *mirrorGo) indexCandidates(ctx context.Context, st step) ([]string, string) {
	data, _, ferr := s.readSmall(ctx, st.url, maxIndexFile)
	if ferr != nil {
		return nil, ferr.cause
	}
	if s.o.RequireSignedIndex {
		if ferr := s.verifyIndex(ctx, st.url, data); ferr != nil {
			return nil, ferr.cause
		}
	}
	idx, err := index.Parse(data)
	if err != nil {
		return nil, err.Error()
	}
	if s.o.AcceptIndex != nil {
		if err := s.o.AcceptIndex(idx); err != nil {
			return nil, Redact(err.Error())
		}
	}
	var out []string
	seen := map[string]bool{}
	rest := *idx
	rest.Latest = nil
	rest.Bundles = nil
	for _, b := range idx.Bundles { // the publisher's latest pointer caps the candidates
		if na, _ := platform.Normalize(b.Arch); na == s.arch {
			if l := idx.LatestFor(s.arch); l == "" || slurmver.Compare(b.Version, l) <= 0 {
				rest.Bundles = append(rest.Bundles, b)
			}
		}
	}
	for {
		b, skipped, _ := selectBundle(&rest, "latest", s.arch, &s.o)
		for _, sk := range skipped {
			if !seen[sk.Version] {
				seen[sk.Version] = true
				s.log.Info().Str("index", urlString(st.url)).Str("version", sk.Version).Msg("skipping " + sk.Version + ": " + sk.Reason)
			}
		}
		if b == nil {
			break
		}
		out = append(out, b.Version)
		// Take b out and ask again: the next newest that runs.
		var keep []index.Bundle
		for _, x := range rest.Bundles {
			if x.Version != b.Version {
				keep = append(keep, x)
			}
		}
		rest.Bundles = keep
	}
	if len(out) == 0 {
		return nil, "the index has no bundle for " + s.arch + " that can run in this root"
	}
	return out, ""
}

// listCandidates is Candidates for the tarball layout's listing.
func (s *mirrorGo) listCandidates(ctx context.Context, st step) ([]string, string) {
	es, ferr := s.list(ctx, st.url)
	if ferr != nil {
		return nil, "cannot list versions of the tarball layout (no autoindex: " + ferr.cause + ")"
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range es {
		v, a, ok := tarballName(e.Name)
		if e.Dir || !ok || a != "" && a != s.arch || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return slurmver.Compare(out[i], out[j]) > 0 })
	return out, "the listing has no bundle for " + s.arch
}
