package app

// The uninstall command: undo exactly what the receipt lists.
import (
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/connect"
	"slurm-installer/install"
)

// uninstallOptions are uninstall's.
type uninstallOptions struct {
	out outputOptions
	targetOptions
	lockWait time.Duration
}

func (u *ui) uninstallCommand() *cli.Command {
	o, b := &uninstallOptions{}, &binder{}
	flags := append(o.out.flags(b), o.targetOptions.flags(b)...)
	flags = append(flags, lockFlag(b, &o.lockWait))
	return &cli.Command{Name: "uninstall", Usage: "undo exactly what the receipt lists, putting back what it moved aside", Flags: flags,
		Before: u.before(b, &o.out, &o.targetOptions), Action: func(c *cli.Context) error { return u.runUninstall(c, o) }}
}

func (u *ui) runUninstall(c *cli.Context, o *uninstallOptions) error {
	// The receipt is read under the lock (issue 23): one read before it
	// would be the receipt of before a run this one waited for, and its
	// payload and links would stay behind, recorded nowhere.
	in, err := u.openTarget(c, o.targetOptions)
	if err != nil {
		return err
	}
	defer in.Close()
	unlock, err := in.Lock(c.Context, o.lockWait)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := in.ReadReceipt()
	if err != nil {
		return err
	}
	if r != nil {
		// The receipt's libc decides which linker config to refresh: an
		// installer opened with its prefix, bin-dir, arch and libc does the
		// undoing (the lock stays with the first).
		byReceipt, err := install.Open(install.Options{RootDir: in.Options().RootDir, Prefix: r.Prefix, BinDir: r.BinDir, Arch: r.Arch, Libc: r.Libc, Log: u.log})
		if err != nil {
			return err
		}
		defer byReceipt.Close()
		in = byReceipt
	}
	// What connect wrote goes first: uninstall keeps /etc/slurm as site configuration.
	notes, err := connect.Undo(in.Options().RootDir)
	if err != nil {
		return err
	}
	more, err := in.Uninstall(c.Context, r)
	notes = append(notes, more...)
	for _, n := range notes {
		u.log.Info().Msg(n)
	}
	if err != nil {
		return err
	}
	if r != nil {
		u.log.Info().Str("version", r.Version).Str("mode", r.Mode).Msg("uninstalled")
	}
	return nil
}
