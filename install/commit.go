package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"slurm-installer/internal/failure"
)

// Commit is a committed payload whose previous state can still be restored.
type Commit struct {
	in        *Installer
	undo      []func() error
	oldDirRel string // previous payload dir (versioned or legacy), removed by Finalize
	staged    *Staged

	PayloadRel string   // in-root path of the new versioned payload dir
	Links      []Link   // command links now in place
	Configs    []Config // config files written
	EtcFiles   []string // files placed in /etc/slurm (absent before)
	EtcKept    []string // bundle files not placed because the site has its own
	LinkerDirs []string
	Warnings   []string
}

// Link is a command link in --bin-dir.
type Link struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// Config is a configuration file the installer wrote.
type Config struct {
	Path    string   `json:"path"`
	SHA256  string   `json:"sha256"`          // of the content we wrote
	Created bool     `json:"created"`         // absent before the install
	Lines   []string `json:"lines,omitempty"` // lines we added to a file we merged into
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// Commit makes the staged payload the active one and writes the links and
// system configuration for it. On error everything done so far is undone.
// prevLinks are the command links of the previous install (from its
// receipt); those the new payload no longer has are removed.
func (in *Installer) Commit(ctx context.Context, st *Staged, version string, prevLinks []Link) (c *Commit, err error) {
	c = &Commit{in: in, staged: st}
	defer func() {
		if err != nil {
			if rerr := c.Rollback(); rerr != nil {
				in.opt.Log.Error().Err(rerr).Msg("rollback after failed commit was incomplete")
			}
			c = nil
		}
	}()
	parent := path.Dir(in.opt.Prefix)
	safeVersion := strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, firstNonEmpty(version, "unknown"))
	c.PayloadRel = path.Join(parent, in.versionedPrefix()+safeVersion+"-"+randomID())
	if err := in.root.Rename(rel(st.PayloadRel), rel(c.PayloadRel)); err != nil {
		return c, fsErr("move staged payload to", c.PayloadRel, err)
	}
	c.undo = append(c.undo, func() error { return in.root.RemoveAll(rel(c.PayloadRel)) })
	log := in.opt.Log
	log.Debug().Str("dir", c.PayloadRel).Msg("commit: payload moved beside the prefix")
	if err := in.swapPrefix(c); err != nil {
		return c, err
	}
	log.Debug().Str("prefix", in.opt.Prefix).Msg("commit: prefix swapped")
	if err := in.linkCommands(c, st.Commands, prevLinks); err != nil {
		return c, err
	}
	log.Debug().Msg("commit: commands linked")
	if err := in.writeLinkerConfig(ctx, c, st); err != nil {
		return c, err
	}
	log.Debug().Msg("commit: linker config written")
	if err := in.writeProfile(c, false); err != nil {
		return c, err
	}
	log.Debug().Msg("commit: profile written")
	if err := in.placeEtc(c, st); err != nil {
		return c, err
	}
	log.Debug().Msg("commit: /etc/slurm placed")
	return c, nil
}

