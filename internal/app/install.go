package app

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/policy"
	"slurm-installer/internal/slurmver"
	"slurm-installer/rootfs"
	"slurm-installer/verify"
)

// target is what detection found out about --root.
type target struct {
	Arch, ArchEvidence string
	Libc, LibcEvidence string
	// Glibc is the root's glibc version ("2.36", from its libc.so.6's
	// version definitions; "" when it has none or it cannot be read),
	// GlibcFile the in-root file it was read from.
	// Read only when a bundle is chosen (not on a no-op run): see rootGlibc.
	Glibc, GlibcFile string
	glibcRead        bool // Glibc was looked up (or must not be: fetch for another root)
	fs               *rootfs.FS
}

// rootGlibc reads the root's glibc version once, when bundle selection
// needs it; a no-op run never parses libc.so.6.
func (t *target) rootGlibc(log zerolog.Logger) (version, file string) {
	if !t.glibcRead && t.Libc == string(rootfs.Glibc) {
		if v, f, err := rootfs.GlibcVersion(t.fs, t.Arch); err == nil {
			t.Glibc, t.GlibcFile = v, f
			log.Info().Str("glibc", v).Str("glibc_from", f).Msg("the root's glibc version")
		} else {
			log.Info().Str("glibc", "unknown ("+err.Error()+")").Msg("the root's glibc version")
		}
	}
	t.glibcRead = true
	return t.Glibc, t.GlibcFile
}

// archAgrees refuses an --arch that contradicts the root the install goes
// into: its programs say another architecture, so the bundle for --arch
// could not run there. (fetch may name any arch: it installs nothing.)
func archAgrees(t *target) error {
	a, ev, err := rootfs.DetectArch(t.fs)
	if err != nil || a == "" || a == t.Arch {
		return nil
	}
	return failure.New(failure.Usage, "--arch %s, but the target root is %s (%s): a %s bundle cannot run there", t.Arch, a, ev, t.Arch).
		WithHint("drop --arch (the root's architecture is detected), or point --root at the %s image", t.Arch)
}

func detect(rootDir, arch string, log zerolog.Logger) (*target, error) {
	t := &target{fs: rootfs.New(rootDir)}
	if a := strings.TrimSpace(arch); a != "" {
		n, err := platform.Normalize(a)
		if err != nil {
			return nil, failure.New(failure.Usage, "--arch: %w", err)
		}
		t.Arch, t.ArchEvidence = n, "--arch"
	} else if a, ev, err := rootfs.DetectArch(t.fs); err == nil && a != "" {
		t.Arch, t.ArchEvidence = a, ev
	} else {
		t.Arch, t.ArchEvidence = platform.Host(), "this host (nothing in the root to detect it from)"
		if t.Arch == "" {
			return nil, failure.New(failure.Usage, "cannot detect the target architecture; pass --arch x86_64 or --arch aarch64")
		}
	}
	libc, ev := rootfs.DetectLibc(t.fs, t.Arch)
	t.Libc, t.LibcEvidence = string(libc), ev
	log.Info().Str("arch", t.Arch).Str("arch_from", t.ArchEvidence).Str("libc", t.Libc).Str("libc_from", t.LibcEvidence).Msg("target detected")
	return t, nil
}

// installConfig is the options of install and fetch, bound to their flags
// (flags.go) and checked by validate.
type installConfig struct {
	out outputOptions
	targetOptions
	lockWait time.Duration

	mirrors         []string
	version         string
	arch            string
	sha             string
	from            string
	cacheDir        string
	fallback        string
	strict          bool
	force           bool
	repair          bool
	dryRun          bool
	json            bool
	requireChecksum bool // --require-checksum: refuse bytes nothing vouches for (exit 5)
	limits          install.Limits
	timeout         time.Duration
	deadline        time.Duration
	retries         int
	net             netConfig
	policyRaw       policy.Flags

	requested string // the --slurm-version asked for, before resolution
	policy    *policy.Policy
	flagsSet  func(name string) bool // whether a flag was given (even empty)

	// accept narrows the selection (fetch.Options.Accept): set by
	// resolveCluster for --slurm-version cluster.
	accept     func(version string) string
	controller string // the controller's version (--slurm-version cluster)
	window     string // the client majors it accepts, "21.08 to 23.02"
	// probe, when set, runs after the verification run of a committed
	// candidate; an error rolls it back (--slurm-version cluster probing).
	probe func(ctx context.Context) error
	// phases times a plain install's phases for the closing debug line.
	phases *phases
}

