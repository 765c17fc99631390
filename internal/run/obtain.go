package run

import (
	"context"

	"slurm-installer/fetch"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/slurmver"
)

// Obtain returns the verified artifact for t without installing it (the fetch command):
// a local --from file, the cache, or a download into tmp.
func Obtain(ctx context.Context, req Request, t *Target, tmp string) (*fetch.Artifact, error) {
	r := &Run{req: req, log: req.Log, t: t, res: &Result{}}
	return r.obtain(ctx, req.Version, tmp)
}

// obtain returns the verified artifact of version (a selector): a local --from file, the
// cache, or a download.
func (r *Run) obtain(ctx context.Context, version, tmp string) (*fetch.Artifact, error) {
	req, log := &r.req, r.log
	if req.From != "" {
		if err := req.Policy.CheckLocal(req.From, req.SHA256); err != nil {
			return nil, err
		}
		art, err := fromFile(req.From, req.SHA256, log)
		if err == nil && req.RequireChecksum && art.Verification == fetch.VerifiedNone {
			return nil, failure.New(failure.Integrity, "--require-checksum: --from %s has no checksum (no --sha256, no .sha256 beside it)", req.From).
				WithHint("pass --sha256, or put the bundle's .sha256 beside it")
		}
		return art, err
	}
	cluster := slurmver.KindOf(version) == slurmver.Cluster
	if cluster && r.accept == nil {
		return nil, failure.New(failure.Usage, "--slurm-version cluster works with install only (it asks the controller through the installed client)").
			WithHint("pass the controller's series, e.g. --slurm-version 22.05")
	}
	c := &cache{dir: req.CacheDir, log: log}
	if cluster {
		c = &cache{log: log} // a cached bundle knows nothing of the controller's window
	}
	if req.SHA256 != "" {
		if art := c.lookup(req.SHA256, r.t.Arch, version); art != nil {
			art.Verification = fetch.VerifiedPinned // its content hashes to --sha256
			log.Info().Str("file", art.Path).Msg("using the cached bundle that matches --sha256; nothing downloaded")
			return art, nil
		}
	}
	fo := r.fetchOpts(version, tmp)
	art, err := fetch.Fetch(ctx, fo)
	if err != nil {
		// With a key pinned a cached bundle is used only when --sha256 names it (above): the
		// cache does not remember whether a signed index vouched for it.
		if failure.ClassOf(err) == failure.Download && req.SHA256 == "" && fo.IndexVerifier == nil {
			if cached := c.lookup("", r.t.Arch, version); cached != nil && !(req.RequireChecksum && cached.Verification == fetch.VerifiedNone) {
				log.Warn().Err(err).Str("file", cached.Path).Str("verified", string(cached.Verification)).Msg("no mirror answered; using the bundle cached for this version")
				return cached, nil
			}
		}
		return nil, err
	}
	if art.Verification == fetch.VerifiedNone {
		// fetch says so in its own words; the way out is the CLI's to name.
		log.Warn().Str("url", fetch.Redact(art.URL)).Msg("nothing vouches for these bytes: pin a digest with --sha256 or a key with --pubkey, or refuse such bundles with --require-checksum")
	}
	c.store(art, r.t.Arch, version)
	return art, nil
}

// fetchOpts are the fetch.Options of a download of version (a selector): mirrors, bounds,
// trust, and what the root can run (docs/DESIGN.md §9).
func (r *Run) fetchOpts(version, tmp string) fetch.Options {
	req, log := &r.req, r.log
	selector := version
	if slurmver.KindOf(version) == slurmver.Cluster {
		version = "latest" // narrowed by r.accept: the controller's window (resolveCluster)
	}
	glibc, glibcFile := r.t.rootGlibc(log)
	fo := fetch.Options{Mirrors: req.Mirrors, Version: version, Arch: r.t.Arch, SHA256: req.SHA256,
		Timeout: req.Timeout, Deadline: req.Deadline, Retries: req.Retries, TempDir: tmp, MaxBytes: req.Limits.MaxSize, Log: log,
		RequireChecksum: req.RequireChecksum, Selector: selector, Accept: r.accept,
		RootGlibc: glibc, RootGlibcFile: glibcFile, Libc: r.t.Libc, Prefix: CleanPrefix(req.Prefix)}
	if req.Net != nil {
		req.Net(&fo)
	}
	if !req.Policy.Pinned() {
		log.Warn().Msg("download is unauthenticated: no key pinned (the mirror's checksums catch corruption, not tampering); pin the publisher's key with --pubkey")
	}
	req.Policy.FetchOptions(&fo, log)
	return fo
}

// FetchOptions are the fetch.Options a run of req would download with for t: what `list` and
// --dry-run read mirrors with.
func FetchOptions(req Request, t *Target) fetch.Options {
	r := &Run{req: req, log: req.Log, t: t, res: &Result{}}
	return r.fetchOpts(req.Version, "")
}