// swapPrefix points <prefix> at the new payload in one rename.
func (in *Installer) swapPrefix(c *Commit) error {
	prefix := in.opt.Prefix
	parent := path.Dir(prefix)
	target := path.Base(c.PayloadRel)
	tmp := path.Join(parent, tmpPrefix+randomID())
	if err := in.root.Symlink(target, rel(tmp)); err != nil {
		return fsErr("create link", tmp, err)
	}
	fi, err := in.root.Lstat(rel(prefix))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := in.root.Rename(rel(tmp), rel(prefix)); err != nil {
			_ = in.root.Remove(rel(tmp))
			return fsErr("activate", prefix, err)
		}
		c.undo = append(c.undo, func() error { return in.root.Remove(rel(prefix)) })
	case err != nil:
		_ = in.root.Remove(rel(tmp))
		return fsErr("inspect", prefix, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		old, err := in.root.Readlink(rel(prefix))
		if err != nil {
			return fsErr("read link", prefix, err)
		}
		if err := in.root.Rename(rel(tmp), rel(prefix)); err != nil {
			_ = in.root.Remove(rel(tmp))
			return fsErr("activate", prefix, err)
		}
		if !strings.Contains(old, "/") {
			c.oldDirRel = path.Join(parent, old)
		}
		c.undo = append(c.undo, func() error { return in.relink(prefix, old) })
	case fi.IsDir():
		// A real directory from an older installer or the shell recipe:
		// exchange it with the link atomically, keep it until Finalize.
		backup := path.Join(parent, in.versionedPrefix()+"previous-"+randomID())
		if err := in.exchange(parent, path.Base(tmp), path.Base(prefix)); err != nil {
			in.opt.Log.Debug().Err(err).Msg("atomic exchange unavailable; using two renames")
			if err := in.root.Rename(rel(prefix), rel(backup)); err != nil {
				_ = in.root.Remove(rel(tmp))
				return fsErr("move aside", prefix, err)
			}
			if err := in.root.Rename(rel(tmp), rel(prefix)); err != nil {
				_ = in.root.Rename(rel(backup), rel(prefix))
				_ = in.root.Remove(rel(tmp))
				return fsErr("activate", prefix, err)
			}
		} else if err := in.root.Rename(rel(tmp), rel(backup)); err != nil {
			return fsErr("move aside", prefix, err)
		}
		c.oldDirRel = backup
		c.undo = append(c.undo, func() error {
			if err := in.root.Remove(rel(prefix)); err != nil {
				return err
			}
			return in.root.Rename(rel(backup), rel(prefix))
		})
	default:
		_ = in.root.Remove(rel(tmp))
		return failure.New(failure.FileSystem, "%s exists and is not a directory or link", prefix).
			WithHint("move it away or choose another --prefix")
	}
	return nil
}

