package app

// The verify command: files, ELF preflight, PluginDir, the sandboxed run, the cluster.
import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/run"
	"slurm-installer/rootfs"
	"slurm-installer/verify"
)

// check is one line of `verify`.
//
// Names are stable (docs/JSON.md): a check keeps its name whatever the
// flags; how it was run is a field (Deep: the files check hashed them).
type check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped"`
	Deep    bool   `json:"deep,omitempty"`
	Detail  string `json:"detail"`
}

// verifyOptions are verify's.
type verifyOptions struct {
	out outputOptions
	targetOptions
	deep, cluster, json bool
}

func (u *ui) verifyCommand() *cli.Command {
	o, b := &verifyOptions{}, &binder{}
	flags := append(o.out.flags(b), o.targetOptions.flags(b)...)
	flags = append(flags,
		b.Bool(&o.deep, &cli.BoolFlag{Name: "deep", Usage: "hash every installed file against the receipt"}),
		b.Bool(&o.cluster, &cli.BoolFlag{Name: "cluster", Usage: "also ask the controller for its nodes and version (needs /etc/slurm/slurm.conf)"}),
		b.Bool(&o.json, &cli.BoolFlag{Name: "json", Usage: "print the checks as JSON on stdout", Category: catOutput}))
	return &cli.Command{Name: "verify", Usage: "check an existing install", Flags: flags,
		Before: u.before(b, &o.out, &o.targetOptions), Action: func(c *cli.Context) error { return u.runVerify(c, o) }}
}

func (u *ui) runVerify(c *cli.Context, o *verifyOptions) error {
	in, r, err := u.openInstalled(c, o.targetOptions)
	if err != nil {
		return err
	}
	defer in.Close()
	var l checkList
	if r == nil || r.Mode != install.ModeReal {
		mode := "none"
		if r != nil {
			mode = r.Mode + ": " + r.Reason
		}
		err := (&failure.Error{Class: failure.NotInstalled, Err: fmt.Errorf("no real SLURM client installed (%s)", mode)}).Suggest(failure.Install)
		l.add("receipt", err, "")
		u.printChecks(o, l)
		return err
	}
	l.add("receipt", nil, fmt.Sprintf("%s %s for %s/%s from %s", r.Mode, r.Version, r.Arch, r.Libc, r.Source))
	switch r.Verification {
	case "":
	case fetch.VerifiedNone:
		l.note(check{Name: "checksum", OK: true, Skipped: true, Detail: describeVerification(r.Verification, r.ChecksumSource)})
	default:
		l.note(check{Name: "checksum", OK: true, Detail: describeVerification(r.Verification, r.ChecksumSource)})
	}
	l.files(in, r, o.deep)
	if l.preflight(in, r) == nil {
		u.runChecks(c.Context, &l, in, r, o.cluster)
	}
	u.printChecks(o, l)
	return l.firstErr
}

// checkList collects verify's checks and the first failure among them.
type checkList struct {
	checks   []check
	firstErr error
}

// add records a check that passed (with okDetail) or failed with err.
func (l *checkList) add(name string, err error, okDetail string) {
	ch := check{Name: name, OK: err == nil, Detail: okDetail}
	if err != nil {
		ch.Detail = err.Error()
		if l.firstErr == nil {
			l.firstErr = err
		}
	}
	l.checks = append(l.checks, ch)
}

// note records a check as it is (passed or skipped).
func (l *checkList) note(ch check) { l.checks = append(l.checks, ch) }

// files compares the payload and links with the receipt (hashing each
// file when deep).
func (l *checkList) files(in *install.Installer, r *install.Receipt, deep bool) {
	probs := in.CheckIntact(r, deep)
	how := "sizes, modes and link targets"
	if deep {
		how = "hashed"
	}
	if len(probs) == 0 {
		l.add("files", nil, fmt.Sprintf("%d entries and %d links match the receipt (%s)", len(r.Files), len(r.Links), how))
		l.checks[len(l.checks)-1].Deep = deep
		return
	}
	var s []string
	for _, p := range probs {
		s = append(s, p.String())
	}
	defer func() { l.checks[len(l.checks)-1].Deep = deep }()
	l.add("files", failure.New(failure.Verify, "%d problem(s): %s", len(probs), strings.Join(s, "; ")).
		WithHint("run `slurm-installer install --repair` to put back exactly these, or `slurm-installer install --force` to reinstall"), "")
}

