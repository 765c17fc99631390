package app

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/internal/failure"
	"slurm-installer/pack"
)

func packCommand() *cli.Command {
	return &cli.Command{
		Name:      "pack",
		Usage:     "publisher side: build a bundle, its checksums and index.json in the AppHub layout",
		UsageText: "slurm-installer pack --from DIR --slurm-version V --arch A --out APPHUB_DIR",
		Flags: append(globalFlags(),
			&cli.StringFlag{Name: "from", Usage: "payload directory holding bin/sinfo, lib/, VERSION", EnvVars: env("pack-from")},
			&cli.StringFlag{Name: "slurm-version", Usage: "the bundle's SLURM version", EnvVars: env("slurm-version")},
			&cli.StringFlag{Name: "arch", Usage: "x86_64|amd64|aarch64|arm64", EnvVars: env("arch")},
			&cli.StringFlag{Name: "out", Usage: "AppHub document root (pkgs/ is written inside)", EnvVars: env("out")},
			&cli.BoolFlag{Name: "latest", Value: true, Usage: "also make this the latest bundle for its arch", EnvVars: env("latest")},
			&cli.DurationFlag{Name: "expires", Value: 30 * 24 * time.Hour, Usage: "how long the index stays valid", EnvVars: env("expires")},
		),
		Before: setup,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return failure.New(failure.Usage, "unexpected argument %q", c.Args().First())
			}
			for _, f := range []string{"from", "slurm-version", "arch", "out"} {
				if c.String(f) == "" {
					return failure.New(failure.Usage, "pack needs --%s", f).WithHint("slurm-installer pack --from DIR --slurm-version V --arch A --out APPHUB_DIR")
				}
			}
			r, err := pack.Pack(pack.Options{From: c.String("from"), Version: c.String("slurm-version"), Arch: c.String("arch"),
				Out: c.String("out"), Latest: c.Bool("latest"), Expires: c.Duration("expires")})
			if err != nil {
				return err
			}
			st.log.Info().Str("tarball", r.Tarball).Str("sha256", r.SHA256).Int64("bytes", r.Size).Int("files", r.Files).
				Str("index", r.Index).Msg("bundle packed")
			fmt.Fprintln(st.stdout, r.Tarball)
			return nil
		},
	}
}
