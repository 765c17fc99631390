package app

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
)

// env is the environment variable that also sets a flag (docs/DESIGN.md §2).
func env(name string) []string {
	return []string{"SLURM_INSTALLER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

const (
	catTarget  = "Target"
	catSource  = "Source"
	catPolicy  = "Policy"
	catNetwork = "Network"
	catOutput  = "Output"
)

// A binder declares flags together with the option fields they fill: each
// flag is written once (name, default, environment variable, usage) next to
// its destination, and load copies the parsed values into the
// destinations. Values come from wherever a flag was set — the command line
// before or after the command name, or its environment variable — so no
// code reads a flag back by name.
type binder struct {
	loads []func(*cli.Context)
	set   map[string]bool
}

func (b *binder) add(name string, load func(*cli.Context)) {
	b.loads = append(b.loads, func(c *cli.Context) {
		cc := lookup(c, name)
		if b.set == nil {
			b.set = map[string]bool{}
		}
		b.set[name] = cc.IsSet(name)
		load(cc)
	})
}

// load fills every bound field from c.
func (b *binder) load(c *cli.Context) {
	for _, l := range b.loads {
		l(c)
	}
}

// isSet reports whether the flag was given (on the command line or through
// its environment variable), even to an empty value.
func (b *binder) isSet(name string) bool { return b.set[name] }

func withEnv(name string, envVars []string) []string {
	if envVars == nil {
		return env(name)
	}
	return envVars
}

// bind sets dst to the flag's default and loads the parsed value into it.
func bind[T any](b *binder, dst *T, name string, value T, get func(*cli.Context, string) T) {
	*dst = value
	b.add(name, func(c *cli.Context) { *dst = get(c, name) })
}

func (b *binder) String(dst *string, f *cli.StringFlag) cli.Flag {
	f.EnvVars = withEnv(f.Name, f.EnvVars)
	bind(b, dst, f.Name, f.Value, (*cli.Context).String)
	return f
}

func (b *binder) Bool(dst *bool, f *cli.BoolFlag) cli.Flag {
	f.EnvVars = withEnv(f.Name, f.EnvVars)
	bind(b, dst, f.Name, f.Value, (*cli.Context).Bool)
	return f
}

func (b *binder) Duration(dst *time.Duration, f *cli.DurationFlag) cli.Flag {
	f.EnvVars = withEnv(f.Name, f.EnvVars)
	bind(b, dst, f.Name, f.Value, (*cli.Context).Duration)
	return f
}

func (b *binder) Int(dst *int, f *cli.IntFlag) cli.Flag {
	f.EnvVars = withEnv(f.Name, f.EnvVars)
	bind(b, dst, f.Name, f.Value, (*cli.Context).Int)
	return f
}

// List binds a repeatable flag whose values may also be comma-separated;
// the destination gets them split and trimmed.
func (b *binder) List(dst *[]string, f *cli.StringSliceFlag) cli.Flag {
	f.EnvVars = withEnv(f.Name, f.EnvVars)
	b.add(f.Name, func(c *cli.Context) {
		var out []string
		for _, v := range c.StringSlice(f.Name) {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		*dst = out
	})
	return f
}

// Size binds a byte count that reads units (2GiB, 512M).
func (b *binder) Size(dst *int64, name string, value int64, usage, cat string) cli.Flag {
	*dst = value
	b.add(name, func(c *cli.Context) {
		if v, ok := c.Generic(name).(*sizeValue); ok && v != nil {
			*dst = v.n
		}
	})
	return &cli.GenericFlag{Name: name, Value: &sizeValue{value}, Usage: usage, EnvVars: env(name), Category: cat}
}

// lookup finds the context in c's lineage where a flag was set (on the
// command line or through its environment variable), so global flags work
// before or after the command name.
func lookup(c *cli.Context, name string) *cli.Context {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc
		}
	}
	return c
}

// outputOptions are every command's logging flags.
type outputOptions struct {
	logFormat, logLevel string
	quiet               bool
}

func (o *outputOptions) flags(b *binder) []cli.Flag {
	return []cli.Flag{
		b.String(&o.logFormat, &cli.StringFlag{Name: "log-format", Value: "auto", Usage: "auto|console|json (auto: console on a terminal, plain text otherwise)", Category: catOutput}),
		b.String(&o.logLevel, &cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug|info|warn|error", Category: catOutput}),
		b.Bool(&o.quiet, &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only warnings and errors", Category: catOutput}),
	}
}

// The target flags' defaults.
const (
	defaultPrefix = "/usr/local/slurm"
	defaultBinDir = "/usr/local/bin"
)

// targetOptions say which root and where in it.
type targetOptions struct {
	rootDir, prefix, binDir string
}

func (o *targetOptions) flags(b *binder) []cli.Flag {
	return []cli.Flag{
		b.String(&o.rootDir, &cli.StringFlag{Name: "root", Value: "/", Usage: "target root file system; every path below is inside it", Category: catTarget}),
		b.String(&o.prefix, &cli.StringFlag{Name: "prefix", Value: defaultPrefix, Usage: "where the SLURM client payload lives", Category: catTarget}),
		b.String(&o.binDir, &cli.StringFlag{Name: "bin-dir", Value: defaultBinDir, Usage: "where the client commands are linked", Category: catTarget}),
	}
}

func rootFlag(b *binder, dst *string) cli.Flag {
	return b.String(dst, &cli.StringFlag{Name: "root", Value: "/", Usage: "target root file system; every path below is inside it", Category: catTarget})
}

func lockFlag(b *binder, dst *time.Duration) cli.Flag {
	return b.Duration(dst, &cli.DurationFlag{Name: "lock-timeout", Value: 5 * time.Minute, Usage: "how long to wait for another run on the same root", Category: catPolicy})
}

// sourceFlags are where a bundle comes from and how it is downloaded
// (install and fetch).
func (cfg *installConfig) sourceFlags(b *binder) []cli.Flag {
	n := &cfg.net
	return []cli.Flag{
		b.List(&cfg.mirrors, &cli.StringSliceFlag{Name: "mirrors", Aliases: []string{"mirror", "m"}, Usage: "AppHub base URLs, direct artifact URLs or oci://HOST/REPO registries, in order of preference (comma-separated or repeated)", Category: catSource}),
		b.String(&cfg.version, &cli.StringFlag{Name: "slurm-version", Value: "latest", Usage: "SLURM version to install: exact (22.05.8), a series (22.05: the newest 22.05.x), latest, or cluster (the newest the controller accepts)", Category: catSource}),
		b.String(&cfg.arch, &cli.StringFlag{Name: "arch", Usage: "target architecture (x86_64|amd64|aarch64|arm64; default: detected from the root's /bin/sh)", Category: catTarget}),
		b.String(&cfg.sha, &cli.StringFlag{Name: "sha256", Usage: "expected SHA-256 of the bundle, hex or sha256:HEX (overrides published checksums)", Category: catSource}),
		b.Bool(&cfg.requireChecksum, &cli.BoolFlag{Name: "require-checksum", Usage: "refuse (exit 5) a bundle that no checksum vouches for (no --sha256, index, sidecar or SHA256SUMS)", Category: catPolicy}),
		b.String(&cfg.cacheDir, &cli.StringFlag{Name: "cache-dir", Usage: "keep verified bundles here by sha256; a matching cached bundle is used without downloading", Category: catSource}),
		b.String(&cfg.from, &cli.StringFlag{Name: "from", Usage: "install a local bundle file instead of downloading (air-gapped repair)", Category: catSource}),
		b.Duration(&cfg.timeout, &cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "per request: wait for response headers (and, unless --stall-timeout, for body bytes)", Category: catNetwork}),
		b.Duration(&cfg.deadline, &cli.DurationFlag{Name: "deadline", Value: 5 * time.Minute, Usage: "for the whole download, backoff included (must be positive)", Category: catNetwork}),
		b.Int(&cfg.retries, &cli.IntFlag{Name: "retries", Value: 2, Usage: "extra attempts per mirror on retryable failures (connection errors, 5xx, 429)", Category: catNetwork}),
		b.Size(&cfg.limits.MaxSize, "max-size", 2<<30, "cap on the download and on the unpacked bundle (2GiB, 512MiB, 500M or bytes)", catPolicy),
		b.Int(&cfg.limits.MaxEntries, &cli.IntFlag{Name: "max-entries", Value: 20000, Usage: "cap on the number of entries in the bundle", Category: catPolicy}),
		b.String(&cfg.policyRaw.PubKey, &cli.StringFlag{Name: "pubkey", Usage: "minisign public key (RW... or a minisign.pub file): the bundle must come from an index.json signed by it (default: the key built in, if any)", Category: catSource}),
		b.Duration(&n.connect, &cli.DurationFlag{Name: "connect-timeout", Value: 5 * time.Second, Usage: "per connection: TCP connect and TLS handshake", Category: catNetwork}),
		b.Duration(&n.stall, &cli.DurationFlag{Name: "stall-timeout", Usage: "cut and resume a download that brings no bytes for this long", DefaultText: "--timeout", Category: catNetwork}),
		b.Duration(&n.raceDelay, &cli.DurationFlag{Name: "race-delay", Value: fetch.DefaultRaceDelay, Usage: "start the next mirror as well when the current one has not answered within this (negative: one mirror at a time)", Category: catNetwork}),
		b.String(&n.caCert, &cli.StringFlag{Name: "ca-cert", Usage: "PEM file with a CA to trust besides the system's (an internal HTTPS AppHub)", Category: catNetwork}),
	}
}

// installFlags are the install command's own flags (policy and output).
func (cfg *installConfig) installFlags(b *binder) []cli.Flag {
	return []cli.Flag{
		b.String(&cfg.fallback, &cli.StringFlag{Name: "fallback", Value: "demo", Usage: "when no working install can be had: demo (record demo mode, exit 0) or fail (exit with the failure's code)", Category: catPolicy}),
		b.Bool(&cfg.strict, &cli.BoolFlag{Name: "strict", Usage: "same as --fallback fail", Category: catPolicy}),
		b.Bool(&cfg.force, &cli.BoolFlag{Name: "force", Usage: "reinstall even if this version is installed and intact; move aside (to a backup uninstall restores) what stands where the install must write", Category: catPolicy}),
		b.Bool(&cfg.repair, &cli.BoolFlag{Name: "repair", Usage: "put back exactly the installed files that verify --deep finds missing, changed or extra, from the cached or re-downloaded bundle", Category: catPolicy}),
		b.Bool(&cfg.dryRun, &cli.BoolFlag{Name: "dry-run", Usage: "resolve what a run would do (which mirror, which bundle, its checksum and how it is verified, what is skipped and why, what would be written); download no bundle, change nothing", Category: catPolicy}),
		b.Bool(&cfg.json, &cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout", Category: catOutput}),
		b.Bool(&cfg.policyRaw.AllowDowngrade, &cli.BoolFlag{Name: "allow-downgrade", Usage: "with a pinned key, allow replacing the installed version with an older one", Category: catPolicy}),
		b.String(&cfg.policyRaw.MinVersion, &cli.StringFlag{Name: "min-version", Usage: "refuse a bundle older than this version (e.g. 23.02.1)", Category: catPolicy}),
	}
}