// cluster: --slurm-version cluster, the newest bundle the site's controller accepts.
func (cfg *installConfig) cluster() bool { return slurmver.KindOf(cfg.version) == slurmver.Cluster }

// validate checks the options and derives the rest of the configuration;
// needSource: a bundle source (mirrors or --from) is required.
func (cfg *installConfig) validate(c *cli.Context, u *ui, needSource bool) (err error) {
	if c.NArg() > 0 {
		return unknownCommand(c.App, c.Args().First())
	}
	cfg.version = strings.TrimSpace(cfg.version)
	cfg.sha = strings.ToLower(strings.TrimSpace(cfg.sha))
	if cfg.fallback == "" {
		cfg.fallback = "demo" // an empty SLURM_INSTALLER_FALLBACK means the default
	}
	if cfg.strict {
		cfg.fallback = "fail"
	}
	if cfg.fallback != "demo" && cfg.fallback != "fail" {
		return failure.New(failure.Usage, "--fallback %q: use demo or fail", cfg.fallback)
	}
	if cfg.version == "" {
		cfg.version = "latest"
	}
	cfg.requested = cfg.version
	if cfg.sha != "" {
		if b, err := hex.DecodeString(cfg.sha); err != nil || len(b) != 32 {
			return failure.New(failure.Usage, "--sha256 %q is not a SHA-256 digest (64 hex characters)", cfg.sha)
		}
	}
	if cfg.timeout <= 0 {
		return failure.New(failure.Usage, "--timeout must be positive")
	}
	if cfg.deadline <= 0 {
		// A run without a deadline can be parked by one Retry-After, holding the lock (issue 13).
		return failure.New(failure.Usage, "--deadline must be positive (got %s)", cfg.deadline).
			WithHint("give the whole download a bound, e.g. --deadline 5m")
	}
	if cfg.flagsSet != nil && cfg.flagsSet("sha256") && cfg.sha == "" {
		u.log.Info().Msg("--sha256 is empty: the bundle's digest is not pinned")
	}
	if err := cfg.net.validate(cfg.out, u.stderr); err != nil {
		return err
	}
	if cfg.retries < 0 {
		return failure.New(failure.Usage, "--retries must not be negative")
	}
	if cfg.policy, err = policy.Parse(cfg.policyRaw, DefaultPubKey); err != nil {
		return err
	}
	// --repair without a source takes the receipt's (runRepair): it knows where the
	// installed bundle came from and its sha256.
	if needSource && !cfg.repair && cfg.from == "" && len(cfg.mirrors) == 0 {
		return failure.New(failure.Usage, "no mirrors given").
			WithHint("pass --mirrors http://apphub.example/ (or SLURM_INSTALLER_MIRRORS), or --from FILE for a local bundle")
	}
	if cfg.rootDir == "" {
		cfg.rootDir = "/"
	}
	abs, err := filepath.Abs(cfg.rootDir)
	if err != nil {
		return failure.New(failure.Usage, "--root %q: %w", cfg.rootDir, err)
	}
	cfg.rootDir = abs
	return nil
}

// result is what install prints with --json and logs at the end.
type result struct {
	Status   string `json:"status"` // installed, unchanged, demo, kept-previous, dry-run
	Version  string `json:"version,omitempty"`
	Arch     string `json:"arch"`
	Libc     string `json:"libc"`
	Source   string `json:"source,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Class    string `json:"failure_class,omitempty"`
	Verified string `json:"verified,omitempty"`
	// Verification: how the bytes were verified (pinned, signed-index,
	// index, sidecar, sha256sums, none).
	Verification string   `json:"verification,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	Seconds      float64  `json:"seconds"`
	Exit         int      `json:"exit_code"`
}

