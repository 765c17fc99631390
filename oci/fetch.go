package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/httpx"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/slurmver"
)

// Defaults for zero Options fields.
const (
	defaultMaxBytes = 2 << 30
	defaultStall    = 30 * time.Second
	defaultResumes  = 3
	maxManifest     = 4 << 20
)

// Options says what to fetch from which registry mirror.
type Options struct {
	Ref      string // oci://HOST/REPO
	Version  string // "latest" (also when empty), an exact version (22.05.8) or a series (22.05: newest 22.05.x)
	Arch     string // any spelling (x86_64 ≡ amd64, aarch64 ≡ arm64)
	SHA256   string // the pinned digest, optional: must equal the layer digest
	MaxBytes int64  // cap on the layer, checked against its descriptor before download (0 = 2 GiB)
	TempDir  string // where the download is written ("" = os.TempDir()); Result.Cleanup removes it
	Client   ClientOptions
	Stall    time.Duration // a body with no bytes for this long is cut and resumed (0 = 30s)
	Resumes  int           // how often a cut download is resumed (with Range where the registry allows); 0 = 3, < 0 = never
	// Claim, when set, is called with the layer's size when its response
	// headers arrive (200 or 206) and before a byte of it is read; false
	// means another mirror won the race and Fetch returns a KindPreempted
	// error.
	Claim func(size int64) bool
	// Accept, when set, judges a bundle by its config before its layer is
	// downloaded: "" takes it, anything else is the reason it cannot run in
	// the root (a glibc too new, a version outside the controller's
	// window). For latest and a series the newest accepted tag is taken
	// and each newer one passed over is logged; an exact version it
	// refuses is a KindUnrunnable error.
	Accept func(Config) string
	Log    zerolog.Logger
}

// Result is a downloaded and verified bundle, shaped like fetch.Artifact.
type Result struct {
	Path     string // local archive file (name ends in .tar.gz, or .tar.zst for a zstd layer)
	Name     string // artifact file name
	URL      string // oci://HOST/REPO:TAG@MANIFEST-DIGEST (no credentials)
	Mirror   string // oci://HOST/REPO
	Tag      string // the tag it was resolved from
	Manifest string // manifest digest
	SHA256   string // hex digest of the archive (= layer digest, verified)
	// ChecksumSource: "pinned digest" when pinned (as fetch records it),
	// else "oci layer digest <URL>".
	ChecksumSource string
	Version        string
	Arch           string // canonical
	Size           int64
	Config         Config
	Resumed        int // how many times the download was resumed with Range
	Cleanup        func()
}

