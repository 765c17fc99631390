package app

import (
	"cmp"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/index"
	"slurm-installer/pack"
	"slurm-installer/trust"
)

// signPasswordEnv holds the password of an encrypted signing key (--sign-key):
// pack never prompts, so CI passes it in the environment.
const signPasswordEnv = "SLURM_INSTALLER_SIGN_PASSWORD"

// packOptions are pack's: the publisher side takes no install target.
type packOptions struct {
	out                              outputOptions
	from, fromRoot, version, arch    string
	dest                             string
	latest, selfContained, replace   bool
	expires                          time.Duration
	sysroot, prefix, caCert, signKey string
	compress                         string
	origin                           *index.Origin // set by --from-root
}

// packCompression is the bundle format pack writes: what --compress says,
// else zstd (with the gzip tarball beside it) for a directory and gzip for
// a registry, whose one tag would otherwise be unreadable to installers
// before zstd.
func (o *packOptions) packCompression(registry bool) (string, error) {
	switch o.compress {
	case "":
		if registry {
			return string(pack.Gzip), nil
		}
		return string(pack.Zstd), nil
	case string(pack.Gzip), string(pack.Zstd):
		return o.compress, nil
	}
	return "", failure.New(failure.Usage, "--compress %q: want zstd or gzip", o.compress)
}

// assembleFromRoot is --from-root: the payload is assembled from the root
// and packed like a --from directory; the version comes from the root's
// package database unless given, the arch from the root unless given, and
// --self-contained takes glibc from that root unless --sysroot says
// otherwise.
func (u *ui) assembleFromRoot(c *cli.Context, o *packOptions) (*pack.FromRoot, error) {
	start := time.Now()
	fr, err := pack.AssembleFromRoot(o.fromRoot, o.arch)
	if err != nil {
		return nil, err
	}
	if o.version == "" && fr.Version == "" {
		fr.Cleanup()
		return nil, failure.New(failure.Usage, "the root %s has no package database that says which SLURM its client is", o.fromRoot).
			WithHint("pass --slurm-version")
	}
	o.from, o.origin = fr.Dir, fr.Origin
	o.version = cmp.Or(o.version, fr.Version)
	o.arch = cmp.Or(o.arch, fr.Arch)
	if !c.IsSet("sysroot") {
		o.sysroot = o.fromRoot
	}
	pkgs := []string{}
	for _, p := range fr.Origin.Packages {
		pkgs = append(pkgs, p.Name+"="+p.Version)
	}
	u.log.Info().Str("root", o.fromRoot).Str("prefix", fr.Prefix).Str("plugins", fr.Plugins).Str("version", o.version).
		Str("distro", fr.Origin.Distro+" "+fr.Origin.DistroVersion).Strs("commands", fr.Commands).Int("libraries", len(fr.Libs)).
		Strs("packages", pkgs).Str("took", time.Since(start).Round(time.Millisecond).String()).Msg("SLURM client found in the root")
	for _, s := range fr.Skipped {
		u.log.Warn().Str("plugin", s).Msg("plugin left out: a library it needs is not in the root")
	}
	return fr, nil
}

func (u *ui) packCommand() *cli.Command {
	o, b := &packOptions{}, &binder{}
	flags := append(o.out.flags(b),
		b.String(&o.from, &cli.StringFlag{Name: "from", Usage: "payload directory holding bin/sinfo, lib/, VERSION", EnvVars: env("pack-from")}),
		b.String(&o.fromRoot, &cli.StringFlag{Name: "from-root", Usage: "a root file system where the SLURM client is installed the distro's way (its slurm-client package, or a make install under /usr/local, /opt/slurm, /usr/local/slurm): take the commands, their libraries and plugins from it, and the version, distro and packages from its package database", EnvVars: env("pack-from-root")}),
		b.String(&o.version, &cli.StringFlag{Name: "slurm-version", Usage: "the bundle's SLURM version"}),
		b.String(&o.arch, &cli.StringFlag{Name: "arch", Usage: "x86_64|amd64|aarch64|arm64"}),
		b.String(&o.dest, &cli.StringFlag{Name: "out", Usage: "AppHub document root (pkgs/ is written inside), or oci://HOST/REPO to push to a registry"}),
		b.Bool(&o.latest, &cli.BoolFlag{Name: "latest", Value: true, Usage: "also make this the latest bundle for its arch"}),
		b.Duration(&o.expires, &cli.DurationFlag{Name: "expires", Value: 30 * 24 * time.Hour, Usage: "how long the index stays valid (installers with a pinned key refuse it after that)"}),
		b.Bool(&o.selfContained, &cli.BoolFlag{Name: "self-contained", Usage: "also pack glibc's loader and libraries and point the ELFs at them (needs patchelf here), so the bundle runs on musl, distroless or any root of its arch; it installs only at --prefix"}),
		b.String(&o.sysroot, &cli.StringFlag{Name: "sysroot", Value: "/", Usage: "with --self-contained: the root to take glibc from (the one the payload was built against)"}),
		b.String(&o.prefix, &cli.StringFlag{Name: "prefix", Value: pack.DefaultPrefix, Usage: "with --self-contained: the prefix the bundle's loader path names (installs only there)"}),
		b.Bool(&o.replace, &cli.BoolFlag{Name: "replace", Usage: "publish over a bundle of the same version and arch that has other bytes (installers that pinned its checksum will refuse the new one)"}),
		b.String(&o.caCert, &cli.StringFlag{Name: "ca-cert", Usage: "with --out oci://: PEM file with a CA to trust besides the system's"}),
		b.String(&o.compress, &cli.StringFlag{Name: "compress", Usage: "zstd|gzip: zstd writes the .tar.zst and the .tar.gz beside it (older installers take the gzip one), gzip only the .tar.gz (default: zstd for a directory, gzip for oci://, whose tag only zstd-aware installers could read)"}),
		b.String(&o.signKey, &cli.StringFlag{Name: "sign-key", Usage: "minisign secret key file: write pkgs/slurm/index.json.minisig (an encrypted key reads its password from " + signPasswordEnv + ")"}),
	)
	return &cli.Command{
		Name:      "pack",
		Usage:     "publisher side: build a bundle, its checksums and index.json in the AppHub layout",
		UsageText: "slurm-installer pack --from DIR|--from-root ROOT --slurm-version V --arch A --out APPHUB_DIR|oci://HOST/REPO [--sign-key minisign.key] [--self-contained [--sysroot DIR] [--prefix P]]",
		Flags:     flags,
		Before:    u.before(b, &o.out),
		Action:    func(c *cli.Context) error { return u.runPack(c, o) },
	}
}

