package run

// install --dry-run (issue 26): resolve exactly what a run would do —
// which mirror, which bundle, its checksum and how it is verified, what is
// skipped and why, what would be written — and download no bundle.
import (
	"context"
	"fmt"
	"path"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/slurmver"
)

// Plan is what --dry-run resolved (Result.Plan).
type Plan struct {
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
// nothing downloaded but indexes, listings, checksums and manifests). A plan that fails
// returns the failure with Result.Exit set when the real run would exit with it (not under
// --fallback demo, where it would record demo mode and exit 0).
func (r *Run) dryRun(ctx context.Context) (*Result, error) {
	log, req, res, t := r.log, &r.req, r.res, r.t
	res.Status = "dry-run"
	p := &Plan{Action: "install", Root: req.RootDir, Writes: []string{}, Notes: []string{}}
	res.Plan = p
	prev, err := r.in.ReadReceipt()
	if err != nil {
		prev = nil
	}
	working := prev != nil && prev.Mode == install.ModeReal && len(r.in.CheckIntact(prev, false)) == 0
	if working && !req.Force && !req.Repair && !req.cluster() && slurmver.Matches(req.Version, prev.Version) && prev.Arch == t.Arch &&
		req.Policy.CheckVersion(prev.Version, nil) == nil {
		p.Action = "unchanged"
		res.Version, res.Source, res.Verification = prev.Version, prev.Source, prev.Verification
		p.Notes = append(p.Notes, fmt.Sprintf("SLURM %s is installed and intact: nothing to do (--force reinstalls)", prev.Version))
		log.Info().Str("version", prev.Version).Msg("dry run: already installed and intact; a run would change nothing")
		return res, nil
	}
	version := req.Version
	if req.cluster() {
		p.Notes = append(p.Notes, "--slurm-version cluster asks the controller at install time; the plan below is for latest")
		version = "latest"
	}
	switch {
	case req.From != "":
		p.Bundle = &fetch.Planned{Mirror: "--from", Layout: bundle.LayoutFile, URL: "file://" + req.From, Skipped: []fetch.Skip{}, Passed: []fetch.Skip{}}
		if req.SHA256 != "" {
			p.Bundle.SHA256, p.Bundle.ChecksumSource, p.Bundle.Verification = req.SHA256, "pinned digest", bundle.Pinned
		} else {
			p.Bundle.ChecksumSource, p.Bundle.Verification = "a .sha256 beside it, if there is one", bundle.Sidecar
		}
	default:
		fo := r.fetchOpts(version, "")
		fo.Progress = fetch.ProgressOff
		b, err := fetch.Plan(ctx, fo)
		if err != nil {
			c := failure.ClassOf(err)
			p.Action = "fail"
			res.Reason, res.Class, res.WouldExit = err.Error(), c.String(), int(c)
			if req.Hint != nil {
				res.Hint = req.Hint(err)
			}
			if req.Fallback == "demo" && c != failure.Usage {
				p.Notes = append(p.Notes, "under --fallback demo the run would record demo mode and exit 0 (--strict exits "+fmt.Sprint(int(c))+")")
			} else {
				res.Exit = int(c)
			}
			log.Warn().Str("class", c.String()).Int("would_exit", int(c)).Str("hint", res.Hint).Msg("dry run: " + err.Error())
			if res.Exit != 0 {
				return res, err
			}
			return res, nil
		}
		p.Bundle = b
		res.Version, res.Source, res.Verification = b.Version, b.URL, b.Verification
	}
	p.Writes = plannedWrites(req, t, r.in.Options(), p.Bundle)
	log.Info().Str("mirror", p.Bundle.Mirror).Str("url", p.Bundle.URL).Str("version", p.Bundle.Version).
		Str("verification", string(p.Bundle.Verification)).Msg("dry run: resolved; nothing downloaded, nothing changed")
	return res, nil
}

// plannedWrites are the paths an install of b would write in the root.
func plannedWrites(req *Request, t *Target, o install.Options, b *fetch.Planned) []string {
	w := []string{
		o.Prefix + " (the payload, " + o.Prefix + "/bin, lib, ...)",
		o.BinDir + "/<each command in the bundle's bin/> (links)",
		install.ProfileScript,
	}
	switch {
	case b != nil && b.SelfContained:
		// its RUNPATHs resolve everything: no loader config
	case t.Libc == bundle.Musl:
		w = append(w, "/etc/ld-musl-"+t.Arch+".path (the bundle's lib/ added to musl's search path)")
	default:
		w = append(w, "/etc/ld.so.conf.d/slurm.conf and the loader cache (the bundle's lib/)")
	}
	w = append(w, "/etc/slurm (the bundle's example configs, where the site has none)", install.ReceiptPath)
	if req.CacheDir != "" {
		w = append(w, path.Join(req.CacheDir, "<sha256>")+" (outside the root: the verified bundle, cached)")
	}
	return w
}