// installCommand is install (name "install") or the app's default action
// (name ""): the same options and flags.
func (u *ui) installCommand(name string) *cli.Command {
	cfg, b := &installConfig{}, &binder{}
	flags := append(cfg.out.flags(b), cfg.targetOptions.flags(b)...)
	flags = append(flags, lockFlag(b, &cfg.lockWait))
	flags = append(flags, cfg.sourceFlags(b)...)
	flags = append(flags, cfg.installFlags(b)...)
	cfg.flagsSet = b.isSet
	return &cli.Command{Name: name, Usage: "download, verify and install (the default)", Flags: flags,
		Before: u.before(b, &cfg.out), Action: func(c *cli.Context) error { return u.runInstall(c, cfg) }}
}

func (u *ui) runInstall(c *cli.Context, cfg *installConfig) error {
	start := time.Now()
	log := u.log
	if err := cfg.validate(c, u, true); err != nil {
		return err
	}
	ctx := c.Context
	t, err := detect(cfg.rootDir, cfg.arch, log)
	if err == nil && t.ArchEvidence == "--arch" {
		err = archAgrees(t)
	}
	if err != nil {
		return err
	}
	in, err := install.Open(install.Options{RootDir: cfg.rootDir, Prefix: cfg.prefix, BinDir: cfg.binDir,
		Arch: t.Arch, Libc: t.Libc, Limits: cfg.limits, Force: cfg.force, Log: log})
	if err != nil {
		return err
	}
	defer in.Close()
	res := &result{Arch: t.Arch, Libc: t.Libc}
	if cfg.dryRun {
		res.Status = "dry-run"
		log.Info().Strs("mirrors", fetch.RedactAll(cfg.mirrors)).Str("version", cfg.version).Str("prefix", in.Options().Prefix).
			Str("bin_dir", in.Options().BinDir).Str("root", cfg.rootDir).Msg("dry run: would fetch, verify and install; nothing changed")
		return u.finish(cfg, res, start)
	}
	unlock, err := in.Lock(ctx, cfg.lockWait)
	if err != nil {
		return err
	}
	defer unlock()
	prev, err := in.ReadReceipt()
	if err != nil {
		log.Warn().Err(err).Msg("ignoring unreadable receipt")
		prev = nil
	}
	if cfg.repair {
		return u.runRepair(ctx, cfg, t, in, prev, res, start)
	}
	working := prev != nil && prev.Mode == install.ModeReal && len(in.CheckIntact(prev, false)) == 0
	probe := false
	if cfg.cluster() {
		if probe, err = resolveCluster(ctx, cfg, t, in, prev, working, log); err != nil {
			return u.fallback(ctx, cfg, t, in, prev, working, err, res, start)
		}
	}
	// latest, a series the installed version belongs to, or that version: nothing to do.
	// An install below --min-version is not "intact enough": the floor asks
	// for a newer one (issue 12 item 10).
	belowFloor := working && cfg.policy.CheckVersion(prev.Version, nil) != nil
	if belowFloor {
		log.Info().Str("installed", prev.Version).Str("min_version", cfg.policyRaw.MinVersion).Msg("the installed version is below --min-version; looking for a newer bundle")
	}
	if working && !belowFloor && !cfg.force && !cfg.cluster() && slurmver.Matches(cfg.version, prev.Version) && prev.Arch == t.Arch {
		res.Status, res.Version, res.Source, res.Verification = "unchanged", prev.Version, prev.Source, prev.Verification
		log.Info().Str("version", prev.Version).Str("installed", prev.Time.Format(time.RFC3339)).
			Msg("already installed and intact; nothing to do (--force reinstalls" + map[bool]string{true: ", --slurm-version picks another version", false: ""}[slurmver.KindOf(cfg.version) != slurmver.Exact] + ")")
		return u.finish(cfg, res, start)
	}
	var rc *installed
	if probe {
		rc, err = u.probeCluster(ctx, cfg, t, in, prev, log)
	} else {
		cfg.phases = newPhases(start)
		cfg.phases.mark("setup") // flags, detection, lock, receipt
		rc, err = u.installOnce(ctx, cfg, t, in, prev, log)
		cfg.phases.log(log)
	}
	err = clusterError(cfg, err)
	if err == nil {
		res.Status, res.Version, res.Source, res.Verified, res.Warnings = "installed", rc.Version, rc.Source, rc.Verified, rc.warnings
		res.Verification = rc.Verification
		log.Info().Str("version", rc.Version).Str("prefix", rc.Prefix).Str("verified", rc.Verified).
			Str("took", time.Since(start).Round(time.Millisecond).String()).Msg("SLURM client installed")
		return u.finish(cfg, res, start)
	}
	return u.fallback(ctx, cfg, t, in, prev, working, err, res, start)
}

