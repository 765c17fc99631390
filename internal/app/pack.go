package app

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/internal/failure"
	"slurm-installer/pack"
	"slurm-installer/trust"
)

func packCommand() *cli.Command {
	return &cli.Command{
		Name:      "pack",
		Usage:     "publisher side: build a bundle, its checksums and index.json in the AppHub layout",
		UsageText: "slurm-installer pack --from DIR --slurm-version V --arch A --out APPHUB_DIR|oci://HOST/REPO [--sign-key minisign.key] [--self-contained [--sysroot DIR] [--prefix P]]",
		Flags: append(globalFlags(),
			&cli.StringFlag{Name: "from", Usage: "payload directory holding bin/sinfo, lib/, VERSION", EnvVars: env("pack-from")},
			&cli.StringFlag{Name: "slurm-version", Usage: "the bundle's SLURM version", EnvVars: env("slurm-version")},
			&cli.StringFlag{Name: "arch", Usage: "x86_64|amd64|aarch64|arm64", EnvVars: env("arch")},
			&cli.StringFlag{Name: "out", Usage: "AppHub document root (pkgs/ is written inside), or oci://HOST/REPO to push to a registry", EnvVars: env("out")},
			&cli.BoolFlag{Name: "latest", Value: true, Usage: "also make this the latest bundle for its arch", EnvVars: env("latest")},
			&cli.DurationFlag{Name: "expires", Value: 30 * 24 * time.Hour, Usage: "how long the index stays valid (installers with a pinned key refuse it after that)", EnvVars: env("expires")},
			&cli.BoolFlag{Name: "self-contained", Usage: "also pack glibc's loader and libraries and point the ELFs at them (needs patchelf here), so the bundle runs on musl, distroless or any root of its arch; it installs only at --prefix", EnvVars: env("self-contained")},
			&cli.StringFlag{Name: "sysroot", Value: "/", Usage: "with --self-contained: the root to take glibc from (the one the payload was built against)", EnvVars: env("sysroot")},
			&cli.StringFlag{Name: "ca-cert", Usage: "with --out oci://: PEM file with a CA to trust besides the system's", EnvVars: env("ca-cert")},
			&cli.StringFlag{Name: "sign-key", Usage: "minisign secret key file: write pkgs/slurm/index.json.minisig (an encrypted key reads its password from " + trust.PasswordEnv + ")", EnvVars: env("sign-key")},
		),
		Before: setup,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return unknownCommand(c.App, c.Args().First())
			}
			for _, f := range []string{"from", "slurm-version", "arch", "out"} {
				if c.String(f) == "" {
					return failure.New(failure.Usage, "pack needs --%s", f).WithHint("slurm-installer pack --from DIR --slurm-version V --arch A --out APPHUB_DIR")
				}
			}
			if c.Duration("expires") <= 0 {
				return failure.New(failure.Usage, "--expires must be positive")
			}
			if urlLike.MatchString(c.String("out")) {
				return packToRegistry(c) // pack_oci.go: oci://HOST/REPO, any other URL is a usage error
			}
			var signer *trust.Signer
			if k := c.String("sign-key"); k != "" {
				s, err := trust.LoadSigner(k)
				if err != nil {
					return err
				}
				signer = s
			}
			r, err := pack.Pack(pack.Options{From: c.String("from"), Version: c.String("slurm-version"), Arch: c.String("arch"),
				Out: c.String("out"), Latest: c.Bool("latest"), Expires: c.Duration("expires"), Signer: signer,
				SelfContained: c.Bool("self-contained"), Sysroot: c.String("sysroot"), Prefix: str(c, "prefix")})
			if err != nil {
				return err
			}
			st.log.Info().Str("tarball", r.Tarball).Str("sha256", r.SHA256).Int64("bytes", r.Size).Int("files", r.Files).
				Str("index", r.Index).Int64("serial", r.Serial).Str("expires", r.Expires.Format(time.RFC3339)).Msg("bundle packed")
			if c.Bool("self-contained") {
				st.log.Info().Str("prefix", str(c, "prefix")).Int("system_libs", len(r.SystemLibs)).Strs("added", r.SystemLibs).
					Msg("self-contained: glibc's loader and libraries are in the bundle; install it with --prefix " + str(c, "prefix") + " only")
			}
			if signer != nil {
				st.log.Info().Str("signature", r.Sig).Str("key_id", signer.ID()).Str("pubkey", signer.PublicKey().String()).
					Msg("index signed; pin the key with --pubkey on the installers")
			} else {
				st.log.Warn().Msg("index is unsigned: installers with --pubkey will refuse this mirror (pass --sign-key)")
			}
			fmt.Fprintln(st.stdout, r.Tarball)
			return nil
		},
	}
}
