package app

import (
	"cmp"
	"path/filepath"
	"regexp"
	"strings"

	"slurm-installer/internal/failure"
	"slurm-installer/internal/run"
)

// remedyWords words the remedies a domain package suggests (failure.Step)
// in the command line's terms. With remedyText it is the one place that
// knows which flag, variable or command carries out each step; the domain
// packages only name the step.
var remedyWords = map[failure.Step]string{
	failure.PinDigest:        "pin the bundle's digest with --sha256",
	failure.DropPin:          "drop --sha256 to trust the signed index",
	failure.RequireChecksum:  "pass --require-checksum to refuse bytes nothing vouches for",
	failure.GiveMirrors:      "pass --mirrors http://apphub.example/ (comma-separated or repeated), or set SLURM_INSTALLER_MIRRORS; or --from FILE for a local bundle",
	failure.ExactVersion:     "pass an exact --slurm-version",
	failure.OtherVersion:     "pick another with --slurm-version <an older series or version>",
	failure.CheckSelection:   "check --slurm-version and --arch",
	failure.RaiseTimeouts:    "raise --timeout/--deadline for slow mirrors",
	failure.GiveCACert:       "pass --ca-cert FILE with the CA that signed the certificate (verification is never turned off)",
	failure.CheckPubKey:      "check --pubkey against the publisher's minisign.pub",
	failure.SignIndex:        "publish the index signed with `slurm-installer pack --sign-key`",
	failure.RegistryLogin:    "log in to the registry the way Docker does (docker login, a config.json in $DOCKER_CONFIG or ~/.docker, or REGISTRY_AUTH_FILE); credentials are never taken from the command line",
	failure.PinKey:           "pin the publisher's key with --pubkey (the bundle must then come from a signed index)",
	failure.PinLayerDigest:   "pin its layer digest with --sha256 (the one `slurm-installer pack --out oci://…` prints)",
	failure.RaiseMaxSize:     "raise --max-size if the bundle is genuinely that large",
	failure.RaiseMaxEntries:  "raise --max-entries if the bundle is genuine",
	failure.RaiseLockTimeout: "raise --lock-timeout to wait longer",
	failure.Install:          "run `slurm-installer install`",
	failure.Reinstall:        "run `slurm-installer install --force` to reinstall",
	failure.ForceAside:       "pass --force to move it aside to a backup that uninstall puts back",
	failure.RepairAgain:      "run `slurm-installer install --repair` again",
	failure.NoRepair:         "run install without --repair",
	failure.OtherPrefix:      "install elsewhere with --prefix",
	failure.WritableRoot:     "run as root, or pass a --root you can write to",
	failure.AllowDowngrade:   "pass --allow-downgrade to install an older version on purpose",
	failure.LowerMinVersion:  "lower --min-version",
	failure.Repack:           "rebuild it with `slurm-installer pack`",
	failure.ReadWriteRoot:    "install into a writable --root",
	failure.RunVerify:        "run `slurm-installer verify` for details",
	failure.VerifyAsRoot:     "run `slurm-installer verify` as root",
	failure.GivePayload:      "point --from at the directory holding bin/, lib/ and VERSION (e.g. .../usr/local/slurm)",
	failure.SetSignPassword:  "set SLURM_INSTALLER_SIGN_PASSWORD to the key's password",
	failure.GivePatchelf:     "install patchelf where pack runs (apt-get install patchelf)",
	failure.GiveController:   "pass --controller HOST[:PORT] (or set SLURM_INSTALLER_CONTROLLER): slurmctld's address, port 6817 by default",
	failure.CheckController:  "check --controller: slurmctld must listen there (SlurmctldPort, 6817 by default) and be reachable from this container",
	failure.GiveClusterConf:  "enable configless on the cluster (SlurmctldParameters=enable_configless, then restart slurmctld), or pass --conf-url with a slurm.conf the site publishes, or mount the cluster's slurm.conf at /etc/slurm/slurm.conf",
	failure.MountCredential:  "mount the credential when the container starts, never in the image: the host's munge socket directory (-v /run/munge:/run/munge:ro), or for auth/slurm the cluster's slurm.key at /etc/slurm/slurm.key",
	failure.Connect:          "run `slurm-installer connect --controller HOST[:PORT]` when the container starts",
	failure.ReplaceBundle:    "pass --replace to publish these bytes in its place on purpose (the index's serial moves on)",
}

// remedyText words r: the steps that carry a value (a version, an arch, a
// prefix, a glibc) put it in; the others are remedyWords.
func remedyText(r failure.Remedy) string {
	arg := func(placeholder string) string { return cmp.Or(r.Arg, placeholder) }
	switch r.Step {
	case failure.PackSelfContained:
		root := "<a root with a new enough glibc>"
		if r.Arg != "" {
			root = "<a root with glibc " + r.Arg + " or newer>"
		}
		return "install a self-contained bundle (`slurm-installer pack --self-contained --sysroot " + root + "`)"
	case failure.UsePackedPrefix:
		return "install it at the prefix it was packed for: --prefix " + arg("<its prefix>")
	case failure.OtherArch:
		return "install the " + arg("root's") + " bundle (--arch " + arg("<the root's arch>") + "), or check that --root is the image you meant"
	case failure.InstallVersion:
		return "install that client: `slurm-installer install --slurm-version " + arg("<version>") + "`"
	case failure.GiveSysroot:
		s := "pass --sysroot DIR holding the glibc the payload was built against"
		if r.Arg != "" {
			s += " (" + r.Arg + " or newer)"
		}
		return s
	}
	return remedyWords[r.Step]
}

// hintOf is the whole hint for err: the domain's own words, then the
// remedies it suggests, worded by remedyText.
func hintOf(err error) string {
	h, fix := failure.Advice(err)
	parts := make([]string, 0, 1+len(fix))
	if h != "" {
		parts = append(parts, h)
	}
	for _, r := range fix {
		if t := remedyText(r); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "; or ")
}

// reHintCommand finds a command line in a hint that acts on a root.
var reHintCommand = regexp.MustCompile("`slurm-installer (install|verify|status|uninstall|fetch)\\b")

// withTarget puts the run's own target flags (targetArgs) into every
// command line a hint quotes, so that pasting it acts on the same root,
// prefix and bin dir as the run that printed it (issue 26): after
// `verify --root R`, "`slurm-installer install --repair`" would repair /.
func withTarget(hint, args string) string {
	if args == "" {
		return hint
	}
	return reHintCommand.ReplaceAllString(hint, "`slurm-installer $1 "+args)
}

// targetArgs are the target flags of a run that differ from their
// defaults, as a command line would spell them ("" for the defaults).
func targetArgs(t *targetOptions) string {
	if t == nil {
		return ""
	}
	var args []string
	if t.rootDir != "" && t.rootDir != "/" {
		root, err := filepath.Abs(t.rootDir)
		if err != nil {
			root = t.rootDir
		}
		if root != "/" {
			args = append(args, "--root", shellQuote(root))
		}
	}
	if p := run.CleanPrefix(t.prefix); p != "" && p != defaultPrefix {
		args = append(args, "--prefix", shellQuote(p))
	}
	if d := run.CleanPrefix(t.binDir); d != "" && d != defaultBinDir {
		args = append(args, "--bin-dir", shellQuote(d))
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