// Fetch resolves the selector to a tag, checks the manifest, its config and
// the layer's descriptor, and downloads the layer to a temp file whose
// sha256 it verifies against the layer digest.
func Fetch(ctx context.Context, o Options) (res *Result, err error) {
	if o.Stall <= 0 {
		o.Stall = defaultStall
	}
	if o.Client.Stall == 0 {
		o.Client.Stall = o.Stall // every answer, not only the layer
	}
	switch {
	case o.Resumes == 0:
		o.Resumes = defaultResumes
	case o.Resumes < 0:
		o.Resumes = 0
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	c, err := choose(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer closeIdle(c.hc)
	r, repo, log, layer, cfg, arch := c.ref, c.repo, c.log, c.layer, &c.Config, c.arch
	tag, mdesc, url, sum := c.Tag, c.manifest, c.URL, c.SHA256
	log.Info().Str("tag", tag).Str("version", cfg.Version).Int64("size", layer.Size).Str("sha256", sum).Msg("registry names a bundle")
	suffix := layerSuffix(layer.MediaType)
	f, err := os.CreateTemp(o.TempDir, ".slurm-oci-*"+suffix)
	if err != nil {
		return nil, newErr(KindLocal, r, err, "create temp file: %v", err)
	}
	path := f.Name()
	cleanup := func() { _ = os.Remove(path) }
	defer func() {
		if err != nil {
			f.Close()
			cleanup()
		}
	}()
	resumed, err := download(ctx, repo, r, layer, f, o, log)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, newErr(KindLocal, r, err, "write temp file: %v", err)
	}
	name := layer.Annotations[ocispec.AnnotationTitle]
	if name == "" || strings.ContainsAny(name, "/\\") || !strings.HasSuffix(name, suffix) {
		name = fmt.Sprintf("slurm-client-%s-%s-alpine%s", cfg.Version, arch, suffix)
	}
	return &Result{Path: path, Name: name, URL: url, Mirror: r.String(), Tag: tag, Manifest: mdesc.Digest.String(),
		SHA256: sum, ChecksumSource: c.ChecksumSource, Version: cfg.Version, Arch: arch, Size: layer.Size, Config: *cfg,
		Resumed: resumed, Cleanup: cleanup}, nil
}

// inspect checks the manifest of tag and its config: a slurm-installer
// bundle of arch whose version matches the selector.
func inspect(ctx context.Context, repo *remote.Repository, r Ref, tag string, man *ocispec.Manifest, version, arch string) (ocispec.Descriptor, *Config, error) {
	layer, err := checkManifest(r, tag, man)
	if err != nil {
		return layer, nil, err
	}
	cfg, err := readConfig(ctx, repo, r, tag, man.Config)
	if err != nil {
		return layer, nil, err
	}
	if a, aerr := platform.Normalize(cfg.Arch); aerr != nil || a != arch {
		return layer, nil, newErr(KindIntegrity, r, nil, "tag %s names a bundle for arch %q, not %s", tag, cfg.Arch, arch)
	}
	if version != "latest" && cfg.Version != version && !strings.HasPrefix(cfg.Version, version+".") {
		return layer, nil, newErr(KindIntegrity, r, nil, "tag %s names version %q, not %s", tag, cfg.Version, version)
	}
	return layer, cfg, nil
}

// selection is one bundle selection in one registry repository: the repository, the selector
// and arch asked for, the judge of a bundle's config (why it cannot run, "" when it can).
type selection struct {
	repo          *remote.Repository
	ref           Ref
	version, arch string
	accept        func(Config) string
	log           zerolog.Logger
}

// olderAccepted is the newest bundle older than first (which accept
// refused for why) that matches the selector and accept takes; without
// walk (an exact version, a pinned digest) there is none to look for.
func olderAccepted(ctx context.Context, sel selection, first *Config, why string, walk bool) (string, ocispec.Descriptor, ocispec.Descriptor, *Config, error) {
	repo, r, version, arch, accept, log := sel.repo, sel.ref, sel.version, sel.arch, sel.accept, sel.log
	none := func(skipped []string) (string, ocispec.Descriptor, ocispec.Descriptor, *Config, error) {
		return "", ocispec.Descriptor{}, ocispec.Descriptor{}, nil, newErr(KindUnrunnable, r, nil, "no bundle of %s for %s can run in this root: %s", version, arch, strings.Join(skipped, "; "))
	}
	log.Info().Str("version", first.Version).Msg("skipping " + first.Version + ": " + why)
	skipped := []string{first.Version + ": " + why}
	if !walk {
		return none(skipped)
	}
	tags, err := olderTags(ctx, repo, r, version, arch, first.Version)
	if err != nil {
		return "", ocispec.Descriptor{}, ocispec.Descriptor{}, nil, err
	}
	for _, tag := range tags {
		mdesc, man, err := fetchManifest(ctx, repo, r, tag)
		if err != nil {
			return "", mdesc, ocispec.Descriptor{}, nil, err
		}
		layer, cfg, err := inspect(ctx, repo, r, tag, man, version, arch)
		if err != nil {
			return "", mdesc, layer, nil, err
		}
		if why := accept(*cfg); why != "" {
			log.Info().Str("version", cfg.Version).Msg("skipping " + cfg.Version + ": " + why)
			skipped = append(skipped, cfg.Version+": "+why)
			continue
		}
		return tag, mdesc, layer, cfg, nil
	}
	return none(skipped)
}

// olderTags lists the <version>-<arch> tags (any spelling of arch) older
// than below that match the selector (latest: any), newest first.
func olderTags(ctx context.Context, repo *remote.Repository, r Ref, sel, arch, below string) ([]string, error) {
	type cand struct{ tag, v string }
	var cands []cand
	err := repo.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			for _, a := range platform.Aliases(arch) {
				v, ok := strings.CutSuffix(t, "-"+a)
				if !ok || !slurmver.Numeric(v) || slurmver.Compare(v, below) >= 0 || sel != "latest" && !strings.HasPrefix(v, sel+".") {
					continue
				}
				cands = append(cands, cand{t, v})
			}
		}
		return nil
	})
	if err != nil {
		return nil, classify(ctx, r, "list tags", err)
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return slurmver.Compare(b.v, a.v) })
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.tag
	}
	return out, nil
}

