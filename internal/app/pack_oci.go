package app

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/safeio"
	"slurm-installer/oci"
	"slurm-installer/pack"
)

// registryAuthFileEnv names a containers-auth.json (podman, skopeo,
// buildah) whose registry credentials win over the Docker config's; oci
// takes the file as ClientOptions.AuthFile.
const registryAuthFileEnv = "REGISTRY_AUTH_FILE"

// registryAuthFile is the auth file the environment names, or "".
func registryAuthFile() string { return os.Getenv(registryAuthFileEnv) }

// maxAuthFile caps the registry auth file (a containers-auth.json).
const maxAuthFile = 4 << 20

// checkRegistryAuthFile reads the auth file the environment names through
// the safe reader before oci is given its name: a FIFO, a device, a link to
// /dev/zero or a huge file is refused at once (exit 2), never waited on
// with the lock held past --deadline.
func checkRegistryAuthFile() error {
	p := registryAuthFile()
	if p == "" {
		return nil
	}
	if _, err := safeio.ReadFile(p, maxAuthFile); err != nil {
		return failure.New(failure.Usage, "%s: %w", registryAuthFileEnv, err).
			WithHint("point %s at a regular containers-auth.json file, or unset it", registryAuthFileEnv)
	}
	return nil
}

// urlLike matches an --out that is a URL (scheme://...), not a directory.
var urlLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// packToRegistry is `pack --out oci://HOST/REPO` (issue 17): build the
// bundle as pack always does, in a scratch directory, and push it to the
// registry as an OCI artifact tagged <version>-<arch> (and latest-<arch>
// unless --latest=false). Any other URL is a usage error.
func (u *ui) packToRegistry(c *cli.Context, o *packOptions, compress string) error {
	out := o.dest
	if !oci.IsRef(out) {
		return failure.New(failure.Usage, "--out %q: the only URL pack publishes to is an OCI registry, oci://HOST/REPO", fetch.Redact(out)).
			WithHint("give a local directory (the AppHub document root) or oci://HOST/REPO")
	}
	if _, err := oci.ParseRef(out); err != nil {
		return err
	}
	if o.signKey != "" {
		return failure.New(failure.Usage, "--sign-key signs index.json, which a registry does not carry").
			WithHint("drop --sign-key for oci://; installers pin a registry bundle with --sha256 (printed below after a push)")
	}
	pool, err := loadCAPool(o.caCert) // before packing: a bad --ca-cert fails at once
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "slurm-installer-pack-")
	if err != nil {
		return failure.New(failure.FileSystem, "create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	r, err := pack.Pack(c.Context, pack.Options{From: o.from, Version: o.version, Arch: o.arch,
		Out: tmp, Latest: false, Expires: o.expires,
		SelfContained: o.selfContained, Sysroot: o.sysroot, Prefix: o.prefix, Compress: compress, Origin: o.origin})
	if err != nil {
		return err
	}
	cfg := oci.Config{Version: o.version, Arch: o.arch, SelfContained: o.selfContained,
		Created: time.Now().UTC().Truncate(time.Second), Origin: o.origin}
	if cfg.SelfContained {
		cfg.Prefix = pack.DefaultPrefix
		if p := o.prefix; p != "" {
			cfg.Prefix = path.Clean(p)
		}
	} else {
		cfg.GlibcNeed = oci.GlibcNeed(o.from)
	}
	if err := checkRegistryAuthFile(); err != nil {
		return err
	}
	doc, err := safeio.ReadFile(r.SBOM, maxSBOM)
	if err != nil {
		return failure.New(failure.FileSystem, "read the bundle's SBOM: %w", err)
	}
	res, err := oci.Push(c.Context, oci.PushOptions{Ref: out, Tarball: r.Tarball, Config: cfg, Latest: o.latest, SBOM: doc, Replace: o.replace,
		Client: oci.ClientOptions{RootCAs: pool, AuthFile: registryAuthFile()}, Log: u.log})
	if err != nil {
		return err
	}
	u.log.Info().Str("mirror", res.Mirror).Strs("tags", res.Tags).Str("manifest", res.Manifest).Str("sha256", res.SHA256).
		Int64("bytes", res.Size).Int("files", r.Files).Str("glibc_need", cfg.GlibcNeed).
		Msg("install with --mirrors " + res.Mirror + " (pin with --sha256 " + res.SHA256 + ")")
	fmt.Fprintf(u.stdout, "%s:%s@%s\n", res.Mirror, res.Tags[0], res.Manifest)
	return nil
}

// maxSBOM caps the SBOM pack wrote, read back to push it as a referrer.
const maxSBOM = 64 << 20
