package fetch

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/slurmver"
	"slurm-installer/oci"
)

// Defaults for zero Options fields.
const (
	defaultTimeout    = 30 * time.Second
	defaultConnect    = 5 * time.Second
	DefaultRaceDelay  = 300 * time.Millisecond
	defaultMaxBytes   = 2 << 30
	defaultMinBackoff = 500 * time.Millisecond
	defaultMaxBackoff = 10 * time.Second
)

// Options says what to fetch, from where, and within which bounds.
type Options struct {
	Mirrors []string      // ordered; each a base URL (http://, https://, file://) or a direct artifact URL
	Version string        // "latest" (also when empty) or e.g. "22.05.8"
	Arch    string        // canonical (x86_64|aarch64); other spellings are normalized
	SHA256  string        // the digest the operator pinned (hex), optional; wins over published ones
	Timeout time.Duration // per request: wait for response headers; 0 = DefaultTimeout
	Connect time.Duration // per connection: TCP connect and TLS handshake; 0 = DefaultConnect
	Stall   time.Duration // a body that brings no bytes for this long is cut and resumed; 0 = Timeout
	// RaceDelay: when the newest mirror has not answered with headers
	// within it, the next mirror starts as well; 0 = DefaultRaceDelay, < 0 = never race (strictly one at a time).
	RaceDelay time.Duration
	Deadline  time.Duration // whole run; 0 = none
	// HedgeGrace is how long a bundle download runs before its rate is
	// judged for hedging (see the package comment); 0 = 2s, < 0 = never hedge.
	HedgeGrace time.Duration
	Retries    int    // extra attempts per URL on retryable failures (the CLI's default is 2); < 0 = 0
	TempDir    string // where downloads are written (caller cleans up via Artifact.Cleanup); "" = os.TempDir()
	MaxBytes   int64  // cap on any single download (0 = DefaultMaxBytes); the index's size caps further
	Log        zerolog.Logger

	RootCAs *x509.CertPool // CAs trusted for TLS (the system's plus an internal HTTPS AppHub's); nil = the system's
	// RegistryAuthFile is a containers-auth.json whose credentials registry
	// mirrors use before the Docker config's (oci.ClientOptions.AuthFile).
	RegistryAuthFile string
	Progress         ProgressMode // how a bundle download reports its progress
	ProgressOut      io.Writer    // where ProgressLive draws (nil = os.Stderr)

	HTTPClient *http.Client  // optional, for tests; its transport should bound connects itself
	MinBackoff time.Duration // retry n waits n × [MinBackoff/2, MinBackoff] (go-retryablehttp's linear jitter); 0 = DefaultMinBackoff
	MaxBackoff time.Duration // cap on a retry wait (0 = DefaultMaxBackoff); Retry-After may ask for more (up to 5 min), never past the deadline

	// RequireSignedIndex makes the bundle come only from an index whose
	// signature (pkgs/slurm/index.json.minisig beside index.json) passes
	// IndexVerifier; the sha256 is then the one the verified index names.
	// A missing signature, a missing verifier or a failed verification is
	// an integrity failure of that mirror. The tarball and tree layouts and
	// direct URLs are used only when SHA256 pins the bytes.
	RequireSignedIndex bool
	IndexVerifier      func(index, sig []byte) error
	// AcceptIndex, when set, judges every index a mirror serves once it is
	// parsed (and, with RequireSignedIndex, its signature verified), before
	// anything it names is downloaded: an error makes that index a fault
	// of that mirror (an integrity failure: logged, the next mirror is
	// tried; the run fails with class Integrity only when no mirror has an
	// acceptable index). The installer passes its rollback rule here: a
	// serial lower than the last one the receipt saw.
	AcceptIndex func(*index.Index) error
	// RequireChecksum refuses bytes nothing vouches for (Verification
	// "none"): a mirror that publishes no checksum is then an integrity
	// failure of that mirror, and the run moves on.
	RequireChecksum bool

	// What the root can run, for choosing among the bundles an index
	// lists (docs/DESIGN.md §9; Version may also be a series, "22.05", the
	// newest 22.05.x): a bundle whose glibc need is above RootGlibc is
	// skipped (logged with the reason); a self-contained one runs
	// whatever the root's glibc, but only at the Prefix it was packed
	// for; in a musl root (Libc "musl") a plain glibc bundle is taken
	// only when nothing surely runnable is there (gcompat might carry
	// it: preflight decides). Empty fields judge nothing.
	RootGlibc     string      // the root's glibc version, "2.36"; "" when it has none or it is unknown
	RootGlibcFile string      // the in-root file it was read from, for the skip reasons
	Libc          bundle.Libc // the root's C library ("" when not known)
	Prefix        string      // where the client is installed
	// Accept, when set, narrows the selection further: a non-empty reason
	// rejects a version (the installer passes the controller's protocol
	// window when asked for the version the cluster runs). With Version "latest" it makes the
	// tarball layout list its versions instead of taking the latest name.
	Accept func(version string) string
	// Selector is what the caller was asked for, for messages when it
	// differs from Version ("cluster" resolves to latest plus Accept).
	Selector string
}

