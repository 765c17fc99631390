package app

// The install command: flags → run.Request; run.Result → output. The workflow itself is
// internal/run's.
import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/policy"
	"slurm-installer/internal/run"
)

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
}

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
		d, err := bundle.ParseDigest(cfg.sha)
		if err != nil {
			return failure.New(failure.Usage, "--sha256 %q is not a SHA-256 digest (64 hex characters)", cfg.sha)
		}
		cfg.sha = string(d)
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

// request is the run.Request of these options (validated).
func (cfg *installConfig) request(u *ui) run.Request {
	return run.Request{RootDir: cfg.rootDir, Prefix: cfg.prefix, BinDir: cfg.binDir, LockWait: cfg.lockWait,
		Mirrors: cfg.mirrors, Version: cfg.version, Requested: cfg.requested, Arch: cfg.arch, SHA256: cfg.sha,
		From: cfg.from, CacheDir: cfg.cacheDir, Fallback: cfg.fallback, Force: cfg.force, Repair: cfg.repair,
		DryRun: cfg.dryRun, RequireChecksum: cfg.requireChecksum, Limits: cfg.limits,
		Timeout: cfg.timeout, Deadline: cfg.deadline, Retries: cfg.retries,
		Net:    func(o *fetch.Options) { cfg.net.apply(o, u.stderr) },
		Policy: cfg.policy, MinVersion: cfg.policyRaw.MinVersion,
		InstallerVersion: Version, Log: u.log, Hint: u.hint}
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
		Before: u.before(b, &cfg.out, &cfg.targetOptions), Action: func(c *cli.Context) error { return u.runInstall(c, cfg) }}
}

func (u *ui) runInstall(c *cli.Context, cfg *installConfig) error {
	if err := cfg.validate(c, u, true); err != nil {
		return err
	}
	res, err := run.Install(c.Context, cfg.request(u))
	if res.Plan != nil { // --dry-run: the plan for people (under --json the result has it)
		u.printPlan(cfg, res.Plan)
		if err != nil && res.Exit != 0 {
			if ferr := u.finish(cfg, res); ferr != nil {
				return ferr
			}
			return quietError{err} // logged with its class and hint as the plan's failure
		}
	}
	if err != nil {
		return u.failed(cfg, res, err)
	}
	return u.finish(cfg, res)
}

// failed prints the result of a run that ends with err (under --json) and
// returns err.
func (u *ui) failed(cfg *installConfig, res *run.Result, err error) error {
	c := failure.ClassOf(err)
	if res.Status == "" {
		res.Status = "failed"
	}
	res.Reason, res.Class, res.Exit, res.WouldExit = err.Error(), c.String(), int(c), int(c)
	res.Hint = u.hint(err)
	if ferr := u.finish(cfg, res); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

func (u *ui) finish(cfg *installConfig, res *run.Result) error {
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	if cfg.json {
		u.jsonDone = true
		enc := json.NewEncoder(fetch.RedactWriter(u.stdout))
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return nil
}