func (u *ui) runPack(c *cli.Context, o *packOptions) error {
	if c.NArg() > 0 {
		return unknownCommand(c.App, c.Args().First())
	}
	if o.fromRoot != "" {
		if o.from != "" {
			return failure.New(failure.Usage, "pack takes --from or --from-root, not both")
		}
		fr, err := u.assembleFromRoot(c, o)
		if err != nil {
			return err
		}
		defer fr.Cleanup()
	}
	for _, f := range []struct{ name, v string }{{"from", o.from}, {"slurm-version", o.version}, {"arch", o.arch}, {"out", o.dest}} {
		if f.v == "" {
			return failure.New(failure.Usage, "pack needs --%s", f.name).WithHint("slurm-installer pack --from DIR --slurm-version V --arch A --out APPHUB_DIR")
		}
	}
	if o.expires <= 0 {
		return failure.New(failure.Usage, "--expires must be positive")
	}
	compress, err := o.packCompression(urlLike.MatchString(o.dest))
	if err != nil {
		return err
	}
	if urlLike.MatchString(o.dest) {
		return u.packToRegistry(c, o, compress) // pack_oci.go: oci://HOST/REPO, any other URL is a usage error
	}
	var signer *trust.Signer
	if o.signKey != "" {
		s, err := trust.LoadSigner(o.signKey, os.Getenv(signPasswordEnv))
		if err != nil {
			return err
		}
		signer = s
	}
	r, err := pack.Pack(c.Context, pack.Options{From: o.from, Version: o.version, Arch: o.arch,
		Out: o.dest, Latest: o.latest, Expires: o.expires, Signer: signer,
		SelfContained: o.selfContained, Sysroot: o.sysroot, Prefix: o.prefix, Compress: compress, Replace: o.replace, Origin: o.origin})
	if err != nil {
		return err
	}
	if r.Unchanged {
		u.log.Info().Str("tarball", r.Tarball).Str("sha256", r.SHA256).Msg("already published with these exact bytes: nothing written")
		fmt.Fprintln(u.stdout, r.Tarball)
		return nil
	}
	ev := u.log.Info().Str("tarball", r.Tarball).Str("sha256", r.SHA256).Int64("bytes", r.Size).Str("compressed_by", r.Coder).Int("files", r.Files)
	if r.Gzip != "" {
		ev = ev.Str("gzip_tarball", r.Gzip).Int64("gzip_bytes", r.GzipSize)
	}
	ev.Str("index", r.Index).Int64("serial", r.Serial).Str("expires", r.Expires.Format(time.RFC3339)).Msg("bundle packed")
	u.log.Info().Str("sbom", r.SBOM).Msg("SBOM written beside the index (the bundle carries the same at its top)")
	if o.selfContained {
		u.log.Info().Str("prefix", o.prefix).Int("system_libs", len(r.SystemLibs)).Strs("added", r.SystemLibs).
			Msg("self-contained: glibc's loader and libraries are in the bundle; install it with --prefix " + o.prefix + " only")
	}
	if signer != nil {
		u.log.Info().Str("signature", r.Sig).Str("key_id", signer.ID()).Str("pubkey", signer.PublicKey().String()).
			Msg("index signed; pin the key with --pubkey on the installers")
	} else {
		u.log.Warn().Msg("index is unsigned: installers with --pubkey will refuse this mirror (pass --sign-key)")
	}
	fmt.Fprintln(u.stdout, r.Tarball)
	return nil
}