// Artifact is a downloaded and verified bundle.
type Artifact struct {
	Path           string // local archive file, or a directory for the tree layout
	Tree           bool   // Path is a directory holding bin/, lib/, VERSION (tree layout)
	Name           string // artifact file name (format identification by extension)
	URL            string // where it came from
	Mirror         string // the mirror entry that served it
	Layout         bundle.Layout
	SHA256         string              // hex digest of the archive (tree: digest of its SHA256SUMS content, or of the canonical manifest)
	ChecksumSource string              // "pinned digest", "sidecar <url>", "SHA256SUMS <url>", "index <url>", "none published"
	Verification   bundle.Verification // how the bytes were verified
	Origin         string              // the URL the bytes came from originally (for a cached bundle, where it was downloaded); redacted
	Version        string              // version if known (from index, URL or the tree's VERSION file)
	Size           int64               // bytes downloaded (tree: sum of its files)
	IndexSerial    int64               // serial of the index that named the bundle (Layout "index"), else 0
	// DownloadStarted and DownloadDone bound the winning download of the
	// archive (hashed as it streams); before it the mirror and layout were
	// resolved, after it the digest was looked up and compared. Zero when
	// not measured (a tree, a registry).
	DownloadStarted, DownloadDone time.Time
	IndexExpires                  time.Time // expiry of that index, zero if none
	IndexSigned                   bool      // that index's signature passed Options.IndexVerifier
	Cleanup                       func()    // removes Path; safe to call more than once
}

// How an artifact's bytes were verified (Artifact.Verification), for the
// receipt, status, verify and the JSON output.
const (
	VerifiedPinned      = bundle.Pinned      // the digest the operator pinned (Options.SHA256)
	VerifiedSignedIndex = bundle.SignedIndex // the digest of an index whose signature the pinned key verified
	VerifiedIndex       = bundle.Index       // the digest of an unsigned index
	VerifiedSidecar     = bundle.Sidecar     // <artifact>.sha256 beside it (for latest: the versioned name's)
	VerifiedSHA256SUMS  = bundle.SHA256SUMS  // SHA256SUMS beside it (tree: in its directory)
	VerifiedLayerDigest = bundle.LayerDigest // a registry's layer digest (its manifest names the bytes by sha256)
	VerifiedNone        = bundle.None        // nothing vouches for the bytes
)

// checksumPinned is the Artifact.ChecksumSource of bytes verified against
// the digest the operator pinned.
const checksumPinned = "pinned digest"

// ArchiveSuffixes are the file name endings that make a mirror entry a
// direct artifact URL.
var ArchiveSuffixes = bundle.ArchiveSuffixes()

func hasArchiveSuffix(p string) bool { return bundle.CompressionOf(p) != "" }