// fallback applies the --fallback policy to a failed install.
func (u *ui) fallback(ctx context.Context, cfg *installConfig, t *target, in *install.Installer, prev *install.Receipt, working bool, err error, res *result, start time.Time) error {
	log := u.log
	if serr := failure.Stopped(ctx, err); serr != nil {
		// Interrupted: an interrupted build is not a failed mirror. Never demo.
		if working {
			log.Warn().Str("version", prev.Version).Msg("the previous install is untouched and still active")
		}
		return u.failed(cfg, res, serr, "interrupted", start)
	}
	class := failure.ClassOf(err)
	// A refusal to touch what is not ours (issue 12) is not a failed
	// mirror: recording demo mode would turn it into a "successful" image.
	if cfg.fallback == "fail" || class == failure.Usage || class == failure.Locked || errors.Is(err, context.Canceled) || errors.Is(err, install.ErrNotOurs) {
		if working {
			log.Warn().Str("version", prev.Version).Msg("the previous install is untouched and still active")
		}
		return u.failed(cfg, res, err, "failed", start)
	}
	res.Reason, res.Class = err.Error(), class.String()
	ev := log.Warn().Str("class", class.String()).Int("would_exit", int(class))
	if h := hintOf(err); h != "" {
		ev = ev.Str("hint", h)
	}
	if working {
		ev.Msg("install failed: " + err.Error())
		log.Warn().Str("version", prev.Version).Msg("keeping the working install (a working install is never replaced by demo mode); exit 0 under --fallback demo, use --fallback fail to gate on it")
		res.Status, res.Version = "kept-previous", prev.Version
		return u.finish(cfg, res, start)
	}
	ev.Msg("install failed: " + err.Error())
	r := &install.Receipt{Reason: err.Error(), FailureClass: class.String(), Requested: cfg.requested,
		Arch: t.Arch, Libc: t.Libc, Prefix: in.Options().Prefix, BinDir: in.Options().BinDir, InstallerVersion: Version,
		IndexSerial: policy.LastSerial(prev)}
	if derr := in.RecordDemo(r); derr != nil {
		log.Error().Err(derr).Msg("could not record demo mode either")
		if errors.Is(derr, install.ErrNotOurs) {
			return derr // the site's slurm.sh is in the way: say so (exit 7)
		}
		return err
	}
	log.Warn().Str("profile", install.ProfileScript).Msg("DEMO MODE recorded: SLURM_DEMO_MODE=1; the backend will serve demo data (status and verify exit 3)")
	res.Status = "demo"
	return u.finish(cfg, res, start)
}

