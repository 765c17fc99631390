package app

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"
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

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "root", Value: "/", Usage: "target root file system; every path below is inside it", EnvVars: env("root"), Category: catTarget},
		&cli.StringFlag{Name: "prefix", Value: "/usr/local/slurm", Usage: "where the SLURM client payload lives", EnvVars: env("prefix"), Category: catTarget},
		&cli.StringFlag{Name: "bin-dir", Value: "/usr/local/bin", Usage: "where the client commands are linked", EnvVars: env("bin-dir"), Category: catTarget},
		&cli.StringFlag{Name: "log-format", Value: "auto", Usage: "auto|console|json (auto: console on a terminal, plain text otherwise)", EnvVars: env("log-format"), Category: catOutput},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug|info|warn|error", EnvVars: env("log-level"), Category: catOutput},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only warnings and errors", EnvVars: env("quiet"), Category: catOutput},
		&cli.DurationFlag{Name: "lock-timeout", Value: 5 * time.Minute, Usage: "how long to wait for another run on the same root", EnvVars: env("lock-timeout"), Category: catPolicy},
	}
}

func fetchFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "mirrors", Aliases: []string{"mirror", "m"}, Usage: "AppHub base URLs or direct artifact URLs, in order of preference (comma-separated and/or repeated)", EnvVars: env("mirrors"), Category: catSource},
		&cli.StringFlag{Name: "slurm-version", Value: "latest", Usage: "SLURM version to install: exact (22.05.8), a series (22.05: the newest 22.05.x), latest, or cluster (the newest the controller accepts)", EnvVars: env("slurm-version"), Category: catSource},
		&cli.StringFlag{Name: "arch", Usage: "target architecture (x86_64|amd64|aarch64|arm64; default: detected from the root's /bin/sh)", EnvVars: env("arch"), Category: catTarget},
		&cli.StringFlag{Name: "sha256", Usage: "expected SHA-256 of the bundle (overrides published checksums)", EnvVars: env("sha256"), Category: catSource},
		&cli.StringFlag{Name: "cache-dir", Usage: "keep verified bundles here by sha256; a matching cached bundle is used without downloading", EnvVars: env("cache-dir"), Category: catSource},
		&cli.StringFlag{Name: "from", Usage: "install a local bundle file instead of downloading (air-gapped repair)", EnvVars: env("from"), Category: catSource},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "per request: wait for response headers (and, unless --stall-timeout, for body bytes)", EnvVars: env("timeout"), Category: catNetwork},
		&cli.DurationFlag{Name: "deadline", Value: 5 * time.Minute, Usage: "for the whole download (must be positive)", EnvVars: env("deadline"), Category: catNetwork},
		&cli.BoolFlag{Name: "require-checksum", Usage: "refuse a bundle that no checksum or signature vouches for (exit 5)", EnvVars: env("require-checksum"), Category: catPolicy},
		&cli.IntFlag{Name: "retries", Value: 2, Usage: "extra attempts per mirror on retryable failures (connection errors, 5xx, 429)", EnvVars: env("retries"), Category: catNetwork},
		&cli.GenericFlag{Name: "max-size", Value: &sizeValue{2 << 30}, Usage: "cap on the download and on the unpacked bundle (2GiB, 512MiB, 500M or bytes)", EnvVars: env("max-size"), Category: catPolicy},
		&cli.IntFlag{Name: "max-entries", Value: 20000, Usage: "cap on the number of entries in the bundle", EnvVars: env("max-entries"), Category: catPolicy},
		&cli.StringFlag{Name: "pubkey", Usage: "minisign public key (RW... or a minisign.pub file): the bundle must come from an index.json signed by it (default: the key built in, if any)", EnvVars: env("pubkey"), Category: catSource},
	}, networkFlags()...)
}

func installFlags() []cli.Flag {
	return append(fetchFlags(),
		&cli.StringFlag{Name: "fallback", Value: "demo", Usage: "when no working install can be had: demo (record demo mode, exit 0) or fail (exit with the failure's code)", EnvVars: env("fallback"), Category: catPolicy},
		&cli.BoolFlag{Name: "strict", Usage: "same as --fallback fail", EnvVars: env("strict"), Category: catPolicy},
		&cli.BoolFlag{Name: "force", Usage: "reinstall even if this version is installed and intact", EnvVars: env("force"), Category: catPolicy},
		&cli.BoolFlag{Name: "repair", Usage: "put back exactly the installed files that verify --deep finds missing, changed or extra, from the cached or re-downloaded bundle", EnvVars: env("repair"), Category: catPolicy},
		&cli.BoolFlag{Name: "dry-run", Usage: "detect the target and print what would be done; change nothing", EnvVars: env("dry-run"), Category: catPolicy},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout", EnvVars: env("json"), Category: catOutput},
		&cli.BoolFlag{Name: "allow-downgrade", Usage: "with a pinned key, allow replacing the installed version with an older one", EnvVars: env("allow-downgrade"), Category: catPolicy},
		&cli.StringFlag{Name: "min-version", Usage: "refuse a bundle older than this version (e.g. 23.02.1)", EnvVars: env("min-version"), Category: catPolicy},
	)
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

func str(c *cli.Context, name string) string        { return lookup(c, name).String(name) }
func flag(c *cli.Context, name string) bool         { return lookup(c, name).Bool(name) }
func dur(c *cli.Context, name string) time.Duration { return lookup(c, name).Duration(name) }

// list returns a slice flag's values, split on commas and trimmed.
func list(c *cli.Context, name string) []string {
	var out []string
	for _, v := range lookup(c, name).StringSlice(name) {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
