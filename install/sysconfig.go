package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"slurm-installer/internal/bundle"
	"slurm-installer/internal/failure"
	"slurm-installer/internal/platform"
	"slurm-installer/internal/sandbox"
)

// errLoaderCacheNotBuilt says ldconfig could not be run for the root at
// all (its programs cannot execute here, or entering the root was
// refused), so the loader cache does not list the bundle's lib/: a glibc
// bundle's commands would not start until ldconfig runs in the image.
// Test with errors.Is; Commit.LoaderCache holds the error.
var errLoaderCacheNotBuilt = errors.New("the root's loader cache was not built")

// notBuilt is why ldconfig could not run; it is errLoaderCacheNotBuilt.
type notBuilt struct{ msg string }

func (e *notBuilt) Error() string        { return e.msg }
func (e *notBuilt) Is(target error) bool { return target == errLoaderCacheNotBuilt }

// cacheError is an ldconfig that could not run (a verification failure:
// the commands would not start), with what to do about it in the one
// carrier of advice, [failure.Error]: a hint in the domain's words and the
// remedies only the command line can word.
func cacheError(msg, hint string, fix []failure.Remedy) *failure.Error {
	return (&failure.Error{Class: failure.Verify, Err: &notBuilt{msg}}).Advise(hint, fix)
}

// Paths of the configuration files the installer owns or merges into.
const (
	glibcLinkerConf = "/etc/ld.so.conf.d/slurm.conf"
	ProfileScript   = "/etc/profile.d/slurm.sh"
)

// muslPathFile is musl's loader search-path file for arch. When present it
// REPLACES musl's default path, so it must keep /lib:/usr/local/lib:/usr/lib.
func muslPathFile(arch string) string { return "/etc/ld-musl-" + arch + ".path" }

var muslDefaults = []string{"/lib", "/usr/local/lib", "/usr/lib"}

// LinkerDirs returns the payload library directories the loader must
// search: <prefix>/lib always, <prefix>/lib64 when the bundle has one, and
// <prefix>/lib/slurm only when libslurmfull lives there as a real file
// (Debian's own layout) rather than in lib/. Plugins are dlopen()ed by path
// from PluginDir and need no linker entry.
func LinkerDirs(prefix string, files []Entry) []string {
	c := linkerDirCandidates(prefix)
	dirs := []string{c[0]}
	var lib64, pluginLib bool
	for _, e := range files {
		switch {
		case e.Type == "file" && strings.HasPrefix(e.Path, "lib64/"):
			lib64 = true
		case e.Type == "file" && strings.HasPrefix(e.Path, "lib/slurm/libslurmfull"):
			pluginLib = true
		}
	}
	if lib64 {
		dirs = append(dirs, c[1])
	}
	if pluginLib {
		dirs = append(dirs, c[2])
	}
	return dirs
}

// linkerDirCandidates are every directory LinkerDirs can return for prefix.
func linkerDirCandidates(prefix string) []string {
	return []string{path.Join(prefix, "lib"), path.Join(prefix, "lib64"), path.Join(prefix, "lib/slurm")}
}

// mergeMuslPath returns the content of an ld-musl path file that keeps old
// byte for byte (or musl's defaults when old holds no directory) and adds
// dirs after it, the directories it added, and the exact bytes it appended
// to old ("" when it wrote the whole file).
func mergeMuslPath(old []byte, dirs []string) (data []byte, added []string, appended string) {
	keep := strings.FieldsFunc(string(old), func(r rune) bool { return r == '\n' || r == ':' || r == ' ' || r == '\t' })
	added = missing(keep, dirs)
	if len(keep) == 0 {
		return []byte(strings.Join(append(slices.Clone(muslDefaults), added...), "\n") + "\n"), added, ""
	}
	if len(added) == 0 {
		return old, nil, ""
	}
	if !bytes.HasSuffix(old, []byte("\n")) {
		appended = "\n"
	}
	appended += strings.Join(added, "\n") + "\n"
	return append(slices.Clone(old), appended...), added, appended
}

func (in *Installer) writeLinkerConfig(ctx context.Context, c *Commit, st *Staged) error {
	if st.SelfContained {
		// Its ELFs carry their loader and RUNPATHs: no linker config, no ldconfig.
		in.opt.Log.Info().Msg("self-contained bundle: no linker configuration written")
		return in.dropLinkerConfig(ctx, c)
	}
	c.LinkerDirs = LinkerDirs(in.opt.Prefix, st.Files)
	if in.opt.Libc == bundle.Musl {
		p := muslPathFile(in.opt.Arch)
		old, _, err := in.readFile(p, maxConfigFile)
		if err != nil {
			return fsErr("read", p, err)
		}
		// Merged afresh into the site's own bytes: what an earlier install
		// added (its receipt's lines, for another prefix too) comes out
		// first, so the record always lists exactly what this one added.
		base := old
		if pc := c.prevConfig(p); pc != nil {
			base = unmerge(old, *pc)
		}
		data, added, appended := mergeMuslPath(base, c.LinkerDirs)
		// Also when nothing changes: the receipt must keep the record of
		// what the install added, or uninstall would leave it.
		if err := in.writeConfig(c, p, data, added, appended, true); err != nil {
			return err
		}
		// A musl root with glibc beside it (gcompat-style: its own
		// ld.so.conf) needs glibc's config too: glibc's loader never
		// reads musl's path file.
		if !in.hasGlibcConf() {
			return nil
		}
	}
	data := []byte("# Written by slurm-installer: SLURM client libraries.\n" + strings.Join(c.LinkerDirs, "\n") + "\n")
	if err := in.writeConfig(c, glibcLinkerConf, data, nil, "", false); err != nil {
		return err
	}
	ldStart := time.Now()
	err := in.ldconfig(ctx)
	c.LdconfigTook = time.Since(ldStart)
	if err != nil {
		if errors.Is(err, errLoaderCacheNotBuilt) {
			c.LoaderCache = err // the caller decides: the commands cannot start without it
		} else {
			c.Warnings = append(c.Warnings, err.Error())
		}
	}
	return nil
}