// failed prints the result of a run that ends with err (under --json) and
// returns err.
func (u *ui) failed(cfg *installConfig, res *result, err error, status string, start time.Time) error {
	c := failure.ClassOf(err)
	res.Status, res.Reason, res.Class, res.Exit = status, err.Error(), c.String(), int(c)
	if h := hintOf(err); h != "" {
		res.Warnings = append(res.Warnings, "hint: "+h)
	}
	if ferr := u.finish(cfg, res, start); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

func (u *ui) finish(cfg *installConfig, res *result, start time.Time) error {
	res.Seconds = time.Since(start).Seconds()
	if cfg.json {
		enc := json.NewEncoder(fetch.RedactWriter(u.stdout))
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}

type installed struct {
	*install.Receipt
	warnings []string
}

// installOnce fetches, stages, preflights, commits and verifies one bundle.
// On error nothing it started remains: the previous install (or nothing) is
// exactly as it was.
func (u *ui) installOnce(ctx context.Context, cfg *installConfig, t *target, in *install.Installer, prev *install.Receipt, log zerolog.Logger) (*installed, error) {
	tmp, err := downloadDir(in)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	cfg.policy.SeenSerial = policy.LastSerial(prev)
	art, err := u.obtain(ctx, cfg, t, tmp, log)
	if err != nil {
		return nil, err
	}
	cfg.phases.fetched(art)
	if art.Cleanup != nil {
		defer art.Cleanup()
	}
	if err := cfg.policy.CheckArtifact(art, prev); err != nil {
		return nil, err
	}
	if slurmver.KindOf(cfg.version) == slurmver.Exact || art.Version != "" {
		if err := cfg.policy.CheckVersion(cmp.Or(art.Version, cfg.version), prev); err != nil {
			return nil, err
		}
	}
	staged, version, err := stageChecked(ctx, cfg, t, in, prev, art, log)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		staged.Discard() // stopped (a signal) before anything in the root changed
		return nil, err
	}
	return commitVerified(ctx, cfg, t, in, prev, art, staged, version, log)
}

// stageChecked extracts the artifact into staging and checks it before
// anything in the root changes: its packed prefix, its version against the
// request and the policy, and the ELF preflight. On error the staging is
// gone.
func stageChecked(ctx context.Context, cfg *installConfig, t *target, in *install.Installer, prev *install.Receipt, art *fetch.Artifact, log zerolog.Logger) (_ *install.Staged, version string, err error) {
	st, err := in.Stage(ctx, install.Source{Path: art.Path, Tree: art.Tree})
	cfg.phases.mark("extract")
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			st.Discard() // every refusal below leaves no staging behind
		}
	}()
	prefix := in.Options().Prefix
	if st.SelfContained && st.PackedPrefix != "" && st.PackedPrefix != prefix {
		return nil, "", failure.New(failure.Usage, "the bundle from %s is self-contained and packed for --prefix %s, not --prefix %s: its commands name their loader under %s",
			art.URL, st.PackedPrefix, prefix, st.PackedPrefix).
			WithHint("install it with --prefix %s, or publish one packed with `pack --self-contained --prefix %s`", st.PackedPrefix, prefix)
	}
	version = cmp.Or(st.Version, art.Version)
	if version != "" && !slurmver.Matches(cfg.version, version) { // a series (22.05) names its newest 22.05.x
		return nil, "", failure.New(failure.Verify, "asked for SLURM %s but the bundle from %s says it is %s", cfg.version, art.URL, version).
			WithHint("the mirror serves a mislabelled bundle; report it to the AppHub publisher")
	}
	if version != "" && cfg.accept != nil {
		if why := cfg.accept(version); why != "" {
			return nil, "", failure.New(failure.Verify, "the bundle from %s is SLURM %s, %s", art.URL, version, why).
				WithHint("the mirror served a bundle the selection did not ask for (a direct URL or a latest name): publish an index, or pass an exact --slurm-version")
		}
	}
	version = cmp.Or(version, cfg.version)
	if err := cfg.policy.CheckVersion(version, prev); err != nil {
		return nil, "", err
	}
	log.Info().Str("version", version).Int("files", len(st.Files)).Strs("commands", st.Commands).
		Str("took", st.Took.Round(time.Millisecond).String()).Msg("bundle extracted and checked")
	linkerDirs := install.LinkerDirs(prefix, st.Files)
	if st.SelfContained {
		linkerDirs = nil // its RUNPATHs alone must resolve everything
	}
	rep, err := verify.Preflight(verify.PreflightInput{PayloadDir: st.PayloadDir(), Prefix: prefix,
		Root: t.fs, Arch: t.Arch, Libc: rootfs.Libc(t.Libc), LinkerDirs: linkerDirs})
	cfg.phases.mark("preflight")
	if err != nil {
		return nil, "", err
	}
	if len(linkerDirs) > 0 && t.Libc == "glibc" {
		// honest about what it assumed: the bundle's lib/ is found through the loader cache
		log.Info().Int("checks", len(rep.Checks)).Strs("through_loader_cache", linkerDirs).
			Msg("preflight passed: every binary's loader and libraries resolve in the target once the loader cache lists the bundle's libraries")
	} else {
		log.Info().Int("checks", len(rep.Checks)).Msg("preflight passed: every binary's loader and libraries resolve in the target")
	}
	return st, version, nil
}

