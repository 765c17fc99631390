package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/policy"
	"slurm-installer/internal/slurmver"
	"slurm-installer/verify"
)

// Run is one install run: the request, and what the run learns on the way.
type Run struct {
	req     Request
	log     zerolog.Logger
	t       *Target
	in      *install.Installer
	prev    *install.Receipt // the valid receipt read under the lock, nil if none
	working bool             // prev is a real install and intact
	res     *Result
	start   time.Time

	// --slurm-version cluster (resolveCluster): the controller's version, the client
	// majors it accepts ("21.08 to 23.02"), and accept, which narrows the selection.
	controller, window string
	accept             func(version string) string
	// phases times a plain install's phases for the closing debug line (nil: not timed).
	phases *phases
}

// Install runs one install: it returns the result (also on failure, for --json) and the
// error that decides the exit code (nil under --fallback demo when demo mode was recorded or a
// working install was kept).
func Install(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	res, err := install1(ctx, req)
	res.Seconds = time.Since(start).Seconds()
	return res, err
}

func install1(ctx context.Context, req Request) (*Result, error) {
	log := req.Log
	res := &Result{}
	t, err := Detect(req.RootDir, req.Arch, log)
	if err == nil && t.ArchEvidence == "--arch" {
		err = archAgrees(t)
	}
	if err != nil {
		res.Status = outFail.String()
		return res, err
	}
	res.Arch, res.Libc = t.Arch, t.Libc
	in, err := install.Open(install.Options{RootDir: req.RootDir, Prefix: req.Prefix, BinDir: req.BinDir,
		Arch: t.Arch, Libc: t.Libc, Limits: req.Limits, Force: req.Force, Log: log})
	if err != nil {
		res.Status = outFail.String()
		return res, err
	}
	defer in.Close()
	if req.DryRun {
		return (&Run{req: req, log: log, t: t, in: in, res: res}).dryRun(ctx)
	}
	unlock, err := in.Lock(ctx, req.LockWait)
	if err != nil {
		res.Status = outFail.String()
		return res, err
	}
	defer unlock()
	r := &Run{req: req, log: log, t: t, in: in, res: res, start: time.Now()}
	return r.run(ctx)
}

// run is the locked part: read the receipt, then repair, nothing to do, or install.
func (r *Run) run(ctx context.Context) (*Result, error) {
	log := r.log
	prev, err := r.in.ReadReceipt()
	if err != nil {
		log.Warn().Err(err).Msg("ignoring unreadable receipt")
		prev = nil
	}
	r.prev = prev
	if r.req.Repair {
		res, err := r.repair(ctx)
		if err != nil && res.Status == "" {
			res.Status = outFail.String()
		}
		return res, err
	}
	r.working = prev != nil && prev.Mode == install.ModeReal && len(r.in.CheckIntact(prev, false)) == 0
	probe := false
	if r.req.cluster() {
		if probe, err = r.resolveCluster(ctx); err != nil {
			return r.fallback(ctx, err)
		}
	}
	// latest, a series the installed version belongs to, or that version: nothing to do.
	// An install below --min-version is not "intact enough": the floor asks
	// for a newer one (issue 12 item 10).
	belowFloor := r.working && r.req.Policy.CheckVersion(prev.Version, nil) != nil
	if belowFloor {
		log.Info().Str("installed", prev.Version).Str("min_version", r.req.MinVersion).Msg("the installed version is below --min-version; looking for a newer bundle")
	}
	if r.working && !belowFloor && !r.req.Force && !r.req.cluster() && slurmver.Matches(r.req.Version, prev.Version) && prev.Arch == r.t.Arch {
		r.res.Status, r.res.Version, r.res.Source, r.res.Verification = "unchanged", prev.Version, prev.Source, prev.Verification
		log.Info().Str("version", prev.Version).Str("installed", prev.Time.Format(time.RFC3339)).
			Msg("already installed and intact; nothing to do (--force reinstalls" + map[bool]string{true: ", --slurm-version picks another version", false: ""}[slurmver.KindOf(r.req.Version) != slurmver.Exact] + ")")
		return r.res, nil
	}
	var rc *installed
	if probe {
		rc, err = r.probeCluster(ctx)
	} else {
		r.phases = newPhases(r.start)
		r.phases.mark("setup") // flags, detection, lock, receipt
		rc, err = r.installOnce(ctx, r.req.Version, nil)
		r.phases.log(log)
	}
	err = r.clusterError(err)
	if err != nil {
		return r.fallback(ctx, err)
	}
	r.res.Status, r.res.Version, r.res.Source, r.res.Verified, r.res.Warnings = "installed", rc.Version, rc.Source, rc.Verified, rc.warnings
	r.res.Verification = rc.Verification
	log.Info().Str("version", rc.Version).Str("prefix", rc.Prefix).Str("verified", rc.Verified).
		Str("took", time.Since(r.start).Round(time.Millisecond).String()).Msg("SLURM client installed")
	return r.res, nil
}