// dropLinkerConfig removes what an earlier plain install put on the
// system's library path. A self-contained bundle's lib/ holds its own glibc:
// left on the path, ldconfig would offer that libc.so.6 to every program in
// the root. Only by record: the earlier receipt's linker config when it
// still has the content that receipt wrote, and the exact lines and bytes
// it appended to the musl path file (see unmerge). A site's own lines under
// the prefix, and a file the receipt does not list, are left as they are.
func (in *Installer) dropLinkerConfig(ctx context.Context, c *Commit) error {
	changed := false
	if pc := c.prevConfig(glibcLinkerConf); pc != nil && pc.Created {
		if old, ok, err := in.readFile(glibcLinkerConf, maxConfigFile); err == nil && ok && sum(old) == pc.SHA256 {
			if err := in.root.Remove(rel(glibcLinkerConf)); err != nil {
				return fsErr("remove", glibcLinkerConf, err)
			}
			c.undo = append(c.undo, func() error { return in.writeFileAtomic(glibcLinkerConf, old, 0o644) })
			changed = true
		}
	}
	p := muslPathFile(in.opt.Arch)
	if pc := c.prevConfig(p); pc != nil && len(pc.Lines) > 0 {
		if old, ok, err := in.readFile(p, maxConfigFile); err == nil && ok {
			if data := unmerge(old, *pc); !bytes.Equal(data, old) {
				perm := in.permOf(p)
				if err := in.writeFileAtomic(p, data, perm); err != nil {
					return err
				}
				c.undo = append(c.undo, func() error { return in.writeFileAtomic(p, old, perm) })
			}
		}
	}
	if changed {
		in.opt.Log.Info().Str("file", glibcLinkerConf).Msg("removed the earlier install's linker config: the self-contained bundle's glibc must not be on the system's library path")
		if err := in.ldconfig(ctx); err != nil {
			c.Warnings = append(c.Warnings, err.Error())
		}
	}
	return nil
}

const glibcConfHeader = "# Written by slurm-installer"