// commitVerified commits the staged payload, runs the installed sinfo in
// the target and writes the receipt; on any error the commit is rolled
// back and the root is as it was.
func commitVerified(ctx context.Context, cfg *installConfig, t *target, in *install.Installer, prev *install.Receipt, art *fetch.Artifact, staged *install.Staged, version string, log zerolog.Logger) (*installed, error) {
	var prevLinks []install.Link
	if prev != nil {
		prevLinks = prev.Links
	}
	commit, err := in.Commit(ctx, staged, version, prevLinks)
	cfg.phases.mark("commit")
	if err != nil {
		return nil, err
	}
	cfg.phases.moveTo("commit", "ldconfig", commit.LdconfigTook)
	rollback := func(err error) (*installed, error) {
		if rerr := commit.Rollback(); rerr != nil {
			log.Error().Err(rerr).Msg("rollback incomplete")
		}
		return nil, err
	}
	for _, w := range commit.Warnings {
		log.Warn().Msg(w)
	}
	for _, p := range commit.EtcKept {
		log.Info().Str("file", p).Msg("kept the site's file; the bundle's copy was not installed")
	}
	if commit.LoaderCache != nil {
		// The libraries resolve only through a cache nobody could build:
		// the commands would not start. Say so; never report success.
		hint, fix := "run `ldconfig` in the image, then install again", []failure.Remedy(nil)
		var a interface {
			Advice() (string, []failure.Remedy)
		}
		if errors.As(commit.LoaderCache, &a) {
			hint, fix = a.Advice()
		}
		return rollback(failure.New(failure.Verify, "the installed commands could not start here: they find their libraries in %s only through the root's loader cache, and %w",
			strings.Join(commit.LinkerDirs, ", "), commit.LoaderCache).Advise(hint, fix))
	}
	verified, err := runVerify0(ctx, cfg.rootDir, in.Options(), version, log)
	cfg.phases.mark("sandbox_run")
	if err == nil && cfg.probe != nil {
		err = cfg.probe(ctx) // --slurm-version cluster: does this client talk to the controller?
	}
	if err != nil {
		return rollback(err)
	}
	o := in.Options()
	rc := &install.Receipt{Mode: install.ModeReal, Version: version, Requested: cfg.requested, Arch: t.Arch, Libc: t.Libc,
		Prefix: o.Prefix, BinDir: o.BinDir, PayloadDir: commit.PayloadRel,
		Source: fetch.Redact(cmp.Or(art.Origin, art.URL)), Mirror: fetch.Redact(art.Mirror), Layout: art.Layout,
		SHA256: art.SHA256, ChecksumSource: art.ChecksumSource, Verification: art.Verification, Verified: verified,
		Files: staged.Files, Links: commit.Links, Configs: commit.Configs, EtcFiles: commit.EtcFiles,
		Backups: commit.Backups, CreatedDirs: commit.CreatedDirs,
		InstallerVersion: Version, IndexSerial: max(art.IndexSerial, policy.LastSerial(prev)), SelfContained: staged.SelfContained}
	if err := in.WriteReceipt(rc); err != nil {
		return rollback(err)
	}
	commit.Finalize()
	cfg.phases.mark("receipt")
	return &installed{Receipt: rc, warnings: commit.Warnings}, nil
}

