package app

// The status command: what is installed, how it was verified, whether it is intact.
import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/connect"
	"slurm-installer/install"
	"slurm-installer/internal/bundle"
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
		Before: u.before(b, &o.out, &o.targetOptions), Action: func(c *cli.Context) error { return u.runStatus(c, o) }}
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
	Installed bool        `json:"installed"`
	Demo      bool        `json:"demo"`
	Mode      string      `json:"mode"` // real, demo, none
	Version   string      `json:"version"`
	Arch      string      `json:"arch"`
	Libc      bundle.Libc `json:"libc"`
	Prefix    string      `json:"prefix"`
	Source    string      `json:"source"`
	SHA256    string      `json:"sha256"`
	Reason    string      `json:"reason"`
	Verified  string      `json:"verified"`
	// Verification: how the bytes were verified before they were unpacked
	// (pinned, signed-index, index, sidecar, sha256sums, none).
	Verification   bundle.Verification `json:"verification"`
	ChecksumSource string              `json:"checksum_source"`
	Time           time.Time           `json:"time,omitzero"`
	Installer      string              `json:"installer_version"`
	// SelfContained: the bundle carries its own glibc (no linker config).
	SelfContained bool `json:"self_contained"`
	// PluginDir is what the site slurm.conf must name: SLURM reads it from
	// there, never from the bundle.
	PluginDir string `json:"plugin_dir"`
	// Intact: every file and link the receipt lists is there with its
	// size, mode and target (a cheap check: no hashing; verify --deep hashes).
	Intact   bool              `json:"intact"`
	Problems []install.Problem `json:"problems"`
	// Cluster is what the last connect found (null: never connected).
	Cluster *clusterView `json:"cluster"`
}

// clusterView is status --json's word on the connection.
type clusterView struct {
	Connected  bool      `json:"connected"`
	Controller string    `json:"controller"`
	Checked    time.Time `json:"checked"`
	Source     string    `json:"source"`
	Auth       string    `json:"auth"`
	Error      string    `json:"error"`
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
	if v.Problems == nil {
		v.Problems = []install.Problem{}
	}
	if rec, err := connect.Peek(in.Options().RootDir); err == nil && rec != nil {
		v.Cluster = &clusterView{Connected: rec.Connected, Controller: rec.Controller, Checked: rec.Checked, Source: rec.Source, Auth: rec.Auth, Error: rec.Error}
	}
	if o.json {
		enc := json.NewEncoder(u.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		u.jsonDone = true
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
				if cv := v.Cluster; cv != nil {
					fmt.Fprintf(u.stdout, "cluster:   %s, controller %s, checked %s\n", map[bool]string{true: "connected", false: "NOT connected (" + cv.Error + ")"}[cv.Connected], cv.Controller, cv.Checked.Format(time.RFC3339))
				}
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
		err := &failure.Error{Class: failure.NotInstalled, Err: fmt.Errorf("no real SLURM client installed (mode %s)", v.Mode)}
		if v.Mode == "none" {
			return quietError{err} // stdout says so; an error line would read as a failure (issue 26)
		}
		return err
	}
	if !v.Intact {
		var s []string
		for _, p := range v.Problems {
			s = append(s, p.String())
		}
		return failure.New(failure.Verify, "the SLURM client %s install is broken: %s", v.Version, strings.Join(s, "; ")).
			WithHint("run `slurm-installer install --repair` to put back exactly these, or `slurm-installer install --force` to reinstall")
	}
	return nil
}

// describeVerification says how an install's bytes were verified, in words.
func describeVerification(v bundle.Verification, source string) string {
	if v == bundle.None {
		return "UNVERIFIED: no checksum was published for these bytes (--require-checksum refuses such bundles)"
	}
	how := string(v)
	switch {
	case source == "" || source == how:
		return how
	case strings.HasPrefix(source, how+" "):
		return source // "sidecar http://…/x.sha256"
	}
	return how + ": " + source
}