// resolve finds the tag for the selector: latest-<arch>, <version>-<arch>,
// or for a series the newest <series>.x-<arch> in the tag list; every
// spelling of the arch is tried, canonical first.
func resolve(ctx context.Context, repo *remote.Repository, r Ref, version, arch string, log zerolog.Logger) (string, ocispec.Descriptor, *ocispec.Manifest, error) {
	var tried []string
	var firstErr error
	try := func(tag string) (ocispec.Descriptor, *ocispec.Manifest, error) {
		tried = append(tried, tag)
		d, m, err := fetchManifest(ctx, repo, r, tag)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return d, m, err
	}
	for _, a := range platform.Aliases(arch) {
		tag := versionTag(version, a)
		if version == "latest" {
			tag = latestTag(a)
		}
		d, m, err := try(tag)
		if err == nil {
			return tag, d, m, nil
		}
		if KindOf(err) != KindNotFound || errors.Is(err, ErrUnauthorized) {
			return "", d, nil, err
		}
	}
	if version != "latest" && slurmver.Numeric(version) {
		tag, err := newestInSeries(ctx, repo, r, version, arch)
		if err != nil {
			return "", ocispec.Descriptor{}, nil, err
		}
		if tag != "" {
			log.Info().Str("series", version).Str("tag", tag).Msg("newest tag of the series")
			d, m, err := try(tag)
			return tag, d, m, err
		}
		tried = append(tried, version+".*")
	}
	return "", ocispec.Descriptor{}, nil, newErr(KindNotFound, r, firstErr, "no tag %s", strings.Join(tried, ", "))
}

func fetchManifest(ctx context.Context, repo *remote.Repository, r Ref, tag string) (ocispec.Descriptor, *ocispec.Manifest, error) {
	d, rc, err := repo.Manifests().FetchReference(ctx, tag)
	if err != nil {
		return d, nil, classify(ctx, r, "tag "+tag, err)
	}
	defer rc.Close()
	if d.Size > maxManifest {
		return d, nil, newErr(KindIntegrity, r, nil, "manifest of %s is %d bytes: not a bundle manifest", tag, d.Size)
	}
	data, err := content.ReadAll(rc, d)
	if err != nil {
		return d, nil, readErr(ctx, r, "manifest of "+tag, err)
	}
	if d.MediaType != ocispec.MediaTypeImageManifest {
		return d, nil, newErr(KindIntegrity, r, nil, "tag %s is a %s, not an OCI image manifest of a slurm-installer bundle", tag, d.MediaType)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return d, nil, newErr(KindIntegrity, r, err, "manifest of %s: %v", tag, err)
	}
	return d, &m, nil
}

func readErr(ctx context.Context, r Ref, what string, err error) error {
	if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) {
		return newErr(KindIntegrity, r, err, "%s: %v", what, err)
	}
	return classify(ctx, r, "read "+what, err)
}

