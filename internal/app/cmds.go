package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"slurm-installer/fetch"
	"slurm-installer/install"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/safeio"
	"slurm-installer/rootfs"
	"slurm-installer/verify"
)

// fromFile turns --from FILE into an artifact, checking --sha256 or a
// FILE.sha256 sidecar when there is one.
func fromFile(cfg *installConfig, log zerolog.Logger) (*fetch.Artifact, error) {
	p, err := filepath.Abs(cfg.from)
	if err != nil {
		return nil, failure.New(failure.Usage, "--from %q: %w", cfg.from, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, failure.New(failure.Usage, "--from %s: %w", cfg.from, err)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		// A FIFO or a device would hang or never end (issue 13).
		return nil, failure.New(failure.Usage, "--from %s: not a regular file or directory", cfg.from)
	}
	art := &fetch.Artifact{Path: p, Name: filepath.Base(p), URL: "file://" + p, Mirror: "--from", Layout: "file", Size: fi.Size(),
		Verification: fetch.VerifiedNone}
	if fi.IsDir() {
		art.Tree, art.ChecksumSource = true, "none (local directory)"
		log.Warn().Str("from", p).Msg("installing a local directory: it is not checksummed")
		return art, nil
	}
	got, err := hashFile(p)
	if err != nil {
		return nil, failure.New(failure.FileSystem, "read %s: %w", p, err)
	}
	art.SHA256 = got
	want, source, how := cfg.sha, "--sha256", fetch.VerifiedPinned
	if want == "" {
		how = fetch.VerifiedSidecar
		if b, err := safeio.ReadFile(p+".sha256", 1<<20); err == nil {
			if want, err = fetch.ParseSHA256Sidecar(b, filepath.Base(p)); err != nil {
				return nil, failure.New(failure.Integrity, "%s.sha256: %w", p, err)
			}
			source = "sidecar " + p + ".sha256"
		}
	}
	if want == "" {
		art.ChecksumSource = "none published"
		log.Warn().Str("from", p).Msg("no checksum for the local bundle (no --sha256, no .sha256 beside it); installing it unverified")
		return art, nil
	}
	if want != got {
		return nil, failure.New(failure.Integrity, "checksum mismatch for %s: expected %s (%s), got %s", p, want, source, got).
			WithHint("the file is corrupt or not the bundle you meant; fetch it again")
	}
	art.ChecksumSource, art.Verification = source, how
	log.Info().Str("from", p).Str("checksum", source).Msg("local bundle verified")
	return art, nil
}

func hashFile(p string) (string, error) {
	f, _, err := safeio.Open(p) // regular files only: the type may change after a Stat
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func runFetch(c *cli.Context) error {
	cfg, err := parseInstallConfig(c, true)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" && cfg.cacheDir == "" {
		return failure.New(failure.Usage, "fetch needs --out FILE or DIR, or --cache-dir")
	}
	t, err := detect(c, st.log)
	if err != nil {
		return err
	}
	if !lookup(c, "root").IsSet("root") {
		// Fetching for some other root (a cache warmed on a build host):
		// judge no bundle by this host's glibc (design.md §9).
		t.Glibc, t.GlibcFile, t.Libc = "", "", ""
	}
	if out == "" {
		return fetchToCache(c, cfg, t)
	}
	tmp, err := tempDirIn(filepath.Dir(filepath.Clean(out)))
	if err != nil {
		return failure.New(failure.FileSystem, "--out %s: %w", out, err)
	}
	defer os.RemoveAll(tmp)
	art, err := obtain(c.Context, cfg, t, tmp, st.log)
	if err != nil {
		return err
	}
	if art.Cleanup != nil {
		defer art.Cleanup()
	}
	dst := out
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		dst = filepath.Join(out, firstOf(art.Name, filepath.Base(art.Path)))
	}
	place := os.Rename
	if art.Layout == "cache" {
		place = copyFile // the cached bundle stays in the cache
	}
	if err := place(art.Path, dst); err != nil {
		return failure.New(failure.FileSystem, "write %s: %w", dst, err)
	}
	if !art.Tree && art.SHA256 != "" && art.Verification != fetch.VerifiedNone {
		// A checksum beside unverified bytes would vouch for them later (issue 13).
		_ = os.WriteFile(dst+".sha256", []byte(art.SHA256+"  "+filepath.Base(dst)+"\n"), 0o644)
	}
	st.log.Info().Str("out", dst).Str("sha256", art.SHA256).Str("checksum", art.ChecksumSource).Str("verified", art.Verification).Msg("bundle fetched")
	fmt.Fprintln(st.stdout, dst)
	return nil
}

