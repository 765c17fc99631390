package app

// The fetch command: download and verify only.
import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/run"
)

// fetchOptions are fetch's: install's source flags, --root (for the
// architecture) and --out.
type fetchOptions struct {
	installConfig
	out string
}

func (u *ui) fetchCommand() *cli.Command {
	o, b := &fetchOptions{}, &binder{}
	flags := append(o.installConfig.out.flags(b), rootFlag(b, &o.rootDir))
	flags = append(flags, o.sourceFlags(b)...)
	flags = append(flags, b.String(&o.out, &cli.StringFlag{Name: "out", Usage: "file or directory to write the verified bundle to", Category: catOutput}))
	o.flagsSet = b.isSet
	return &cli.Command{Name: "fetch", Usage: "download and verify only, into --out (or --cache-dir)", Flags: flags,
		Before: u.before(b, &o.installConfig.out, &o.targetOptions), Action: func(c *cli.Context) error { return u.runFetch(c, o) }}
}

func (u *ui) runFetch(c *cli.Context, o *fetchOptions) error {
	cfg := &o.installConfig
	if err := cfg.validate(c, u, true); err != nil {
		return err
	}
	out := o.out
	if out == "" && cfg.cacheDir == "" {
		return failure.New(failure.Usage, "fetch needs --out FILE or DIR, or --cache-dir")
	}
	t, err := run.Detect(cfg.rootDir, cfg.arch, u.log)
	if err != nil {
		return err
	}
	if o.flagsSet == nil || !o.flagsSet("root") {
		// Fetching for some other root (a cache warmed on a build host):
		// judge no bundle by this host's glibc (docs/DESIGN.md §9).
		t.ForAnyRoot()
	}
	if out == "" {
		return u.fetchToCache(c, cfg, t)
	}
	if err := prepareOut(out); err != nil {
		return err
	}
	tmp, err := tempDirIn(filepath.Dir(filepath.Clean(out)))
	if err != nil {
		return failure.New(failure.FileSystem, "--out %s: %w", out, err)
	}
	defer os.RemoveAll(tmp)
	art, err := run.Obtain(c.Context, cfg.request(u), t, tmp)
	if err != nil {
		return err
	}
	if art.Cleanup != nil {
		defer art.Cleanup()
	}
	dst := out
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		dst = filepath.Join(out, cmp.Or(art.Name, filepath.Base(art.Path)))
	}
	place := os.Rename
	if art.Layout == bundle.LayoutCache {
		place = copyFile // the cached bundle stays in the cache
	}
	if err := place(art.Path, dst); err != nil {
		return failure.New(failure.FileSystem, "write %s: %w", dst, err)
	}
	if !art.Tree && art.SHA256 != "" && art.Verification != fetch.VerifiedNone {
		// A checksum beside unverified bytes would vouch for them later (issue 13).
		_ = os.WriteFile(dst+".sha256", []byte(art.SHA256+"  "+filepath.Base(dst)+"\n"), 0o644)
	}
	u.log.Info().Str("out", dst).Str("sha256", art.SHA256).Str("checksum", art.ChecksumSource).Str("verified", string(art.Verification)).Msg("bundle fetched")
	fmt.Fprintln(u.stdout, dst)
	return nil
}

// prepareOut makes --out usable before anything is downloaded: a
// directory (written with a trailing slash) that does not exist is
// created; a file whose directory does not exist is refused, naming it
// (exit 2), instead of a raw rename error after the download (issue 26).
func prepareOut(out string) error {
	if strings.HasSuffix(out, "/") {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return failure.New(failure.FileSystem, "--out %s: create the directory: %w", out, err)
		}
		return nil
	}
	dir := filepath.Dir(filepath.Clean(out))
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return failure.New(failure.Usage, "--out %s: the directory %s does not exist", out, dir).
			WithHint("create it, or end --out with / (--out %s/) to have the directory created and the bundle written into it", filepath.Clean(out))
	}
	return nil
}