// Fetch downloads and verifies the bundle for o.Version and o.Arch from the
// first mirror that serves it (see the package comment for the order and
// the guarantees).
func Fetch(ctx context.Context, o Options) (*Artifact, error) {
	s, mirrors, err := newSession(o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	parent := ctx
	if o.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Deadline)
		defer cancel()
	}

	r := &racer{s: s, parent: parent, ms: mirrors, results: make(chan goResult), nudge: make(chan struct{}, 1)}
	return r.race(ctx)
}

// mirror is one entry of Options.Mirrors with its resolution plan and
// retry state.
type mirror struct {
	raw       string // as given: may hold a password, used for requests only
	name      string // raw, redacted: for every log line, error and result
	direct    bool
	steps     []step
	next      int // the step to try next
	attempts  int // failed attempts at steps[next]
	state     mirrorState
	notBefore time.Time
	cause     *fetchError
	started   bool
	refuse    *fetchError // set when the mirror cannot serve under the options (a direct URL when a signed index is required)
	fileRoot  string      // file:// mirrors: the directory every read is confined to
}

type mirrorState int

const (
	statePending mirrorState = iota // not started yet (or preempted: start again)
	stateRunning
	stateRetry
	stateDone
)

type stepKind int

const (
	stepFile  stepKind = iota // an archive: direct or tarball layout
	stepIndex                 // B/pkgs/slurm/index.json
	stepTree                  // B/pkgs/slurm-binaries/{A}/
	stepList                  // B/pkgs/slurm-apk/ listed by autoindex, for a series (select.go)
)

type step struct {
	kind    stepKind
	url     *url.URL
	layout  bundle.Layout
	version string // known version, "" if not
}

func nextDue(ms []*mirror) *mirror {
	var best *mirror
	for _, m := range ms {
		if m.state == stateRetry && (best == nil || m.notBefore.Before(best.notBefore)) {
			best = m
		}
	}
	return best
}

// runMirror tries m's steps from where it left off, as the racer's go g. A
// step answered with "not here" moves on to the next step; any other
// failure ends this go at the mirror.
func (s *session) runMirror(ctx context.Context, m *mirror, g *run) (*Artifact, *fetchError) {
	if m.refuse != nil {
		return nil, m.refuse
	}
	mg := &mirrorGo{session: s, g: g, dir: m.fileRoot}
	var notFound []*fetchError
	unrunnable := false
	for m.next < len(m.steps) {
		st := m.steps[m.next]
		art, err := sources[st.kind].get(ctx, mg, m, st) // source.go
		if err == nil {
			art.Mirror = m.name
			return art, nil
		}
		if err.kind == kUnrunnable && st.kind != stepIndex {
			unrunnable = true // a listed layout had nothing that runs: its other layouts may
		} else if err.kind != kNotFound {
			if m.next > 0 && len(notFound) > 0 {
				s.log.Debug().Str("mirror", m.name).Msg("earlier layouts on this mirror were not found")
			}
			return nil, err
		}
		s.log.Debug().Str("mirror", m.name).Str("url", err.url).Str("cause", err.cause).Msg("not on this mirror; trying the next layout")
		notFound = append(notFound, err)
		m.next++
		m.attempts = 0
	}
	if len(notFound) == 1 {
		return nil, notFound[0]
	}
	var names []string
	for _, e := range notFound {
		names = append(names, e.short())
	}
	k := kNotFound
	if unrunnable {
		k = kUnrunnable
	}
	return nil, &fetchError{kind: k, url: m.name, cause: "not found (" + strings.Join(names, ", ") + ")"}
}