type installed struct {
	*install.Receipt
	warnings []string
}

// installOnce fetches, stages, preflights, commits and verifies one bundle of version (a
// selector). probe, when set, runs after the verification run of the committed bundle; an
// error rolls it back (--slurm-version cluster probing). On error nothing it started
// remains: the previous install (or nothing) is exactly as it was.
func (r *Run) installOnce(ctx context.Context, version string, probe func(context.Context) error) (*installed, error) {
	tmp, err := downloadDir(r.in)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	r.req.Policy.SeenSerial = policy.LastSerial(r.prev)
	art, err := r.obtain(ctx, version, tmp)
	if err != nil {
		return nil, err
	}
	r.phases.fetched(art)
	if art.Cleanup != nil {
		defer art.Cleanup()
	}
	if err := r.req.Policy.CheckArtifact(art, r.prev); err != nil {
		return nil, err
	}
	if slurmver.KindOf(version) == slurmver.Exact || art.Version != "" {
		if err := r.req.Policy.CheckVersion(cmp.Or(art.Version, version), r.prev); err != nil {
			return nil, err
		}
	}
	staged, got, err := r.stageChecked(ctx, version, art)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		staged.Discard() // stopped (a signal) before anything in the root changed
		return nil, err
	}
	return r.commitVerified(ctx, art, staged, got, probe)
}

// stageChecked extracts the artifact into staging and checks it before
// anything in the root changes: its packed prefix, its version against the
// request and the policy, and the ELF preflight. On error the staging is
// gone.
func (r *Run) stageChecked(ctx context.Context, want string, art *fetch.Artifact) (_ *install.Staged, version string, err error) {
	log := r.log
	st, err := r.in.Stage(ctx, install.Source{Path: art.Path, Tree: art.Tree})
	r.phases.mark("extract")
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			st.Discard() // every refusal below leaves no staging behind
		}
	}()
	prefix := r.in.Options().Prefix
	if st.SelfContained && st.PackedPrefix != "" && st.PackedPrefix != prefix {
		return nil, "", failure.New(failure.Usage, "the bundle from %s is self-contained and packed for --prefix %s, not --prefix %s: its commands name their loader under %s",
			art.URL, st.PackedPrefix, prefix, st.PackedPrefix).
			WithHint("install it with --prefix %s, or publish one packed with `pack --self-contained --prefix %s`", st.PackedPrefix, prefix)
	}
	version = cmp.Or(st.Version, art.Version)
	if version != "" && !slurmver.Matches(want, version) { // a series (22.05) names its newest 22.05.x
		return nil, "", failure.New(failure.Verify, "asked for SLURM %s but the bundle from %s says it is %s", want, art.URL, version).
			WithHint("the mirror serves a mislabelled bundle; report it to the AppHub publisher")
	}
	if version != "" && r.accept != nil {
		if why := r.accept(version); why != "" {
			return nil, "", failure.New(failure.Verify, "the bundle from %s is SLURM %s, %s", art.URL, version, why).
				WithHint("the mirror served a bundle the selection did not ask for (a direct URL or a latest name): publish an index, or pass an exact --slurm-version")
		}
	}
	version = cmp.Or(version, want)
	if err := r.req.Policy.CheckVersion(version, r.prev); err != nil {
		return nil, "", err
	}
	log.Info().Str("version", version).Int("files", len(st.Files)).Strs("commands", st.Commands).
		Str("took", st.Took.Round(time.Millisecond).String()).Msg("bundle extracted and checked")
	linkerDirs := install.LinkerDirs(prefix, st.Files)
	if st.SelfContained {
		linkerDirs = nil // its RUNPATHs alone must resolve everything
	}
	rep, err := verify.Preflight(verify.PreflightInput{PayloadDir: st.PayloadDir(), Prefix: prefix,
		Root: r.t.fs, Arch: r.t.Arch, Libc: r.t.Libc, LinkerDirs: linkerDirs})
	r.phases.mark("preflight")
	if err != nil {
		return nil, "", err
	}
	if len(linkerDirs) > 0 && r.t.Libc == bundle.Glibc {
		// honest about what it assumed: the bundle's lib/ is found through the loader cache
		log.Info().Int("checks", len(rep.Checks)).Strs("through_loader_cache", linkerDirs).
			Msg("preflight passed: every binary's loader and libraries resolve in the target once the loader cache lists the bundle's libraries")
	} else {
		log.Info().Int("checks", len(rep.Checks)).Msg("preflight passed: every binary's loader and libraries resolve in the target")
	}
	return st, version, nil
}

