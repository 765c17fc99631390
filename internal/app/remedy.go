package app

import (
	"cmp"
	"strings"

	"slurm-installer/internal/failure"
)

// remedyText words a remedy a domain package suggests (failure.Step) in the
// command line's terms. It is the one place that knows which flag, variable
// or command carries out each step; the domain packages only name the step.
func remedyText(r failure.Remedy) string {
	arg := func(placeholder string) string { return cmp.Or(r.Arg, placeholder) }
	switch r.Step {
	case failure.PinDigest:
		return "pin the bundle's digest with --sha256"
	case failure.DropPin:
		return "drop --sha256 to trust the signed index"
	case failure.RequireChecksum:
		return "pass --require-checksum to refuse bytes nothing vouches for"
	case failure.GiveMirrors:
		return "pass --mirrors http://apphub.example/ (comma-separated or repeated), or set SLURM_INSTALLER_MIRRORS; or --from FILE for a local bundle"
	case failure.ExactVersion:
		return "pass an exact --slurm-version"
	case failure.OtherVersion:
		return "pick another with --slurm-version <an older series or version>"
	case failure.CheckSelection:
		return "check --slurm-version and --arch"
	case failure.RaiseTimeouts:
		return "raise --timeout/--deadline for slow mirrors"
	case failure.GiveCACert:
		return "pass --ca-cert FILE with the CA that signed the certificate (verification is never turned off)"
	case failure.CheckPubKey:
		return "check --pubkey against the publisher's minisign.pub"
	case failure.SignIndex:
		return "publish the index signed with `slurm-installer pack --sign-key`"
	case failure.PackSelfContained:
		glibc := "new enough"
		if r.Arg != "" {
			glibc = r.Arg + " or newer"
		}
		return "install a self-contained bundle (`slurm-installer pack --self-contained --sysroot <a root with glibc " + glibc + ">`)"
	case failure.UsePackedPrefix:
		return "install it at the prefix it was packed for: --prefix " + arg("<its prefix>")
	case failure.RegistryLogin:
		return "log in to the registry the way Docker does (docker login, a config.json in $DOCKER_CONFIG or ~/.docker, or REGISTRY_AUTH_FILE); credentials are never taken from the command line"
	case failure.PinKey:
		return "pin the publisher's key with --pubkey (the bundle must then come from a signed index)"
	case failure.PinLayerDigest:
		return "pin its layer digest with --sha256 (the one `slurm-installer pack --out oci://…` prints)"

	case failure.RaiseMaxSize:
		return "raise --max-size if the bundle is genuinely that large"
	case failure.RaiseMaxEntries:
		return "raise --max-entries if the bundle is genuine"
	case failure.RaiseLockTimeout:
		return "raise --lock-timeout to wait longer"

	case failure.Install:
		return "run `slurm-installer install`"
	case failure.Reinstall:
		return "run `slurm-installer install --force` to reinstall"
	case failure.ForceAside:
		return "pass --force to move it aside to a backup that uninstall puts back"
	case failure.RepairAgain:
		return "run `slurm-installer install --repair` again"
	case failure.NoRepair:
		return "run install without --repair"
	case failure.OtherPrefix:
		return "install elsewhere with --prefix"
	case failure.WritableRoot:
		return "run as root, or pass a --root you can write to"
	case failure.OtherArch:
		return "install the " + arg("root's") + " bundle (--arch " + arg("<the root's arch>") + "), or check that --root is the image you meant"
	case failure.InstallVersion:
		return "install that client: `slurm-installer install --slurm-version " + arg("<version>") + "`"
	case failure.AllowDowngrade:
		return "pass --allow-downgrade to install an older version on purpose"
	case failure.LowerMinVersion:
		return "lower --min-version"
	case failure.Repack:
		return "rebuild it with `slurm-installer pack`"
	case failure.ReadWriteRoot:
		return "install into a writable --root"
	case failure.RunVerify:
		return "run `slurm-installer verify` for details"
	case failure.VerifyAsRoot:
		return "run `slurm-installer verify` as root"

	case failure.GiveSysroot:
		s := "pass --sysroot DIR holding the glibc the payload was built against"
		if r.Arg != "" {
			s += " (" + r.Arg + " or newer)"
		}
		return s
	case failure.GivePayload:
		return "point --from at the directory holding bin/, lib/ and VERSION (e.g. .../usr/local/slurm)"
	case failure.SetSignPassword:
		return "set SLURM_INSTALLER_SIGN_PASSWORD to the key's password"
	case failure.GivePatchelf:
		return "install patchelf where pack runs (apt-get install patchelf)"
	}
	return ""
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
