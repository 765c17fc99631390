package run

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
)

// repair is `install --repair`: the receipt's version stays installed and
// only the entries a deep check finds missing, changed or extra are put back,
// from the cached bundle (by the receipt's sha256) or a fresh download of
// it. The fallback policy does not apply: a failed repair exits with its
// class and never records demo mode.
func (r *Run) repair(ctx context.Context) (*Result, error) {
	log, prev, in, req, res := r.log, r.prev, r.in, &r.req, r.res
	if req.Force {
		return res, failure.New(failure.Usage, "--repair and --force do not go together").
			WithHint("--repair puts back broken files of the installed version; --force reinstalls everything")
	}
	if prev == nil || prev.Mode != install.ModeReal {
		return res, failure.New(failure.NotInstalled, "nothing to repair: no real install is recorded in %s", install.ReceiptPath).
			WithHint("run install without --repair")
	}
	if req.Version != "latest" && req.Version != prev.Version {
		return res, failure.New(failure.Usage, "--repair restores the installed %s, not %s", prev.Version, req.Version).
			WithHint("drop --slurm-version, or install %s without --repair", req.Version)
	}
	res.Version, res.Source = prev.Version, prev.Source
	probs := in.CheckIntact(prev, true)
	if len(probs) == 0 {
		res.Status = "unchanged"
		log.Info().Str("version", prev.Version).Msg("every installed file matches the receipt; nothing to repair")
		return res, nil
	}
	for _, p := range probs {
		log.Info().Str("path", p.Path).Str("problem", p.What).Msg("needs repair")
	}
	// What to repair from: the receipt's version, pinned by its sha256, from where it came.
	req.Version = prev.Version
	if req.SHA256 == "" && prev.Layout != bundle.LayoutTree {
		req.SHA256 = prev.SHA256 // the cache is looked up by it, and a download must match it
	}
	if req.From == "" && len(req.Mirrors) == 0 {
		req.Mirrors = receiptSources(prev, req.RootDir)
		if len(req.Mirrors) == 0 && req.CacheDir == "" {
			return res, failure.New(failure.Usage, "nothing to repair from: no --mirrors, --from or --cache-dir given and the receipt names no source URL").
				WithHint("pass --mirrors http://apphub.example/ (or SLURM_INSTALLER_MIRRORS), --cache-dir DIR or --from FILE")
		}
		if len(req.Mirrors) > 0 {
			log.Info().Strs("sources", redactAll(req.Mirrors)).Msg("no --mirrors given: repairing from where the receipt says the bundle came from")
		}
	}
	tmp, err := downloadDir(in)
	if err != nil {
		return res, failure.New(failure.FileSystem, "create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	art, err := r.obtain(ctx, req.Version, tmp)
	if err != nil {
		return res, err
	}
	if art.Cleanup != nil {
		defer art.Cleanup()
	}
	done, err := in.Repair(ctx, prev, install.Source{Path: art.Path, Tree: art.Tree})
	for _, d := range done {
		log.Info().Msg("repaired " + d)
	}
	if err != nil {
		return res, err
	}
	if left := in.CheckIntact(prev, true); len(left) > 0 {
		var s []string
		for _, p := range left {
			s = append(s, p.String())
		}
		return res, failure.New(failure.Verify, "repair left %d problem(s): %s", len(left), strings.Join(s, "; ")).
			WithHint("run install --force to reinstall")
	}
	verified, err := runVerify0(ctx, req.RootDir, in.Options(), prev.Version, log)
	if err != nil {
		return res, err
	}
	res.Status, res.Verified = "repaired", verified
	log.Info().Str("version", prev.Version).Int("repaired", len(done)).Str("verified", verified).Msg("SLURM client repaired")
	return res, nil
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
// then the mirror it came from (an AppHub, or an oci:// registry). Entries that are not URLs (a cache hit records
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
		if err != nil || !slices.Contains([]string{"http", "https", "file", "oci"}, u.Scheme) {
			return // an oci:// mirror is a registry: the pinned sha256 finds the bundle there (issue 22)
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
	if prev.Layout != bundle.LayoutTree {
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