// preflight checks the loaders, libraries and symbol versions the
// installed commands need, and PluginDir; it returns the ELF check's error.
func (l *checkList) preflight(in *install.Installer, r *install.Receipt) error {
	fsys := rootfs.New(in.Options().RootDir)
	rep, err := verify.Preflight(verify.PreflightInput{PayloadDir: in.HostPath(r.PayloadDir), Prefix: r.Prefix, Root: fsys,
		Arch: r.Arch, Libc: r.Libc, LinkerDirs: linkerDirs(r)})
	if rep != nil {
		for _, ch := range rep.Checks {
			if !ch.OK && !ch.Skipped {
				continue // reported through err below
			}
			l.note(check{Name: ch.Name, OK: ch.OK, Skipped: ch.Skipped, Detail: ch.Detail})
		}
	}
	l.add("elf", err, "loaders and libraries resolve")
	l.add("plugindir", checkPluginDir(fsys, r.Prefix), "PluginDir the site slurm.conf must name: "+pluginDir(r.Prefix))
	return err
}

// runChecks runs the installed sinfo --version in the root, and with
// cluster asks the site's controller for its nodes.
func (u *ui) runChecks(ctx context.Context, l *checkList, in *install.Installer, r *install.Receipt, cluster bool) {
	iopt := in.Options()
	ri := verify.RunInput{RootDir: iopt.RootDir, Prefix: r.Prefix, BinDir: r.BinDir, Chroot: iopt.RootDir != "/", Timeout: 30 * time.Second}
	rv := ri
	rv.Want = run.WantVersion(r.Version)
	res, err := verify.RunVersion(ctx, rv)
	for _, w := range res.Warnings {
		u.log.Warn().Msg(w) // site conf problems, protections the sandbox could not enable
	}
	if errorsIsCannotExec(err) {
		l.note(check{Name: "run", OK: true, Skipped: true, Detail: err.Error()})
	} else {
		l.add("run", err, "sinfo --version printed "+res.Output)
	}
	if cluster && err == nil && !clusterChecks(ctx, l, iopt.RootDir, r) {
		nodes, err := verify.Cluster(ctx, ri)
		l.add("cluster", err, strings.TrimSpace(nodes))
	}
}

// verifyView is `verify --json` (docs/JSON.md): the same keys whether the
// checks pass or fail.
type verifyView struct {
	OK     bool    `json:"ok"`
	Deep   bool    `json:"deep"`
	Class  string  `json:"failure_class"`
	Hint   string  `json:"hint"`
	Exit   int     `json:"exit_code"`
	Checks []check `json:"checks"`
}

func (u *ui) printChecks(o *verifyOptions, l checkList) {
	checks := l.checks
	if o.json {
		v := verifyView{OK: l.firstErr == nil, Deep: o.deep, Checks: checks}
		if l.firstErr != nil {
			c := failure.ClassOf(l.firstErr)
			v.Class, v.Exit, v.Hint = c.String(), int(c), u.hint(l.firstErr)
		}
		enc := json.NewEncoder(u.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		u.jsonDone = true
		return
	}
	for _, ch := range checks {
		mark := "PASS"
		switch {
		case ch.Skipped:
			mark = "SKIP"
		case !ch.OK:
			mark = "FAIL"
		}
		fmt.Fprintf(u.stdout, "%s  %-16s %s\n", mark, ch.Name, ch.Detail)
	}
}

// linkerDirs are the directories the linker config of r's install adds:
// none for a self-contained bundle, whose RUNPATHs must resolve everything.
func linkerDirs(r *install.Receipt) []string {
	if r.SelfContained {
		return nil
	}
	return install.LinkerDirs(r.Prefix, r.Files)
}

// siteConf is the site's SLURM config inside the root.
const siteConf = "/etc/slurm/slurm.conf"

func pluginDir(prefix string) string { return filepath.ToSlash(filepath.Join(prefix, "lib", "slurm")) }

// checkPluginDir fails when the site slurm.conf names a PluginDir that does
// not include the bundle's plugins (SLURM reads PluginDir from there only);
// no site conf yet (image builds) is fine.
func checkPluginDir(fsys *rootfs.FS, prefix string) error {
	b, err := fsys.ReadFile(siteConf)
	if err != nil {
		return nil
	}
	want := pluginDir(prefix)
	got := verify.ConfValue(b, "PluginDir")
	for _, d := range strings.Split(got, ":") {
		if filepath.Clean(d) == want {
			return nil
		}
	}
	if got == "" {
		return failure.New(failure.Verify, "%s sets no PluginDir, so SLURM looks in the directory compiled into it, not at the bundle's plugins in %s", siteConf, want).
			WithHint("add PluginDir=%s to the site slurm.conf", want)
	}
	return failure.New(failure.Verify, "%s sets PluginDir=%s but the bundle's plugins are in %s", siteConf, got, want).
		WithHint("set PluginDir=%s in the site slurm.conf", want)
}

func errorsIsCannotExec(err error) bool { return err != nil && errors.Is(err, verify.ErrCannotExec) }