// settle records a failed go at m, logs it, and schedules a retry when the
// failure is retryable and attempts are left.
func (s *session) settle(ctx context.Context, m *mirror, err *fetchError, more bool) {
	m.cause = err
	m.state = stateDone
	ev := s.log.Warn()
	if err.kind == kNotFound {
		ev = s.log.Info()
	}
	ev = ev.Str("mirror", m.name).Str("url", err.url).Int("attempt", m.attempts+1).Str("cause", err.cause)
	next := "giving up on this mirror"
	if err.kind == kRetry && m.attempts < s.retries && ctx.Err() == nil {
		wait, ok := s.retryWait(ctx, m.attempts+1, err)
		switch {
		case !ok:
			next = fmt.Sprintf("giving up on this mirror: a retry in %s would pass the deadline", wait.Round(time.Millisecond))
			s.outOfTime = true
		default:
			m.attempts++
			m.state = stateRetry
			m.notBefore = time.Now().Add(wait)
			next = fmt.Sprintf("retrying in %s", wait.Round(time.Millisecond))
		}
	}
	if m.state == stateDone && err.kind == kRetry && ctx.Err() == nil && !s.o.RequireSignedIndex &&
		m.next < len(m.steps)-1 && m.steps[m.next].kind == stepIndex {
		// The index is optional: a mirror that keeps failing on it (an
		// nginx restarting) may still serve the bundle itself.
		m.next++
		m.attempts = 0
		m.state = stateRetry
		m.notBefore = time.Now().Add(s.minBackoff / 2)
		next = "skipping its index; trying the bundle's own layouts"
	}
	if more {
		next = "trying next mirror; " + next
	}
	ev.Str("next", next).Msg("mirror failed")
}

// finalError sums up why no mirror served the bundle, with the class of
// the worst failure: integrity over archive (size) over download. It lists
// each mirror's cause (redacted) and wraps them all, so errors.Is finds
// context.DeadlineExceeded when the deadline cut a go short. claimer is the
// go that held the download when the run ended, if any.
func (s *session) finalError(ctx context.Context, ms []*mirror, claimer *run) error {
	class := failure.Download
	var parts []string
	var causes []error
	for _, m := range ms {
		var c string
		switch {
		case m.cause != nil:
			c = m.cause.short()
			switch {
			case m.cause.kind == kIntegrity:
				class = failure.Integrity
			case m.cause.kind == kUnrunnable && class != failure.Integrity:
				class = failure.Verify
			case (m.cause.kind == kOversize || m.cause.kind == kBadArchive) && class == failure.Download:
				class = failure.Archive
			}
			if m.cause.url != m.name && !strings.HasPrefix(c, m.cause.url) {
				c = m.cause.url + ": " + c
			}
			if !errors.Is(m.cause, context.Canceled) {
				causes = append(causes, m.cause)
			}
		case claimer != nil && claimer.m == m:
			c = "still downloading when the deadline passed"
		case m.state == stateRunning:
			c = "still waiting for an answer when the deadline passed"
		case m.started:
			c = "waiting to retry when the deadline passed"
		default:
			c = "not tried before the deadline"
		}
		parts = append(parts, m.name+" → "+c)
	}
	if err := ctx.Err(); err != nil {
		causes = append(causes, err)
	}
	what := fmt.Sprintf("SLURM client %s for %s", s.version, s.arch)
	if sel := s.o.Selector; sel != "" && sel != s.version {
		what = fmt.Sprintf("a SLURM client for %s (%s)", s.arch, s.selection())
	}
	all := &mirrorErrors{msg: Redact(strings.Join(parts, "; ")), errs: causes}
	var e *failure.Error
	switch class {
	case failure.Integrity:
		adv := failure.Hints{Hint: "a mirror served bytes that do not match their checksum (corrupt or tampered): fix or re-publish the bundle and its checksum on the mirror",
			Fix: []failure.Remedy{{Step: failure.PinDigest}}}
		for _, m := range ms {
			if m.cause != nil && m.cause.kind == kIntegrity && m.cause.Advised() {
				adv = m.cause.advice()
				break
			}
		}
		e = failure.New(class, "no mirror served a verified %s: %w", what, all).Carry(adv)
	case failure.Verify:
		root := "the root's"
		if s.o.RootGlibc != "" {
			root += " (" + s.o.RootGlibc + ")"
		}
		hint := fmt.Sprintf("publish a bundle built on a distro whose glibc is no newer than %s; or build the image on a newer distro", root)
		fix := []failure.Remedy{{Step: failure.PackSelfContained}, {Step: failure.OtherVersion}}
		if strings.Contains(all.msg, packedFor) {
			hint += "; a self-contained bundle installs only at the prefix it was packed for"
			fix = append(fix, failure.Remedy{Step: failure.UsePackedPrefix})
		}
		all.errs = append(all.errs, ErrNoBundleRuns)
		e = failure.New(class, "no bundle of %s for %s can run in this root: %w", s.selection(), s.arch, all).Advise(hint, fix)
	case failure.Archive:
		adv := failure.Hints{Hint: "fix the mirror", Fix: []failure.Remedy{{Step: failure.RaiseMaxSize}}}
		for _, m := range ms {
			if m.cause != nil && m.cause.kind == kBadArchive {
				adv = m.cause.advice()
			}
		}
		e = failure.New(class, "no mirror served a usable archive of %s (within the size limits): %w", what, all).Carry(adv)
	default:
		when := ""
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || s.outOfTime {
			when = " within the deadline"
			if s.deadline > 0 {
				when += fmt.Sprintf(" (%s)", s.deadline)
			}
		} else if ctx.Err() != nil {
			when = " before the run was interrupted"
		}
		for _, m := range ms {
			if m.cause != nil && m.cause.Advised() {
				return failure.New(class, "no mirror served %s%s: %w", what, when, all).Carry(m.cause.advice())
			}
		}
		if s.listing() {
			return failure.New(class, "no mirror served %s%s: %w", what, when, all).
				WithHint("a series is resolved from pkgs/slurm/index.json, or from an autoindex listing of pkgs/slurm-apk/ (slurm-client-<version>-%s-alpine.tar.gz) or the VERSION of pkgs/slurm-binaries/%s/; "+
					"a mirror that cannot list serves only an exact version; check that the mirrors are reachable", s.arch, s.arch).
				Suggest(failure.ExactVersion).Suggest(failure.CheckSelection)
		}
		e = failure.New(class, "no mirror served %s%s: %w", what, when, all).
			WithHint("check that the mirrors are reachable from here and serve pkgs/slurm-apk/slurm-client-%s-%s-alpine.tar.gz (or pkgs/slurm/index.json, or a tree under pkgs/slurm-binaries/%s/)",
				s.version, s.arch, s.arch).
			Suggest(failure.CheckSelection).Suggest(failure.RaiseTimeouts)
	}
	return e
}