func (in *Installer) hasGlibcConf() bool {
	for _, p := range []string{"etc/ld.so.conf", "etc/ld.so.conf.d"} {
		if _, err := in.root.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

// ldCache is glibc's loader cache, which ldconfig writes.
const ldCache = "/etc/ld.so.cache"

// rerunLdconfig refreshes the loader cache after a rollback (glibc only).
// A cache that only this commit's ldconfig created is removed instead: the
// root had none, and must be left as it was.
func (in *Installer) rerunLdconfig(c *Commit) {
	if in.opt.Libc == bundle.Musl && !in.hasGlibcConf() {
		return
	}
	if !c.hadLdCache {
		if err := in.root.Remove(rel(ldCache)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			in.opt.Log.Warn().Err(err).Str("file", ldCache).Msg("could not remove the loader cache this run created")
		}
		return
	}
	// The run's own context may be cancelled (a signal): the rollback still finishes.
	_ = in.ldconfig(context.Background())
}

// unprivileged is sandbox.Unprivileged; tests replace it.
var unprivileged = sandbox.Unprivileged

// ldconfig runs the target root's ldconfig so its loader cache includes the
// new directories, chrooted into the root: as root, or for a caller that
// is not root in a user namespace where the kernel allows one. A root of
// another CPU is tried too: the kernel runs its ldconfig through
// binfmt_misc when an emulator is registered. It returns an error
// suitable for a warning when ldconfig ran and failed, and one that wraps
// errLoaderCacheNotBuilt when it could not run at all.
func (in *Installer) ldconfig(ctx context.Context) error {
	var bin string
	for _, p := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig", "/bin/ldconfig", "/usr/bin/ldconfig"} {
		if fi, err := in.root.Stat(rel(p)); err == nil && fi.Mode().IsRegular() {
			bin = p
			break
		}
	}
	foreign := in.opt.Arch != "" && platform.Host() != "" && in.opt.Arch != platform.Host()
	// Not cancelled with the run: ldconfig killed half-way leaves its
	// ld.so.cache~ behind. It is quick; a signal takes effect right after.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	// A self-contained bundle carries its loader and needs no loader cache.
	selfContained := []failure.Remedy{{Step: failure.PackSelfContained}}
	if bin == "" {
		if foreign {
			// this host's ldconfig -r skips another CPU's libraries
			return cacheError(fmt.Sprintf("ldconfig not run: the %s root has no ldconfig of its own, and this %s host's would leave its libraries out of the cache", in.opt.Arch, platform.Host()),
				"add ldconfig (libc-bin) to the image and run it there", selfContained)
		}
		return in.hostLdconfig(ctx)
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	how := ""
	if in.opt.RootDir != "/" {
		cmd.Path = bin
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: in.opt.RootDir}
		cmd.Dir = "/"
		if os.Geteuid() != 0 {
			if err := unprivileged(); err != nil {
				return cacheError(fmt.Sprintf("ldconfig not run: entering the target root %s needs chroot, which needs root or an unprivileged user namespace, and %v", in.opt.RootDir, err),
					"run the installer as root, allow unprivileged user namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone), or run `ldconfig` in the image before its SLURM commands are used", nil)
			}
			// Only the caller's own ids are mapped (as 0): ldconfig can
			// write what the caller could, nothing more.
			cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			how = "in an unprivileged user namespace"
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if foreign && errors.Is(err, syscall.ENOEXEC) {
			return cacheError(fmt.Sprintf("ldconfig not run: tried the root's %s, but this %s host cannot execute %s programs (no binfmt_misc emulation for %s is registered)", bin, platform.Host(), in.opt.Arch, in.opt.Arch),
				fmt.Sprintf("register qemu-user-static for %s in binfmt_misc on this host (Debian: `apt-get install qemu-user-static binfmt-support`), or run `ldconfig` in the image before its SLURM commands are used", in.opt.Arch), selfContained)
		}
		return fmt.Errorf("ldconfig in %s failed: %v: %s", in.opt.RootDir, err, strings.TrimSpace(string(out)))
	}
	if foreign {
		how = strings.TrimSpace(how + " under binfmt_misc emulation")
	}
	if how != "" {
		in.opt.Log.Info().Str("ldconfig", bin).Str("arch", in.opt.Arch).Msg("ran the root's ldconfig " + how)
	}
	return nil
}

// hostLdconfig builds the loader cache of a root that has no ldconfig of
// its own (distroless images) with this host's ldconfig -r, which chroots
// into the root itself. Without /etc/ld.so.conf in the root it reads our
// file alone, plus ldconfig's built-in system directories.
func (in *Installer) hostLdconfig(ctx context.Context) error {
	noLdconfig := fmt.Errorf("no ldconfig in the target root, so its loader cache was not refreshed and %s has no effect; add ldconfig to the image or publish a self-contained bundle", glibcLinkerConf)
	if in.opt.RootDir == "/" || os.Geteuid() != 0 {
		return noLdconfig
	}
	var host string
	for _, p := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			host = p
			break
		}
	}
	if host == "" {
		return noLdconfig
	}
	conf := "/etc/ld.so.conf"
	if _, err := in.root.Stat(rel(conf)); err != nil {
		conf = glibcLinkerConf
	}
	out, err := exec.CommandContext(ctx, host, "-r", in.opt.RootDir, "-f", conf).CombinedOutput()
	if err != nil {
		return fmt.Errorf("the target root has no ldconfig and this host's `ldconfig -r %s -f %s` failed: %v: %s", in.opt.RootDir, conf, err, strings.TrimSpace(string(out)))
	}
	in.opt.Log.Info().Str("config", conf).Msg("the root has no ldconfig; built its loader cache with this host's ldconfig -r")
	return nil
}

// profileContent is /etc/profile.d/slurm.sh for a real or demo install.
func profileContent(prefix, binDir string, demo bool) []byte {
	var b strings.Builder
	b.WriteString("# Written by slurm-installer; removed by `slurm-installer uninstall`.\n")
	if demo {
		b.WriteString("# No working SLURM client could be installed: the backend serves demo data.\n")
		b.WriteString("export SLURM_DEMO_MODE=1\n")
		return []byte(b.String())
	}
	// Quoted for POSIX sh: a prefix holding $(...), backquotes or a quote is
	// data, never code (Open refuses control characters).
	fmt.Fprintf(&b, "export SLURM_HOME=%s\n", shQuote(prefix))
	pathValue := `"` + binDir + `:$PATH"`
	if q := shQuote(binDir); q != binDir {
		pathValue = q + `":$PATH"`
	}
	fmt.Fprintf(&b, "case \":$PATH:\" in\n*:%s:*) ;;\n*) export PATH=%s ;;\nesac\n", shQuote(binDir), pathValue)
	b.WriteString("unset SLURM_DEMO_MODE\n")
	return []byte(b.String())
}

// shQuote quotes s for POSIX sh: in single quotes, each quote in s closing the quotes, escaped, and reopening them.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-") == "" {
		return s // a plain path needs no quotes
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (in *Installer) writeProfile(c *Commit, demo bool) error {
	return in.writeConfig(c, ProfileScript, profileContent(in.opt.Prefix, in.opt.BinDir, demo), nil, "", false)
}
