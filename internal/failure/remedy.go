package failure

// Remedy is a step the user can take that only the command line can word:
// passing or changing a flag, setting an environment variable, running a
// command. A domain package names the step (and the value it needs, Arg);
// internal/app turns it into the words of the hint. So no domain package
// names a flag, and renaming a flag changes one table (internal/app
// remedy.go), not the packages that detect the problem.
type Remedy struct {
	Step Step
	Arg  string // the value the step needs (a version, an arch, a prefix, a glibc), or ""
}

// Step is one kind of remedy. Each group has its own range so the groups
// can grow independently.
type Step int

// Steps about where the bundle comes from and how it is trusted.
const (
	PinDigest         Step = iota + 100 // pin the bundle's digest the operator knows
	DropPin                             // drop the pinned digest and trust the signed index
	RequireChecksum                     // refuse a download nothing vouches for
	GiveMirrors                         // give mirrors: none were given
	ExactVersion                        // ask for an exact version (the mirror cannot list)
	OtherVersion                        // ask for another series or version explicitly
	CheckSelection                      // check the version and arch asked for
	RaiseTimeouts                       // allow slow mirrors more time
	GiveCACert                          // trust the CA that signed the mirror's certificate
	CheckPubKey                         // check the pinned key against the publisher's
	SignIndex                           // publish the index signed
	PackSelfContained                   // pack a self-contained bundle; Arg: the glibc it must carry, or ""
	UsePackedPrefix                     // install at the prefix a self-contained bundle was packed for; Arg: that prefix
	RegistryLogin                       // log in to the registry (credentials are never flags)
	PinKey                              // pin the publisher's key, so that only a signed index vouches for the bundle
	PinLayerDigest                      // pin the digest of the bundle's registry layer (the one the packer prints when it pushes)
)

// Steps about the size and time limits of a run.
const (
	RaiseMaxSize     Step = iota + 200 // allow a larger bundle
	RaiseMaxEntries                    // allow a bundle with more entries
	RaiseLockTimeout                   // wait longer for another install's lock
)

// Steps about the install in the root.
const (
	Install         Step = iota + 300 // install (nothing is installed)
	Reinstall                         // reinstall over what is there (the forced install)
	ForceAside                        // move the foreign thing aside to a backup uninstall restores
	RepairAgain                       // run the repair again
	NoRepair                          // install instead of repairing (nothing to repair)
	OtherPrefix                       // install at another prefix
	WritableRoot                      // run as root, or install into a root the caller can write
	OtherArch                         // install the bundle of the root's arch; Arg: that arch
	InstallVersion                    // install the client of another version; Arg: the version, or a placeholder
	AllowDowngrade                    // install an older version on purpose
	LowerMinVersion                   // lower the minimum version the image accepts
	Repack                            // rebuild the bundle with the installer's packer (it is empty, mis-packed or malformed)
	ReadWriteRoot                     // install into a root on a writable file system
	RunVerify                         // run the verification for its report (preflight: loader, libraries, symbols)
	VerifyAsRoot                      // run the verification as root (it drops to an unprivileged uid itself)
)

// Steps about packing a bundle.
const (
	GiveSysroot     Step = iota + 400 // pack against a root with the payload's glibc; Arg: that glibc, or ""
	GivePayload                       // point the packer at the payload directory
	SetSignPassword                   // give the password of an encrypted signing key
	GivePatchelf                      // make patchelf available where packing runs
	ReplaceBundle                     // replace a bundle already published with other bytes, on purpose
)

// Steps about connecting the installed client to its cluster.
const (
	GiveController  Step = iota + 500 // name the controller's address (none was given)
	CheckController                   // check the controller's address: nothing answers there
	GiveClusterConf                   // give the cluster's configuration another way (configless is off)
	MountCredential                   // mount the credential at run time (munge socket, or slurm.key for auth/slurm)
	Connect                           // connect the installed client to its cluster
)