// mirrorErrors is the list of every mirror's failure: its text is the
// summary, and it unwraps to each cause.
type mirrorErrors struct {
	msg  string
	errs []error
}

func (e *mirrorErrors) Error() string   { return e.msg }
func (e *mirrorErrors) Unwrap() []error { return e.errs }

// planMirrors parses the mirror list into resolution plans; a bad entry is
// a usage error.
func planMirrors(raw []string, version, arch string, listing bool) ([]*mirror, error) {
	var out []*mirror
	for _, r := range raw {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		m, err := planMirrorFor(r, version, arch, listing)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, failure.New(failure.Usage, "no mirrors given").Suggest(failure.GiveMirrors)
	}
	return out, nil
}

func parseMirrorURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, password and all.
		err = errors.New(Redact(strings.TrimPrefix(err.Error(), "parse ")))
	}
	raw = Redact(raw) // only ever shown from here on
	hint := "mirrors are http://, https:// or file:// base URLs, direct artifact URLs ending in " + strings.Join(ArchiveSuffixes, " ") + ", or oci://HOST/REPO registries"
	if err != nil {
		return nil, failure.New(failure.Usage, "bad mirror URL %q: %w", raw, err).WithHint("%s", hint)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, failure.New(failure.Usage, "bad mirror URL %q: no host", raw).WithHint("%s", hint)
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, failure.New(failure.Usage, "bad mirror URL %q: file URLs take an absolute path (file:///srv/apphub), not host %q", raw, u.Host).WithHint("%s", hint)
		}
		if !path.IsAbs(u.Path) {
			return nil, failure.New(failure.Usage, "bad mirror URL %q: file URLs need an absolute path", raw).WithHint("%s", hint)
		}
	case "":
		return nil, failure.New(failure.Usage, "bad mirror URL %q: no scheme", raw).WithHint("%s", hint)
	default:
		return nil, failure.New(failure.Usage, "bad mirror URL %q: unsupported scheme %q", raw, u.Scheme).WithHint("%s", hint)
	}
	if u.Opaque != "" {
		return nil, failure.New(failure.Usage, "bad mirror URL %q", raw).WithHint("%s", hint)
	}
	return u, nil
}

