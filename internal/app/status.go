package app

// The status command: what is installed, how it was verified, whether it is intact.
import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
)

// statusOptions are status's.
type statusOptions struct {
	out outputOptions
	targetOptions
	json bool
}

func (u *ui) statusCommand() *cli.Command {
	o, b := &statusOptions{}, &binder{}
	flags := append(o.out.flags(b), o.targetOptions.flags(b)...)
	flags = append(flags, b.Bool(&o.json, &cli.BoolFlag{Name: "json", Usage: "print as JSON on stdout", Category: catOutput}))
	return &cli.Command{Name: "status", Usage: "what is installed: real or demo, version, arch, source, how verified, intact", Flags: flags,
		Before: u.before(b, &o.out), Action: func(c *cli.Context) error { return u.runStatus(c, o) }}
}

// openTarget opens the target root named by the flags.
func (u *ui) openTarget(c *cli.Context, t targetOptions) (*install.Installer, error) {
	if c.NArg() > 0 {
		return nil, unknownCommand(c.App, c.Args().First())
	}
	root, _ := filepath.Abs(t.rootDir)
	return install.Open(install.Options{RootDir: root, Prefix: t.prefix, BinDir: t.binDir, Log: u.log})
}

// openInstalled opens the target root and reads its receipt (without the
// lock: for the commands that only read).
func (u *ui) openInstalled(c *cli.Context, t targetOptions) (*install.Installer, *install.Receipt, error) {
	in, err := u.openTarget(c, t)
	if err != nil {
		return nil, nil, err
	}
	r, err := in.ReadReceipt()
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, r, nil
}

// statusView is `status --json`.
type statusView struct {
	Installed bool   `json:"installed"`
	Demo      bool   `json:"demo"`
	Mode      string `json:"mode"` // real, demo, none
	Version   string `json:"version,omitempty"`
	Arch      string `json:"arch,omitempty"`
	Libc      string `json:"libc,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Source    string `json:"source,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Verified  string `json:"verified,omitempty"`
	// Verification: how the bytes were verified before they were unpacked
	// (pinned, signed-index, index, sidecar, sha256sums, none).
	Verification   string    `json:"verification,omitempty"`
	ChecksumSource string    `json:"checksum_source,omitempty"`
	Time           time.Time `json:"time,omitzero"`
	Installer      string    `json:"installer_version,omitempty"`
	// SelfContained: the bundle carries its own glibc (no linker config).
	SelfContained bool `json:"self_contained"`
	// PluginDir is what the site slurm.conf must name: SLURM reads it from
	// there, never from the bundle.
	PluginDir string `json:"plugin_dir,omitempty"`
	// Intact: every file and link the receipt lists is there with its
	// size, mode and target (a cheap check: no hashing; verify --deep hashes).
	Intact   bool              `json:"intact"`
	Problems []install.Problem `json:"problems,omitempty"`
}

func (u *ui) runStatus(c *cli.Context, o *statusOptions) error {
	in, r, err := u.openInstalled(c, o.targetOptions)
	if err != nil {
		return err
	}
	defer in.Close()
	v := statusView{Mode: "none"}
	if r != nil {
		v = statusView{Installed: r.Mode == install.ModeReal, Demo: r.Mode == install.ModeDemo, Mode: r.Mode, Version: r.Version,
			Arch: r.Arch, Libc: r.Libc, Prefix: r.Prefix, Source: r.Source, SHA256: r.SHA256, Reason: r.Reason,
			Verified: r.Verified, Verification: r.Verification, ChecksumSource: r.ChecksumSource, Time: r.Time, Installer: r.InstallerVersion, SelfContained: r.SelfContained}
		if r.Mode == install.ModeReal {
			v.PluginDir = pluginDir(r.Prefix)
			v.Problems = in.CheckIntact(r, false)
			v.Intact = len(v.Problems) == 0
		}
	}
	if o.json {
		enc := json.NewEncoder(u.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		switch v.Mode {
		case "none":
			fmt.Fprintln(u.stdout, "mode:      none (nothing installed)")
		default:
			fmt.Fprintf(u.stdout, "mode:      %s\n", v.Mode)
			if v.Demo {
				fmt.Fprintf(u.stdout, "reason:    %s\n", v.Reason)
			}
			if v.Version != "" {
				fmt.Fprintf(u.stdout, "version:   %s\n", v.Version)
			}
			fmt.Fprintf(u.stdout, "arch:      %s (%s)\n", v.Arch, v.Libc)
			if v.Source != "" {
				fmt.Fprintf(u.stdout, "source:    %s\n", v.Source)
				fmt.Fprintf(u.stdout, "sha256:    %s\n", v.SHA256)
			}
			if v.Verification != "" {
				fmt.Fprintf(u.stdout, "checksum:  %s\n", describeVerification(v.Verification, v.ChecksumSource))
			}
			fmt.Fprintf(u.stdout, "time:      %s\n", v.Time.Format(time.RFC3339))
			if v.Installed {
				fmt.Fprintf(u.stdout, "bundle:    %s\n", map[bool]string{true: "self-contained (carries its own glibc; no linker config)", false: "uses the target's C library"}[v.SelfContained])
				fmt.Fprintf(u.stdout, "PluginDir the site slurm.conf must name: %s\n", v.PluginDir)
				if v.Intact {
					fmt.Fprintln(u.stdout, "intact:    yes (every file and link the receipt lists is in place; verify --deep hashes them)")
				} else {
					fmt.Fprintf(u.stdout, "intact:    NO, %d problem(s):\n", len(v.Problems))
					for _, p := range v.Problems {
						fmt.Fprintf(u.stdout, "           %s\n", p)
					}
				}
			}
		}
	}
	if !v.Installed {
		return &failure.Error{Class: failure.NotInstalled, Err: fmt.Errorf("no real SLURM client installed (mode %s)", v.Mode)}
	}
	if !v.Intact {
		var s []string
		for _, p := range v.Problems {
			s = append(s, p.String())
		}
		return failure.New(failure.Verify, "the SLURM client %s install is broken: %s", v.Version, strings.Join(s, "; ")).
			WithHint("run `slurm-installer install --repair` to put back exactly these, or `install --force` to reinstall")
	}
	return nil
}

// describeVerification says how an install's bytes were verified, in words.
func describeVerification(how, source string) string {
	if how == fetch.VerifiedNone {
		return "UNVERIFIED: no checksum was published for these bytes (--require-checksum refuses such bundles)"
	}
	switch {
	case source == "" || source == how:
		return how
	case strings.HasPrefix(source, how+" "):
		return source // "sidecar http://…/x.sha256"
	}
	return how + ": " + source
}
