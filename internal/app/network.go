package app

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/httpx"
	"slurm-installer/internal/run"
	"slurm-installer/internal/safeio"
)

// netConfig is how downloads behave under faults (issue 4): timeouts,
// racing, extra CAs and progress reporting.
type netConfig struct {
	connect   time.Duration
	stall     time.Duration
	raceDelay time.Duration
	caCert    string
	caPool    *x509.CertPool // the system's CAs plus --ca-cert's, loaded once by validate
	progress  fetch.ProgressMode
}

// validate checks the network options and picks the progress mode for
// the output options.
func (n *netConfig) validate(out outputOptions, stderr io.Writer) error {
	if n.connect <= 0 {
		return failure.New(failure.Usage, "--connect-timeout must be positive")
	}
	if n.stall < 0 {
		return failure.New(failure.Usage, "--stall-timeout must not be negative")
	}
	var err error
	if n.caPool, err = loadCAPool(n.caCert); err != nil {
		return err
	}
	if err := checkRegistryAuthFile(); err != nil {
		return err
	}
	switch {
	case out.quiet || !strings.EqualFold(out.logLevel, "info") && !strings.EqualFold(out.logLevel, "debug"):
		n.progress = fetch.ProgressOff
	case out.logFormat != "json" && isTerminal(stderr):
		n.progress = fetch.ProgressLive
	default:
		n.progress = fetch.ProgressLog
	}
	if n.raceDelay == 0 {
		n.raceDelay = -1 // 0 on the command line: no racing
	}
	return nil
}

func (n netConfig) apply(o *fetch.Options, progressOut io.Writer) {
	o.Connect, o.Stall, o.RaceDelay, o.RootCAs = n.connect, n.stall, n.raceDelay, n.caPool
	o.RegistryAuthFile = registryAuthFile()
	o.Progress, o.ProgressOut = n.progress, progressOut
}

// maxCACertFile caps the --ca-cert file (a PEM bundle of every public CA
// is ~250 KiB): /dev/zero or a FIFO is refused at once, never read forever.
const maxCACertFile = 4 << 20

// loadCAPool is the system's CA pool plus the PEM file at p (--ca-cert),
// read as a regular file with a cap; nil (the system's) when p is "". The
// one place --ca-cert is read: fetch and oci take the pool.
func loadCAPool(p string) (*x509.CertPool, error) {
	if p == "" {
		return nil, nil
	}
	pem, err := safeio.ReadFile(p, maxCACertFile)
	if err != nil {
		return nil, failure.New(failure.Usage, "--ca-cert: %w", err)
	}
	pool, ok := httpx.CertPool(pem)
	if !ok {
		return nil, failure.New(failure.Usage, "--ca-cert %s: no PEM certificate in the file", p).
			WithHint("pass the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// fetchToCache is `fetch --cache-dir D` without --out: download and verify
// into the cache (obtain stores every verified archive there; nothing is
// downloaded when a matching bundle is already cached) and print the cached
// file's path.
func (u *ui) fetchToCache(c *cli.Context, cfg *installConfig, t *run.Target) error {
	tmp, err := tempDirIn(cfg.cacheDir)
	if err != nil {
		return failure.New(failure.FileSystem, "--cache-dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	art, err := run.Obtain(c.Context, cfg.request(u), t, tmp)
	if err != nil {
		return err
	}
	if art.Cleanup != nil {
		defer art.Cleanup()
	}
	if art.Tree {
		return failure.New(failure.Usage, "the mirror serves a file tree, which --cache-dir cannot keep").WithHint("pass --out DIR")
	}
	cached := art.Path
	if art.Layout != bundle.LayoutCache {
		cached = run.CacheEntryPath(cfg.cacheDir, art)
	}
	if _, err := os.Stat(cached); err != nil {
		return failure.New(failure.FileSystem, "the bundle could not be written to --cache-dir %s: %w", cfg.cacheDir, err)
	}
	u.log.Info().Str("file", cached).Str("sha256", art.SHA256).Str("checksum", art.ChecksumSource).Msg("bundle fetched and verified into the cache")
	fmt.Fprintln(u.stdout, cached)
	return nil
}

// tempDirIn makes a scratch directory inside dir (creating dir), so a
// verified download can be renamed into place on the same file system.
func tempDirIn(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(dir, ".slurm-installer-fetch-")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err = io.Copy(out, in); err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