// checkManifest returns the bundle layer of a slurm-installer artifact.
func checkManifest(r Ref, tag string, m *ocispec.Manifest) (ocispec.Descriptor, error) {
	if m.Config.MediaType != ConfigMediaType && m.ArtifactType != ArtifactType {
		return ocispec.Descriptor{}, newErr(KindIntegrity, r, nil, "tag %s is not a slurm-installer bundle (artifact type %q, config %q)", tag, m.ArtifactType, m.Config.MediaType)
	}
	var layers []ocispec.Descriptor
	for _, l := range m.Layers {
		if layerSuffix(l.MediaType) != "" {
			layers = append(layers, l)
		}
	}
	if len(layers) != 1 {
		return ocispec.Descriptor{}, newErr(KindIntegrity, r, nil, "tag %s has %d bundle layers (of type %s or %s), want exactly one", tag, len(layers), LayerMediaType, ZstdLayerMediaType)
	}
	l := layers[0]
	if l.Digest.Algorithm() != digest.SHA256 || l.Digest.Validate() != nil {
		return ocispec.Descriptor{}, newErr(KindIntegrity, r, nil, "layer of %s has digest %q: want sha256", tag, l.Digest)
	}
	if l.Size <= 0 {
		return ocispec.Descriptor{}, newErr(KindIntegrity, r, nil, "layer of %s has size %d", tag, l.Size)
	}
	if m.Config.MediaType != ConfigMediaType {
		return ocispec.Descriptor{}, newErr(KindIntegrity, r, nil, "tag %s has config type %q, want %s", tag, m.Config.MediaType, ConfigMediaType)
	}
	return l, nil
}

