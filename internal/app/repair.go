package app

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
)

// runRepair is `install --repair`: the receipt's version stays installed and
// only the entries a deep check finds missing, changed or extra are put back,
// from the cached bundle (by the receipt's sha256) or a fresh download of
// it. The fallback policy does not apply: a failed repair exits with its
// class and never records demo mode.
func (u *ui) runRepair(ctx context.Context, cfg *installConfig, t *target, in *install.Installer, prev *install.Receipt, res *result, start time.Time) error {
	log := u.log
	if cfg.force {
		return failure.New(failure.Usage, "--repair and --force do not go together").
			WithHint("--repair puts back broken files of the installed version; --force reinstalls everything")
	}
	if prev == nil || prev.Mode != install.ModeReal {
		return failure.New(failure.NotInstalled, "nothing to repair: no real install is recorded in %s", install.ReceiptPath).
			WithHint("run install without --repair")
	}
	if cfg.version != "latest" && cfg.version != prev.Version {
		return failure.New(failure.Usage, "--repair restores the installed %s, not %s", prev.Version, cfg.version).
			WithHint("drop --slurm-version, or install %s without --repair", cfg.version)
	}
	res.Version, res.Source = prev.Version, prev.Source
	probs := in.CheckIntact(prev, true)
	if len(probs) == 0 {
		res.Status = "unchanged"
		log.Info().Str("version", prev.Version).Msg("every installed file matches the receipt; nothing to repair")
		return u.finish(cfg, res, start)
	}
	for _, p := range probs {
		log.Info().Str("path", p.Path).Str("problem", p.What).Msg("needs repair")
	}
	cfg.version = prev.Version
	if cfg.sha == "" && prev.Layout != "tree" {
		cfg.sha = prev.SHA256 // the cache is looked up by it, and a download must match it
	}
	if cfg.from == "" && len(cfg.mirrors) == 0 {
		cfg.mirrors = receiptSources(prev, cfg.rootDir)
		if len(cfg.mirrors) == 0 && cfg.cacheDir == "" {
			return failure.New(failure.Usage, "nothing to repair from: no --mirrors, --from or --cache-dir given and the receipt names no source URL").
				WithHint("pass --mirrors http://apphub.example/ (or SLURM_INSTALLER_MIRRORS), --cache-dir DIR or --from FILE")
		}
		if len(cfg.mirrors) > 0 {
			log.Info().Strs("sources", redactAll(cfg.mirrors)).Msg("no --mirrors given: repairing from where the receipt says the bundle came from")
		}
	}
	tmp, err := downloadDir(in)
	if err != nil {
		return failure.New(failure.FileSystem, "create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	art, err := u.obtain(ctx, cfg, t, tmp, log)
	if err != nil {
		return err
	}
	if art.Cleanup != nil {
		defer art.Cleanup()
	}
	done, err := in.Repair(ctx, prev, install.Source{Path: art.Path, Tree: art.Tree})
	for _, d := range done {
		log.Info().Msg("repaired " + d)
	}
	if err != nil {
		return err
	}
	if left := in.CheckIntact(prev, true); len(left) > 0 {
		var s []string
		for _, p := range left {
			s = append(s, p.String())
		}
		return failure.New(failure.Verify, "repair left %d problem(s): %s", len(left), strings.Join(s, "; ")).
			WithHint("run install --force to reinstall")
	}
	verified, err := runVerify0(ctx, cfg.rootDir, in.Options(), prev.Version, log)
	if err != nil {
		return err
	}
	res.Status, res.Verified = "repaired", verified
	log.Info().Str("version", prev.Version).Int("repaired", len(done)).Str("verified", verified).Msg("SLURM client repaired")
	return u.finish(cfg, res, start)
}

// downloadDir is where a run downloads to: inside the root's state
// directory, where the next run removes what a killed run left, or the
// system temp directory when the root is not writable.
func downloadDir(in *install.Installer) (string, error) {
	if d, err := in.TempDir(); err == nil {
		return d, nil
	}
	return os.MkdirTemp("", "slurm-installer-")
}

// receiptSources are the URLs a repair with no --mirrors fetches from: the
// artifact the receipt names (a direct URL, pinned by the receipt's sha256),
// then the mirror it came from. Entries that are not URLs (a cache hit records
// "--cache-dir" as its mirror) are left out.
//
// The receipt is inside the root, so it is untrusted (issue 23): a
// file:// source is followed only when it names a path inside the root; one
// outside it (a host file a planted receipt names) is never opened, hashed
// or logged.
func receiptSources(prev *install.Receipt, rootDir string) []string {
	var out []string
	add := func(s string, direct bool) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
			return
		}
		if u.Scheme == "file" && !insideRoot(rootDir, u.Path) {
			return
		}
		if pw, ok := u.User.Password(); ok && pw == redactedPassword {
			return // the receipt keeps no credentials: this one needs --mirrors
		}
		if direct && !slices.ContainsFunc(fetch.ArchiveSuffixes, func(x string) bool { return strings.HasSuffix(strings.ToLower(u.Path), x) }) {
			return
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if prev.Layout != "tree" {
		add(prev.Source, true)
	}
	add(prev.Mirror, false)
	return out
}

// insideRoot says whether the host path p is rootDir or below it.
func insideRoot(rootDir, p string) bool {
	root := filepath.Clean(rootDir)
	p = filepath.Clean(p)
	if !filepath.IsAbs(p) || !filepath.IsAbs(root) {
		return false
	}
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}

// redactedPassword is what fetch.Redact puts in place of a password.
const redactedPassword = fetch.Redacted

// redactURL drops a URL's password (DESIGN.md §4: credentials never reach
// the receipt, which stays in the image), through fetch's one choke point.
func redactURL(s string) string { return fetch.Redact(s) }

func redactAll(us []string) []string {
	out := make([]string, len(us))
	for i, s := range us {
		out[i] = redactURL(s)
	}
	return out
}