func planMirror(raw, version, arch string) (*mirror, error) {
	return planMirrorFor(raw, version, arch, false)
}

// planMirrorFor plans one mirror; listing replaces the tarball layout's
// versioned names with a listing of pkgs/slurm-apk/ (a series).
func planMirrorFor(raw, version, arch string, listing bool) (*mirror, error) {
	if oci.IsRef(raw) {
		return planOCI(raw) // oci.go
	}
	m := &mirror{raw: raw, name: Redact(raw)}
	probe := strings.NewReplacer("{version}", "v", "{arch}", "a").Replace(raw)
	pu, err := parseMirrorURL(probe)
	if err != nil {
		return nil, err
	}
	if hasArchiveSuffix(pu.Path) {
		m.direct = true
		if listing && strings.Contains(raw, "{version}") {
			m.refuse = &fetchError{kind: kNotFound, url: m.name,
				cause: fmt.Sprintf("mirror %s: cannot list versions through a direct URL", m.name)}
		}
		spellings := []string{arch}
		if strings.Contains(raw, "{arch}") {
			spellings = platform.Aliases(arch)
		}
		seen := map[string]bool{}
		for _, a := range spellings {
			s := strings.NewReplacer("{version}", version, "{arch}", a).Replace(raw)
			if seen[s] {
				continue
			}
			seen[s] = true
			u, err := parseMirrorURL(s)
			if err != nil {
				return nil, err
			}
			v := ""
			if strings.Contains(raw, "{version}") && version != "latest" {
				v = version
			}
			m.steps = append(m.steps, step{kind: stepFile, url: u, layout: "direct", version: v})
			if u.Scheme == "file" {
				m.fileRoot = path.Dir(path.Clean(u.Path))
			}
		}
		return m, nil
	}
	base, err := parseMirrorURL(raw)
	if err != nil {
		return nil, err
	}
	base.RawQuery, base.Fragment = "", ""
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
		if base.RawPath != "" {
			base.RawPath += "/"
		}
	}
	if base.Scheme == "file" {
		m.fileRoot = path.Clean(base.Path)
	}
	rel := func(p string) *url.URL { return base.ResolveReference(&url.URL{Path: p}) }
	v := version
	if v == "latest" {
		v = ""
	}
	m.steps = append(m.steps, step{kind: stepIndex, url: rel("pkgs/slurm/index.json"), layout: "index"})
	if listing {
		m.steps = append(m.steps, step{kind: stepList, url: rel("pkgs/slurm-apk/"), layout: "tarball"})
	}
	if !listing {
		// pack writes a zstd bundle under the canonical arch only, beside
		// the gzip names: asked first, it costs a gzip-only mirror one 404.
		m.steps = append(m.steps, step{kind: stepFile, url: rel("pkgs/slurm-apk/slurm-client-" + version + "-" + arch + "-alpine.tar.zst"), layout: "tarball", version: v})
	}
	for _, a := range platform.Aliases(arch) {
		if listing {
			break
		}
		m.steps = append(m.steps, step{kind: stepFile, url: rel("pkgs/slurm-apk/slurm-client-" + version + "-" + a + "-alpine.tar.gz"), layout: "tarball", version: v})
	}
	if !listing {
		m.steps = append(m.steps, step{kind: stepFile, url: rel("pkgs/slurm-apk/slurm-client-" + version + "-alpine.tar.gz"), layout: "tarball", version: v})
	}
	for _, a := range platform.Aliases(arch) {
		m.steps = append(m.steps, step{kind: stepTree, url: rel("pkgs/slurm-binaries/" + a + "/"), layout: "tree"})
	}
	return m, nil
}