func readConfig(ctx context.Context, repo *remote.Repository, r Ref, tag string, d ocispec.Descriptor) (*Config, error) {
	if d.Size <= 0 || d.Size > maxConfig {
		return nil, newErr(KindIntegrity, r, nil, "config of %s is %d bytes", tag, d.Size)
	}
	data, err := content.FetchAll(ctx, repo.Blobs(), d)
	if err != nil {
		return nil, readErr(ctx, r, "config of "+tag, err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, newErr(KindIntegrity, r, err, "config of %s: %v", tag, err)
	}
	if c.Schema != 1 {
		return nil, newErr(KindIntegrity, r, nil, "config of %s has schema %d; this installer reads schema 1 (upgrade slurm-installer)", tag, c.Schema)
	}
	if !validTagPart(c.Version) || c.Version == "latest" {
		return nil, newErr(KindIntegrity, r, nil, "config of %s has bad version %q", tag, c.Version)
	}
	return &c, nil
}

// newestInSeries lists the tags and returns the newest <series>.x-<arch>
// (any spelling of arch), or "".
func newestInSeries(ctx context.Context, repo *remote.Repository, r Ref, series, arch string) (string, error) {
	best, bestV := "", ""
	err := repo.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			for _, a := range platform.Aliases(arch) {
				v, ok := strings.CutSuffix(t, "-"+a)
				if !ok || !strings.HasPrefix(v, series+".") || !slurmver.Numeric(v) {
					continue
				}
				if best == "" || slurmver.Compare(v, bestV) > 0 {
					best, bestV = t, v
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", classify(ctx, r, "list tags", err)
	}
	return best, nil
}

// download writes the layer into f through httpx.Download (the one
// resumable downloader): a cut body resumes with Range from where it broke
// (a registry that ignores the range sends it again from the start), and
// the sha256 of what was written is checked against the layer digest.
func download(ctx context.Context, repo *remote.Repository, r Ref, layer ocispec.Descriptor, f *os.File, o Options, log zerolog.Logger) (resumed int, err error) {
	ref := registry.Reference{Registry: r.Host, Repository: r.Repo, Reference: layer.Digest.String()}
	ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionPull)
	scheme := "https"
	if r.PlainHTTP {
		scheme = "http"
	}
	blobURL := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", scheme, r.Host, r.Repo, layer.Digest)
	h := sha256.New()
	d := &httpx.Download{
		Open: func(actx context.Context, from int64, _ string) (*httpx.Part, error) {
			return openLayer(ctx, actx, repo, r, blobURL, from)
		},
		Claim: o.Claim,
		W:     io.MultiWriter(f, h),
		Restart: func() error {
			log.Info().Msg("the registry ignored the range: starting the layer again")
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			h.Reset()
			return f.Truncate(0)
		},
		Limit: layer.Size, Size: layer.Size, Stall: o.Stall, Resumes: o.Resumes,
		Resuming: func(at int64, err error) {
			resumed++
			log.Info().Int64("at", at).Int64("size", layer.Size).Err(err).Msg("download cut; resuming with Range")
		},
	}
	if _, err := d.Run(ctx); err != nil {
		return resumed, layerError(ctx, r, layer, o.Stall, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != layer.Digest.Encoded() {
		e := newErr(KindIntegrity, r, nil, "layer %s: downloaded bytes have sha256 %s", layer.Digest, got)
		e.Hint = "the registry served bytes that do not match the layer digest (corrupt storage or a tampering proxy): fix the registry or use another mirror"
		return resumed, e
	}
	return resumed, nil
}

// openLayer GETs blobURL from byte from under actx (which the downloader
// cancels on a stall); ctx is the caller's, for classifying failures.
func openLayer(ctx, actx context.Context, repo *remote.Repository, r Ref, blobURL string, from int64) (*httpx.Part, error) {
	req, err := http.NewRequestWithContext(actx, http.MethodGet, blobURL, nil)
	if err != nil {
		return nil, newErr(KindFatal, r, err, "blob request: %v", err)
	}
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	}
	resp, err := repo.Client.Do(req)
	if err != nil {
		return nil, classify(ctx, r, "download layer", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return &httpx.Part{Body: resp.Body, Length: resp.ContentLength}, nil
	case http.StatusPartialContent:
		start, ok := httpx.ContentRangeStart(resp.Header.Get("Content-Range"))
		if from == 0 || !ok || start != from {
			resp.Body.Close()
			return nil, newErr(KindFatal, r, nil, "registry answered Range bytes=%d- with Content-Range %q", from, resp.Header.Get("Content-Range"))
		}
		return &httpx.Part{Body: resp.Body, Partial: true, Start: start, Length: resp.ContentLength}, nil
	}
	resp.Body.Close()
	return nil, statusErr(r, "download layer", resp.StatusCode, resp.Header, fmt.Errorf("GET %s: %s", blobURL, resp.Status))
}

// layerError words what httpx.Download returned.
func layerError(ctx context.Context, r Ref, layer ocispec.Descriptor, stall time.Duration, err error) error {
	var fe *failure.Error
	var se *httpx.SizeError
	var we *httpx.WriteError
	switch {
	case errors.As(err, &fe):
		return err
	case errors.Is(err, httpx.ErrPreempted):
		return newErr(KindPreempted, r, nil, "another mirror answered first")
	case errors.As(err, &we):
		return newErr(KindLocal, r, we.Err, "write temp file: %v", we.Err)
	case errors.As(err, &se):
		return newErr(KindIntegrity, r, nil, "registry sends %d bytes for a layer of %d", se.Got, layer.Size)
	case ctx.Err() != nil:
		return classify(ctx, r, "download layer", err)
	case errors.Is(err, httpx.ErrStalled):
		return newErr(KindRetry, r, err, "download layer: no bytes for %s", stall)
	case errors.Is(err, httpx.ErrShort):
		return newErr(KindRetry, r, io.ErrUnexpectedEOF, "layer cut: %v", err)
	}
	return newErr(KindRetry, r, err, "download layer: %v", err)
}

// chosen is the bundle a selection resolved to in one repository, with what downloading it needs.
type chosen struct {
	Resolved
	ref      Ref
	repo     *remote.Repository
	hc       *http.Client // closeIdle when done
	log      zerolog.Logger
	arch     string
	pin      string // the pinned digest (hex), "" when none
	manifest ocispec.Descriptor
	layer    ocispec.Descriptor
}

// choose resolves o's selector to a tag and checks its manifest, config and layer descriptor
// (Accept, the pinned digest, MaxBytes), walking back to older tags Accept takes: everything
// Fetch does before the layer's bytes, and all Resolve does. o's MaxBytes gets its default.
func choose(ctx context.Context, o *Options) (*chosen, error) {
	r, err := ParseRef(o.Ref)
	if err != nil {
		return nil, err
	}
	arch, err := platform.Normalize(o.Arch)
	if err != nil {
		return nil, failure.New(failure.Usage, "%w", err)
	}
	version := strings.TrimSpace(o.Version)
	if version == "" {
		version = "latest"
	}
	if !validTagPart(version) {
		return nil, failure.New(failure.Usage, "bad SLURM version %q", o.Version).WithHint("use a version like 22.05.8, a series like 22.05, or latest")
	}
	pin := ""
	if strings.TrimSpace(o.SHA256) != "" {
		d, err := bundle.ParseDigest(o.SHA256)
		if err != nil {
			return nil, failure.New(failure.Usage, "the pinned digest %q is not a SHA-256 digest (64 hex digits)", o.SHA256)
		}
		pin = string(d)
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	repo, hc, err := repository(r, o.Client)
	if err != nil {
		return nil, err
	}
	c := &chosen{ref: r, repo: repo, hc: hc, arch: arch, pin: pin, log: o.Log.With().Str("mirror", r.String()).Logger()}
	if err := c.choose(ctx, o, version); err != nil {
		closeIdle(hc)
		return nil, err
	}
	return c, nil
}

func (c *chosen) choose(ctx context.Context, o *Options, version string) error {
	r, repo, arch, log := c.ref, c.repo, c.arch, c.log
	tag, mdesc, man, err := resolve(ctx, repo, r, version, arch, log)
	if err != nil {
		return err
	}
	layer, cfg, err := inspect(ctx, repo, r, tag, man, version, arch)
	if err != nil {
		return err
	}
	if o.Accept != nil {
		accept := func(cf Config) string {
			why := o.Accept(cf)
			if why != "" {
				c.Skipped = append(c.Skipped, cf.Version+": "+why)
			}
			return why
		}
		if why := accept(*cfg); why != "" {
			// A pinned digest names this bundle: no older one can be it.
			walk := c.pin == "" && slurmver.KindOf(version) != slurmver.Exact
			if tag, mdesc, layer, cfg, err = olderAccepted(ctx, selection{repo, r, version, arch, accept, log}, cfg, why, walk); err != nil {
				return err
			}
		}
	}
	url := r.String() + ":" + tag + "@" + mdesc.Digest.String()
	sum := layer.Digest.Encoded()
	if c.pin != "" && c.pin != sum {
		e := newErr(KindIntegrity, r, nil, "the pinned digest %s differs from the layer digest sha256:%s of %s", c.pin, sum, tag)
		e.Hint = "the registry serves another bundle than the pinned one: re-push the right bundle"
		return e.Suggest(failure.PinDigest)
	}
	if layer.Size > o.MaxBytes {
		e := newErr(KindOversize, r, nil, "layer of %s is %d bytes, over the %d-byte limit; nothing downloaded", tag, layer.Size, o.MaxBytes)
		return e.Suggest(failure.RaiseMaxSize)
	}
	src := "oci layer digest " + url
	if c.pin != "" {
		src = "pinned digest"
	}
	c.Resolved = Resolved{URL: url, Tag: tag, SHA256: sum, ChecksumSource: src, Version: cfg.Version, Size: layer.Size,
		Config: *cfg, Skipped: c.Skipped}
	c.manifest, c.layer = mdesc, layer
	return nil
}