// exchange swaps two names in dir atomically (renameat2 RENAME_EXCHANGE).
func (in *Installer) exchange(dir, a, b string) error {
	d, err := in.root.Open(rel(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	fd := int(d.Fd())
	return unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE)
}

// relink atomically (re)points the link at p to target.
func (in *Installer) relink(p, target string) error {
	tmp := path.Join(path.Dir(p), tmpPrefix+randomID())
	if err := in.root.Symlink(target, rel(tmp)); err != nil {
		return err
	}
	if err := in.root.Rename(rel(tmp), rel(p)); err != nil {
		_ = in.root.Remove(rel(tmp))
		return err
	}
	return nil
}

// linkTarget is the relative target from bin-dir to prefix/bin/cmd.
func (in *Installer) linkTarget(cmd string) string {
	from := strings.Split(strings.Trim(in.opt.BinDir, "/"), "/")
	to := strings.Split(strings.Trim(path.Join(in.opt.Prefix, "bin", cmd), "/"), "/")
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	return strings.Repeat("../", len(from)-i) + strings.Join(to[i:], "/")
}

// ours says whether a link in bin-dir (with the given target) points into
// the prefix, i.e. was made by an installer for this prefix.
func (in *Installer) ours(linkPath, target string) bool {
	abs := target
	if !strings.HasPrefix(target, "/") {
		abs = path.Join(path.Dir(linkPath), target)
	}
	abs = path.Clean(abs)
	return strings.HasPrefix(abs, in.opt.Prefix+"/") || strings.HasPrefix(abs, path.Join(path.Dir(in.opt.Prefix), in.versionedPrefix()))
}

func (in *Installer) linkCommands(c *Commit, cmds []string, prev []Link) error {
	if err := in.root.MkdirAll(rel(in.opt.BinDir), 0o755); err != nil {
		return fsErr("create directory", in.opt.BinDir, err)
	}
	want := map[string]bool{}
	for _, cmd := range cmds {
		p := path.Join(in.opt.BinDir, cmd)
		want[p] = true
		target := in.linkTarget(cmd)
		fi, err := in.root.Lstat(rel(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := in.root.Symlink(target, rel(p)); err != nil {
				return fsErr("link", p, err)
			}
			c.undo = append(c.undo, func() error { return in.root.Remove(rel(p)) })
		case err != nil:
			return fsErr("inspect", p, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			old, err := in.root.Readlink(rel(p))
			if err != nil {
				return fsErr("read link", p, err)
			}
			if !in.ours(p, old) && !in.opt.Force {
				c.Warnings = append(c.Warnings, fmt.Sprintf("not replacing %s: it links to %s, not into %s (remove it, or pass --force)", p, old, in.opt.Prefix))
				continue
			}
			if old != target {
				if err := in.relink(p, target); err != nil {
					return fsErr("link", p, err)
				}
				c.undo = append(c.undo, func() error { return in.relink(p, old) })
			}
		default:
			c.Warnings = append(c.Warnings, fmt.Sprintf("not replacing %s: it is a %s that this installer did not create (remove it to use the bundle's %s)", p, describe(fi), cmd))
			continue
		}
		c.Links = append(c.Links, Link{Path: p, Target: target})
	}
	for _, l := range prev {
		if want[l.Path] {
			continue
		}
		old, err := in.root.Readlink(rel(l.Path))
		if err != nil || !in.ours(l.Path, old) {
			continue
		}
		if err := in.root.Remove(rel(l.Path)); err == nil {
			c.undo = append(c.undo, func() error { return in.root.Symlink(old, rel(l.Path)) })
		}
	}
	return nil
}

func describe(fi fs.FileInfo) string {
	switch {
	case fi.IsDir():
		return "directory"
	case fi.Mode().IsRegular():
		return "file"
	}
	return fi.Mode().Type().String()
}

// writeConfig atomically writes an in-root config file and registers undo.
func (in *Installer) writeConfig(c *Commit, p string, data []byte, added []string) error {
	old, existed, err := in.readFile(p)
	if err != nil {
		return fsErr("read", p, err)
	}
	if err := in.writeFileAtomic(p, data, 0o644); err != nil {
		return err
	}
	c.undo = append(c.undo, func() error {
		if existed {
			return in.writeFileAtomic(p, old, 0o644)
		}
		return in.root.Remove(rel(p))
	})
	c.Configs = append(c.Configs, Config{Path: p, SHA256: sum(data), Created: !existed, Lines: added})
	return nil
}

// placeEtc creates /etc/slurm and copies the bundle's files there only
// where the site has none.
func (in *Installer) placeEtc(c *Commit, st *Staged) error {
	if err := in.root.MkdirAll("etc/slurm", 0o755); err != nil {
		return fsErr("create directory", "/etc/slurm", err)
	}
	for _, e := range st.EtcFiles {
		dst := path.Join("/etc/slurm", e.Path)
		if _, err := in.root.Lstat(rel(dst)); err == nil {
			c.EtcKept = append(c.EtcKept, dst)
			continue
		}
		if err := in.root.MkdirAll(rel(path.Dir(dst)), 0o755); err != nil {
			return fsErr("create directory", path.Dir(dst), err)
		}
		if err := in.copyInRoot(path.Join(st.etcRel, e.Path), dst, e.Mode); err != nil {
			return fsErr("write", dst, err)
		}
		c.undo = append(c.undo, func() error { return in.root.Remove(rel(dst)) })
		c.EtcFiles = append(c.EtcFiles, dst)
	}
	return nil
}

func (in *Installer) copyInRoot(src, dst string, mode fs.FileMode) error {
	s, err := in.root.Open(rel(src))
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := in.root.OpenFile(rel(dst), os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(d, s); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// Rollback undoes the commit's changes in reverse order.
func (c *Commit) Rollback() error {
	var errs []error
	for i := len(c.undo) - 1; i >= 0; i-- {
		if err := c.undo[i](); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	c.undo = nil
	c.in.rerunLdconfig(c)
	c.staged.Discard()
	return errors.Join(errs...)
}

// Finalize makes the commit permanent: the previous payload and the staging
// directory are removed.
func (c *Commit) Finalize() {
	c.in.opt.Log.Debug().Str("dir", c.oldDirRel).Msg("finalize: removing the previous payload")
	if c.oldDirRel != "" && c.oldDirRel != c.PayloadRel {
		_ = c.in.root.RemoveAll(rel(c.oldDirRel))
	}
	c.staged.Discard()
	c.undo = nil
}