// commitVerified commits the staged payload, runs the installed sinfo in the target (and the
// probe, when set) and finishes the transaction, which writes the receipt; on any error the
// commit is rolled back and the root is as it was.
func (r *Run) commitVerified(ctx context.Context, art *fetch.Artifact, staged *install.Staged, version string, probe func(context.Context) error) (*installed, error) {
	log := r.log
	var prevLinks []install.Link
	if r.prev != nil {
		prevLinks = r.prev.Links
	}
	commit, err := r.in.Commit(ctx, staged, version, prevLinks)
	r.phases.mark("commit")
	if err != nil {
		return nil, err
	}
	r.phases.moveTo("commit", "ldconfig", commit.LdconfigTook)
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
		hint, fix := failure.Advice(commit.LoaderCache)
		if hint == "" && len(fix) == 0 {
			hint = "run `ldconfig` in the image, then install again"
		}
		return rollback(failure.New(failure.Verify, "the installed commands could not start here: they find their libraries in %s only through the root's loader cache, and %w",
			strings.Join(commit.LinkerDirs, ", "), commit.LoaderCache).Advise(hint, fix))
	}
	verified, err := runVerify0(ctx, r.req.RootDir, r.in.Options(), version, log)
	r.phases.mark("sandbox_run")
	if err == nil && probe != nil {
		err = probe(ctx) // --slurm-version cluster: does this client talk to the controller?
	}
	if err != nil {
		return rollback(err)
	}
	o := r.in.Options()
	rc := &install.Receipt{Mode: install.ModeReal, Version: version, Requested: r.req.Requested, Arch: r.t.Arch, Libc: r.t.Libc,
		Prefix: o.Prefix, BinDir: o.BinDir,
		Source: fetch.Redact(cmp.Or(art.Origin, art.URL)), Mirror: fetch.Redact(art.Mirror), Layout: art.Layout,
		SHA256: art.SHA256, ChecksumSource: art.ChecksumSource, Verification: art.Verification, Verified: verified,
		InstallerVersion: r.req.InstallerVersion, IndexSerial: max(art.IndexSerial, policy.LastSerial(r.prev))}
	if err := commit.Finish(rc); err != nil {
		return nil, err // rolled back: the receipt is written exactly when the commit is final
	}
	r.phases.mark("receipt")
	return &installed{Receipt: rc, warnings: commit.Warnings}, nil
}

// RunVerify0 runs the installed sinfo the way a backend would; it returns
// what was established.
func runVerify0(ctx context.Context, rootDir string, o install.Options, want string, log zerolog.Logger) (string, error) {
	res, err := verify.RunVersion(ctx, verify.RunInput{RootDir: rootDir, Prefix: o.Prefix, BinDir: o.BinDir,
		Want: WantVersion(want), Chroot: rootDir != "/", Timeout: 30 * time.Second})
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
		log.Debug().Msg(res.Sandbox) // which protections the run had: a long line, for --log-level debug (issue 26)
	}
	log.Info().Str("sinfo", res.Output).Msg("sinfo --version ran in the target")
	return fmt.Sprintf("%s --version printed %q", filepath.Join(o.BinDir, "sinfo"), res.Output), nil
}

// WantVersion is the version a verification run must print: v when exact, else "" (any).
func WantVersion(v string) string {
	if slurmver.KindOf(v) != slurmver.Exact || v == "unknown" {
		return ""
	}
	return v
}

// CleanPrefix is --prefix as the installer uses it ("" stays "": no judgement).
func CleanPrefix(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean("/" + p)
}