func openInstalled(c *cli.Context) (*install.Installer, *install.Receipt, error) {
	if c.NArg() > 0 {
		return nil, nil, unknownCommand(c.App, c.Args().First())
	}
	root, _ := filepath.Abs(str(c, "root"))
	in, err := install.Open(install.Options{RootDir: root, Prefix: str(c, "prefix"), BinDir: str(c, "bin-dir"), Log: st.log})
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
	Installed bool      `json:"installed"`
	Demo      bool      `json:"demo"`
	Mode      string    `json:"mode"` // real, demo, none
	Version   string    `json:"version,omitempty"`
	Arch      string    `json:"arch,omitempty"`
	Libc      string    `json:"libc,omitempty"`
	Prefix    string    `json:"prefix,omitempty"`
	Source    string    `json:"source,omitempty"`
	SHA256    string    `json:"sha256,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Verified  string    `json:"verified,omitempty"`
	Time      time.Time `json:"time,omitzero"`
	Installer string    `json:"installer_version,omitempty"`
	// SelfContained: the bundle carries its own glibc (no linker config).
	SelfContained bool `json:"self_contained"`
	// PluginDir is what the site slurm.conf must name: SLURM reads it from
	// there, never from the bundle.
	PluginDir string `json:"plugin_dir,omitempty"`
	// Intact: every file and link the receipt lists is there with its
	// size, mode and target (a cheap check: no hashing; verify --deep hashes).
	Intact   bool      `json:"intact"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one way the install differs from its receipt.
type Problem = install.Problem

func runStatus(c *cli.Context) error {
	in, r, err := openInstalled(c)
	if err != nil {
		return err
	}
	defer in.Close()
	v := statusView{Mode: "none"}
	if r != nil {
		v = statusView{Installed: r.Mode == install.ModeReal, Demo: r.Mode == install.ModeDemo, Mode: r.Mode, Version: r.Version,
			Arch: r.Arch, Libc: r.Libc, Prefix: r.Prefix, Source: r.Source, SHA256: r.SHA256, Reason: r.Reason,
			Verified: r.Verified, Time: r.Time, Installer: r.InstallerVersion, SelfContained: r.SelfContained}
		if r.Mode == install.ModeReal {
			v.PluginDir = pluginDir(r.Prefix)
			v.Problems = in.CheckIntact(r, false)
			v.Intact = len(v.Problems) == 0
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(st.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		switch v.Mode {
		case "none":
			fmt.Fprintln(st.stdout, "mode:      none (nothing installed)")
		default:
			fmt.Fprintf(st.stdout, "mode:      %s\n", v.Mode)
			if v.Demo {
				fmt.Fprintf(st.stdout, "reason:    %s\n", v.Reason)
			}
			if v.Version != "" {
				fmt.Fprintf(st.stdout, "version:   %s\n", v.Version)
			}
			fmt.Fprintf(st.stdout, "arch:      %s (%s)\n", v.Arch, v.Libc)
			if v.Source != "" {
				fmt.Fprintf(st.stdout, "source:    %s\n", v.Source)
				fmt.Fprintf(st.stdout, "sha256:    %s\n", v.SHA256)
			}
			fmt.Fprintf(st.stdout, "time:      %s\n", v.Time.Format(time.RFC3339))
			if v.Installed {
				fmt.Fprintf(st.stdout, "bundle:    %s\n", map[bool]string{true: "self-contained (carries its own glibc; no linker config)", false: "uses the target's C library"}[v.SelfContained])
				fmt.Fprintf(st.stdout, "PluginDir the site slurm.conf must name: %s\n", v.PluginDir)
				if v.Intact {
					fmt.Fprintln(st.stdout, "intact:    yes (every file and link the receipt lists is in place; verify --deep hashes them)")
				} else {
					fmt.Fprintf(st.stdout, "intact:    NO, %d problem(s):\n", len(v.Problems))
					for _, p := range v.Problems {
						fmt.Fprintf(st.stdout, "           %s\n", p)
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

// check is one line of `verify`.
type check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

func runVerify(c *cli.Context) error {
	in, r, err := openInstalled(c)
	if err != nil {
		return err
	}
	defer in.Close()
	var checks []check
	var firstErr error
	add := func(name string, err error, okDetail string) {
		ch := check{Name: name, OK: err == nil, Detail: okDetail}
		if err != nil {
			ch.Detail = err.Error()
			if firstErr == nil {
				firstErr = err
			}
		}
		checks = append(checks, ch)
	}
	if r == nil || r.Mode != install.ModeReal {
		mode := "none"
		if r != nil {
			mode = r.Mode + ": " + r.Reason
		}
		err := &failure.Error{Class: failure.NotInstalled, Err: fmt.Errorf("no real SLURM client installed (%s)", mode)}
		add("receipt", err, "")
		printChecks(c, checks)
		return err
	}
	add("receipt", nil, fmt.Sprintf("%s %s for %s/%s from %s", r.Mode, r.Version, r.Arch, r.Libc, r.Source))
	probs := in.CheckIntact(r, c.Bool("deep"))
	what := "files"
	if c.Bool("deep") {
		what = "files (hashed)"
	}
	if len(probs) > 0 {
		var s []string
		for _, p := range probs {
			s = append(s, p.String())
		}
		add(what, failure.New(failure.Verify, "%d problem(s): %s", len(probs), strings.Join(s, "; ")).
			WithHint("run `slurm-installer install --repair` to put back exactly these, or `install --force` to reinstall"), "")
	} else {
		add(what, nil, fmt.Sprintf("%d entries and %d links match the receipt", len(r.Files), len(r.Links)))
	}
	fsys := rootfs.New(in.Options().RootDir)
	rep, err := verify.Preflight(verify.PreflightInput{PayloadDir: in.HostPath(r.PayloadDir), Prefix: r.Prefix, Root: fsys,
		Arch: r.Arch, Libc: rootfs.Libc(r.Libc), LinkerDirs: linkerDirs(r)})
	if rep != nil {
		for _, ch := range rep.Checks {
			if !ch.OK && !ch.Skipped {
				continue // reported through err below
			}
			checks = append(checks, check{Name: ch.Name, OK: ch.OK, Skipped: ch.Skipped, Detail: ch.Detail})
		}
	}
	add("elf", err, "loaders and libraries resolve")
	add("plugindir", checkPluginDir(fsys, r.Prefix), "PluginDir the site slurm.conf must name: "+pluginDir(r.Prefix))
	if err == nil {
		o := in.Options()
		res, err := verify.RunVersion(c.Context, verify.RunInput{RootDir: o.RootDir, Prefix: r.Prefix, BinDir: r.BinDir,
			Want: wantVersion(r.Version), Chroot: o.RootDir != "/", Timeout: 30 * time.Second})
		for _, w := range res.Warnings {
			st.log.Warn().Msg(w) // site conf problems, protections the sandbox could not enable
		}
		if errorsIsCannotExec(err) {
			checks = append(checks, check{Name: "run", OK: true, Skipped: true, Detail: err.Error()})
		} else {
			add("run", err, "sinfo --version printed "+res.Output)
		}
		if c.Bool("cluster") && err == nil {
			nodes, err := verify.Cluster(c.Context, verify.RunInput{RootDir: o.RootDir, Prefix: r.Prefix, BinDir: r.BinDir, Chroot: o.RootDir != "/", Timeout: 30 * time.Second})
			add("cluster", err, strings.TrimSpace(nodes))
		}
	}
	printChecks(c, checks)
	return firstErr
}

func printChecks(c *cli.Context, checks []check) {
	if c.Bool("json") {
		enc := json.NewEncoder(st.stdout)
		enc.SetIndent("", "  ")
		ok := true
		for _, ch := range checks {
			ok = ok && ch.OK
		}
		_ = enc.Encode(struct {
			OK     bool    `json:"ok"`
			Checks []check `json:"checks"`
		}{ok, checks})
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
		fmt.Fprintf(st.stdout, "%s  %-16s %s\n", mark, ch.Name, ch.Detail)
	}
}

func runUninstall(c *cli.Context) error {
	in, r, err := openInstalled(c)
	if err != nil {
		return err
	}
	defer in.Close()
	unlock, err := in.Lock(c.Context, dur(c, "lock-timeout"))
	if err != nil {
		return err
	}
	defer unlock()
	if r != nil {
		// The receipt's libc decides which linker config to refresh.
		in.Close()
		root, _ := filepath.Abs(str(c, "root"))
		if in, err = install.Open(install.Options{RootDir: root, Prefix: r.Prefix, BinDir: r.BinDir, Arch: r.Arch, Libc: r.Libc, Log: st.log}); err != nil {
			return err
		}
	}
	notes, err := in.Uninstall(r)
	for _, n := range notes {
		st.log.Info().Msg(n)
	}
	if err != nil {
		return err
	}
	if r != nil {
		st.log.Info().Str("version", r.Version).Str("mode", r.Mode).Msg("uninstalled")
	}
	return nil
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
	var got string
	for _, l := range strings.Split(string(b), "\n") {
		l, _, _ = strings.Cut(l, "#")
		if k, v, ok := strings.Cut(l, "="); ok && strings.EqualFold(strings.TrimSpace(k), "PluginDir") {
			got = strings.TrimSpace(v)
		}
	}
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
