package app

// install --dry-run (issue 26): resolve exactly what a run would do —
// which mirror, which bundle, its checksum and how it is verified, what is
// skipped and why, what would be written — and download no bundle.
import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/slurmver"
)

// runPlan is what --dry-run resolved (result.Plan).
type runPlan struct {
	// Action: install, unchanged (the installed version is intact and
	// matches), or fail (no mirror would serve a bundle: Reason says why).
	Action string         `json:"action"`
	Root   string         `json:"root"`
	Bundle *fetch.Planned `json:"bundle"`
	// Writes are the paths inside the root an install would create or
	// change.
	Writes []string `json:"writes"`
	Notes  []string `json:"notes"`
}

// dryRun resolves the run without changing anything (nothing locked,
// nothing downloaded but indexes, listings, checksums and manifests).
func (u *ui) dryRun(ctx context.Context, cfg *installConfig, t *target, in *install.Installer, res *result, start time.Time) error {
	log := u.log
	res.Status = "dry-run"
	p := &runPlan{Action: "install", Root: cfg.rootDir, Writes: []string{}, Notes: []string{}}
	res.Plan = p
	prev, err := in.ReadReceipt()
	if err != nil {
		prev = nil
	}
	working := prev != nil && prev.Mode == install.ModeReal && len(in.CheckIntact(prev, false)) == 0
	if working && !cfg.force && !cfg.repair && !cfg.cluster() && slurmver.Matches(cfg.version, prev.Version) && prev.Arch == t.Arch &&
		cfg.policy.CheckVersion(prev.Version, nil) == nil {
		p.Action = "unchanged"
		res.Version, res.Source, res.Verification = prev.Version, prev.Source, prev.Verification
		p.Notes = append(p.Notes, fmt.Sprintf("SLURM %s is installed and intact: nothing to do (--force reinstalls)", prev.Version))
		log.Info().Str("version", prev.Version).Msg("dry run: already installed and intact; a run would change nothing")
		u.printPlan(cfg, p)
		return u.finish(cfg, res, start)
	}
	if cfg.cluster() {
		p.Notes = append(p.Notes, "--slurm-version cluster asks the controller at install time; the plan below is for latest")
		cfg.version = "latest"
	}
	switch {
	case cfg.from != "":
		p.Bundle = &fetch.Planned{Mirror: "--from", Layout: "file", URL: "file://" + cfg.from, Skipped: []fetch.Skip{}, Passed: []fetch.Skip{}}
		if cfg.sha != "" {
			p.Bundle.SHA256, p.Bundle.ChecksumSource, p.Bundle.Verification = cfg.sha, "pinned digest", fetch.VerifiedPinned
		} else {
			p.Bundle.ChecksumSource, p.Bundle.Verification = "a .sha256 beside it, if there is one", fetch.VerifiedSidecar
		}
	default:
		fo := u.fetchOpts(cfg, t, "", log)
		fo.Progress = fetch.ProgressOff
		b, err := fetch.Plan(ctx, fo)
		if err != nil {
			c := failure.ClassOf(err)
			p.Action = "fail"
			res.Reason, res.Class, res.WouldExit, res.Hint = err.Error(), c.String(), int(c), u.hint(err)
			if cfg.fallback == "demo" && c != failure.Usage {
				p.Notes = append(p.Notes, "under --fallback demo the run would record demo mode and exit 0 (--strict exits "+fmt.Sprint(int(c))+")")
			} else {
				res.Exit = int(c)
			}
			log.Warn().Str("class", c.String()).Int("would_exit", int(c)).Str("hint", res.Hint).Msg("dry run: " + err.Error())
			u.printPlan(cfg, p)
			if ferr := u.finish(cfg, res, start); ferr != nil {
				return ferr
			}
			if res.Exit != 0 {
				return quietError{err}
			}
			return nil
		}
		p.Bundle = b
		res.Version, res.Source, res.Verification = b.Version, b.URL, b.Verification
	}
	p.Writes = plannedWrites(cfg, t, in.Options(), p.Bundle)
	log.Info().Str("mirror", p.Bundle.Mirror).Str("url", p.Bundle.URL).Str("version", p.Bundle.Version).
		Str("verification", p.Bundle.Verification).Msg("dry run: resolved; nothing downloaded, nothing changed")
	u.printPlan(cfg, p)
	return u.finish(cfg, res, start)
}

// plannedWrites are the paths an install of b would write in the root.
func plannedWrites(cfg *installConfig, t *target, o install.Options, b *fetch.Planned) []string {
	w := []string{
		o.Prefix + " (the payload, " + o.Prefix + "/bin, lib, ...)",
		o.BinDir + "/<each command in the bundle's bin/> (links)",
		install.ProfileScript,
	}
	switch {
	case b != nil && b.SelfContained:
		// its RUNPATHs resolve everything: no loader config
	case t.Libc == "musl":
		w = append(w, "/etc/ld-musl-"+t.Arch+".path (the bundle's lib/ added to musl's search path)")
	default:
		w = append(w, "/etc/ld.so.conf.d/slurm.conf and the loader cache (the bundle's lib/)")
	}
	w = append(w, "/etc/slurm (the bundle's example configs, where the site has none)", install.ReceiptPath)
	if cfg.cacheDir != "" {
		w = append(w, path.Join(cfg.cacheDir, "<sha256>")+" (outside the root: the verified bundle, cached)")
	}
	return w
}

// printPlan prints the plan on stdout (not under --json: the result has it).
func (u *ui) printPlan(cfg *installConfig, p *runPlan) {
	if cfg.json {
		return
	}
	out := u.stdout
	fmt.Fprintf(out, "dry run: %s in %s (nothing downloaded, nothing changed)\n", p.Action, p.Root)
	if b := p.Bundle; b != nil {
		for _, m := range b.Passed {
			fmt.Fprintf(out, "  passed:     %s: %s\n", m.Version, m.Reason)
		}
		fmt.Fprintf(out, "  mirror:     %s (%s layout)\n", b.Mirror, b.Layout)
		fmt.Fprintf(out, "  bundle:     %s\n", b.URL)
		fmt.Fprintf(out, "  version:    %s\n", orWord(b.Version, "named by the bundle's VERSION"))
		if b.Size > 0 {
			fmt.Fprintf(out, "  size:       %s\n", humanBytes(b.Size))
		}
		fmt.Fprintf(out, "  sha256:     %s\n", orWord(b.SHA256, "none published"))
		fmt.Fprintf(out, "  verified:   %s (%s)\n", b.Verification, b.ChecksumSource)
		if b.SelfContained {
			fmt.Fprintln(out, "  libc:       self-contained (carries its own glibc)")
		} else if b.Glibc != "" {
			fmt.Fprintf(out, "  libc:       needs glibc %s\n", b.Glibc)
		}
		if b.Doubt != "" {
			fmt.Fprintf(out, "  may not run: %s (the install's preflight decides)\n", b.Doubt)
		}
		for _, s := range b.Skipped {
			fmt.Fprintf(out, "  skipped:    %s: %s\n", s.Version, s.Reason)
		}
	}
	for _, w := range p.Writes {
		fmt.Fprintf(out, "  would write %s\n", w)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(out, "  note:       %s\n", n)
	}
}

func orWord(s, word string) string {
	if strings.TrimSpace(s) == "" {
		return word
	}
	return s
}

// humanBytes is a size for people: 5.6 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