func validVersion(s string) bool { return index.ValidVersion(s) }

func newSession(o Options) (*session, []*mirror, error) {
	version := strings.TrimSpace(o.Version)
	if version == "" {
		version = "latest"
	}
	if !validVersion(version) {
		return nil, nil, failure.New(failure.Usage, "bad SLURM version %q", o.Version).WithHint("use a version like 22.05.8, a series like 22.05, or latest")
	}
	arch, err := platform.Normalize(o.Arch)
	if err != nil {
		return nil, nil, failure.New(failure.Usage, "%w", err)
	}
	want := ""
	if o.SHA256 != "" {
		d, err := bundle.ParseDigest(o.SHA256)
		want = string(d)
		if err != nil {
			return nil, nil, failure.New(failure.Usage, "the pinned digest %q is not a SHA-256 digest (64 hex digits)", o.SHA256).
				WithHint("give the digest as sha256sum prints it")
		}
	}
	k := slurmver.KindOf(version)
	if k == slurmver.Cluster {
		return nil, nil, failure.New(failure.Internal, "the version selector %q must be resolved before fetch (Options.Accept)", version)
	}
	mirrors, err := planMirrors(o.Mirrors, version, arch, k == slurmver.Series || k == slurmver.Latest && o.Accept != nil)
	if err != nil {
		return nil, nil, err
	}
	if o.RequireSignedIndex && o.IndexVerifier == nil {
		return nil, nil, failure.New(failure.Internal, "a signed index is required but no index verifier was set")
	}
	if o.RequireSignedIndex && want == "" {
		// Only a verified index may name the bytes: drop every other layout.
		for _, m := range mirrors {
			if m.direct {
				m.refuse = &fetchError{kind: kIntegrity, url: m.name,
					cause: "a direct URL carries no signed index",
					Hints: failure.Hints{Hint: "a key is pinned, so the bundle must come from a signed pkgs/slurm/index.json: give the mirror's base URL",
						Fix: []failure.Remedy{{Step: failure.PinDigest}}}}
				continue
			}
			m.steps = m.steps[:1]
		}
	}
	s := &session{
		o: o, log: o.Log, version: version, arch: arch, want: want,
		timeout: o.Timeout, retries: max(o.Retries, 0), maxBytes: o.MaxBytes, tempDir: o.TempDir,
		minBackoff: o.MinBackoff, maxBackoff: o.MaxBackoff, deadline: o.Deadline,
	}
	s.applyDefaults()
	s.client = newClient(o.HTTPClient, s.connect, s.timeout, o.RootCAs)
	return s, mirrors, nil
}

// applyDefaults fills the session's zero options with the defaults.
func (s *session) applyDefaults() {
	o := s.o
	if s.timeout <= 0 {
		s.timeout = defaultTimeout
	}
	if s.maxBytes <= 0 {
		s.maxBytes = defaultMaxBytes
	}
	if s.tempDir == "" {
		s.tempDir = os.TempDir()
	}
	if s.minBackoff <= 0 {
		s.minBackoff = defaultMinBackoff
	}
	if s.maxBackoff <= 0 {
		s.maxBackoff = defaultMaxBackoff
	}
	s.maxBackoff = max(s.maxBackoff, s.minBackoff)
	s.connect = o.Connect
	if s.connect <= 0 {
		s.connect = defaultConnect
	}
	s.stall = o.Stall
	if s.stall <= 0 {
		s.stall = s.timeout
	}
	s.hedgeGrace = o.HedgeGrace
	switch {
	case s.hedgeGrace == 0:
		s.hedgeGrace = hedgeGrace
	case s.hedgeGrace < 0:
		s.hedgeGrace = 1<<62 - 1 // never hedge
	}
	s.raceDelay = o.RaceDelay
	switch {
	case s.raceDelay == 0:
		s.raceDelay = DefaultRaceDelay
	case s.raceDelay < 0:
		s.raceDelay = 1<<62 - 1
	}
}