// obtain returns the verified artifact: a local --from file, or a download.
func (u *ui) obtain(ctx context.Context, cfg *installConfig, t *target, tmp string, log zerolog.Logger) (*fetch.Artifact, error) {
	if cfg.from != "" {
		if err := cfg.policy.CheckLocal(cfg.from, cfg.sha); err != nil {
			return nil, err
		}
		art, err := fromFile(cfg, log)
		if err == nil && cfg.requireChecksum && art.Verification == fetch.VerifiedNone {
			return nil, failure.New(failure.Integrity, "--require-checksum: --from %s has no checksum (no --sha256, no .sha256 beside it)", cfg.from).
				WithHint("pass --sha256, or put the bundle's .sha256 beside it")
		}
		return art, err
	}
	if cfg.cluster() && cfg.accept == nil {
		return nil, failure.New(failure.Usage, "--slurm-version cluster works with install only (it asks the controller through the installed client)").
			WithHint("pass the controller's series, e.g. --slurm-version 22.05")
	}
	c := &cache{dir: cfg.cacheDir, log: log}
	if cfg.cluster() {
		c = &cache{log: log} // a cached bundle knows nothing of the controller's window
	}
	if cfg.sha != "" {
		if art := c.lookup(cfg.sha, t.Arch, cfg.version); art != nil {
			art.Verification = fetch.VerifiedPinned // its content hashes to --sha256
			log.Info().Str("file", art.Path).Msg("using the cached bundle that matches --sha256; nothing downloaded")
			return art, nil
		}
	}
	fo := u.fetchOpts(cfg, t, tmp, log)
	art, err := fetch.Fetch(ctx, fo)
	if err != nil {
		// With a key pinned a cached bundle is used only when --sha256 names it (above): the
		// cache does not remember whether a signed index vouched for it.
		if failure.ClassOf(err) == failure.Download && cfg.sha == "" && fo.IndexVerifier == nil {
			if cached := c.lookup("", t.Arch, cfg.version); cached != nil && !(cfg.requireChecksum && cached.Verification == fetch.VerifiedNone) {
				log.Warn().Err(err).Str("file", cached.Path).Str("verified", cached.Verification).Msg("no mirror answered; using the bundle cached for this version")
				return cached, nil
			}
		}
		return nil, err
	}
	if art.Verification == fetch.VerifiedNone {
		// fetch says so in its own words; the way out is the CLI's to name.
		log.Warn().Str("url", fetch.Redact(art.URL)).Msg("nothing vouches for these bytes: pin a digest with --sha256 or a key with --pubkey, or refuse such bundles with --require-checksum")
	}
	c.store(art, t.Arch, cfg.version)
	return art, nil
}

// fetchOpts are the fetch.Options of this run: mirrors, bounds, trust,
// and what the root can run (docs/DESIGN.md §9).
func (u *ui) fetchOpts(cfg *installConfig, t *target, tmp string, log zerolog.Logger) fetch.Options {
	version := cfg.version
	if cfg.cluster() {
		version = "latest" // narrowed by cfg.accept: the controller's window (resolveCluster)
	}
	glibc, glibcFile := t.rootGlibc(log)
	fo := fetch.Options{Mirrors: cfg.mirrors, Version: version, Arch: t.Arch, SHA256: cfg.sha,
		Timeout: cfg.timeout, Deadline: cfg.deadline, Retries: cfg.retries, TempDir: tmp, MaxBytes: cfg.limits.MaxSize, Log: log,
		RequireChecksum: cfg.requireChecksum, Selector: cfg.version, Accept: cfg.accept,
		RootGlibc: glibc, RootGlibcFile: glibcFile, Libc: t.Libc, Prefix: cleanPrefix(cfg.prefix)}
	cfg.net.apply(&fo, u.stderr)
	if !cfg.policy.Pinned() {
		log.Warn().Msg("download is unauthenticated: no key pinned (the mirror's checksums catch corruption, not tampering); pin the publisher's key with --pubkey")
	}
	cfg.policy.FetchOptions(&fo, log)
	return fo
}

// runVerify0 runs the installed sinfo the way a backend would; it returns
// what was established.
func runVerify0(ctx context.Context, rootDir string, o install.Options, want string, log zerolog.Logger) (string, error) {
	res, err := verify.RunVersion(ctx, verify.RunInput{RootDir: rootDir, Prefix: o.Prefix, BinDir: o.BinDir,
		Want: wantVersion(want), Chroot: rootDir != "/", Timeout: 30 * time.Second})
	for _, w := range res.Warnings {
		log.Warn().Msg(w)
	}
	if errors.Is(err, verify.ErrCannotExec) {
		log.Warn().Err(err).Msg("sinfo was not run; checked files and ELF headers only")
		return "files and ELF checks only (" + err.Error() + ")", nil
	}
	if err != nil {
		return "", err
	}
	if res.Sandbox != "" {
		log.Info().Msg(res.Sandbox) // which protections the run had
	}
	log.Info().Str("sinfo", res.Output).Msg("sinfo --version ran in the target")
	return fmt.Sprintf("%s --version printed %q", filepath.Join(o.BinDir, "sinfo"), res.Output), nil
}

func wantVersion(v string) string {
	if slurmver.KindOf(v) != slurmver.Exact || v == "unknown" {
		return ""
	}
	return v
}

// cleanPrefix is --prefix as the installer uses it ("" stays "": no judgement).
func cleanPrefix(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean("/" + p)
}
