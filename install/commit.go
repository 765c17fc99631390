package install

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// Commit is a committed payload whose previous state can still be restored.
type Commit struct {
	in         *Installer
	hadLdCache bool // the root had /etc/ld.so.cache before this commit
	undo       []func() error
	oldDirRel  string // previous payload dir (one of our versioned ones), removed by Finalize
	staged     *Staged
	prev       *Receipt // the valid receipt on disk before this commit, nil if none
	carried    int      // CreatedDirs[:carried] come from earlier installs
	pending    []Backup // backups this commit made, journaled until Finalize
	planLinks  []Link   // command links about to be made (journaled first)
	planConf   *Config  // the config file about to be written (journaled first)

	PayloadRel string // in-root path of the new versioned payload dir
	// LdconfigTook is how long the root's ldconfig ran (0 when it did not).
	LdconfigTook time.Duration
	Links        []Link   // command links now in place
	Configs      []Config // config files written
	EtcFiles     []string // files placed in /etc/slurm (absent before)
	EtcKept      []string // bundle files not placed because the site has its own
	LinkerDirs   []string
	Warnings     []string
	// LoaderCache is set when the root's ldconfig could not run: the
	// linker config is written, but a glibc bundle's commands find lib/
	// only through the cache, so they cannot start yet. Its Advice method
	// gives the hint and the remedies.
	LoaderCache error
	// Backups (carried from the previous receipt, plus those this commit
	// made) and CreatedDirs belong in the new receipt: uninstall needs them.
	Backups     []Backup
	CreatedDirs []string
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
	Created bool     `json:"created"`         // absent (or moved to a backup) before the first install
	Lines   []string `json:"lines,omitempty"` // lines we added to a file we merged into
	// Appended is the exact bytes added after the site's own content of a
	// merged file (a newline, when the site's last line had none, and
	// Lines); uninstall cuts them off, so the site's bytes come back as
	// they were, formatting and all.
	Appended string `json:"appended,omitempty"`
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// Commit makes the staged payload the active one and writes the links and
// system configuration for it. On error everything done so far is undone.
// prevLinks are the command links of the previous install (from its
// receipt); those the new payload no longer has are removed.
func (in *Installer) Commit(ctx context.Context, st *Staged, version string, prevLinks []Link) (c *Commit, err error) {
	c = &Commit{in: in, staged: st, prev: in.prevReceipt()}
	_, lerr := in.root.Lstat(rel(ldCache))
	c.hadLdCache = lerr == nil
	if c.prev != nil {
		c.Backups = append(c.Backups, c.prev.Backups...)
		c.CreatedDirs = append(c.CreatedDirs, c.prev.CreatedDirs...)
		if c.prev.Mode == ModeDemo && c.prev.Previous != nil {
			prevLinks = append(prevLinks, c.prev.Previous.Links...)
		}
	}
	c.carried = len(c.CreatedDirs)
	c.CreatedDirs = append(c.CreatedDirs, st.createdDirs...)
	st.keepDirs() // the commit owns them now: Rollback removes them
	in.committing = c
	defer func() { in.committing = nil }()
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
	}, cmp.Or(version, "unknown"))
	c.PayloadRel = path.Join(parent, in.versionedPrefix()+safeVersion+"-"+randomID())
	// Journaled before the move: a run killed from here on leaves a record
	// the next run undoes (docs/DESIGN.md §5, delete only by record).
	if err := in.journalDir(c.PayloadRel, in.inode(st.PayloadRel)); err != nil {
		return c, err
	}
	if err := in.journalCommit(c); err != nil {
		return c, err
	}
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

// swapPrefix points <prefix> at the new payload in one rename. Only a link
// to one of this installer's own versioned payload directories is replaced
// as ours; anything else at the prefix (a real directory, a site's own
// link such as slurm -> slurm-23.02.1, a file) is refused, or with --force
// moved aside to a recorded backup. The target of a foreign link is never
// touched.
func (in *Installer) swapPrefix(c *Commit) error {
	prefix := in.opt.Prefix
	parent := path.Dir(prefix)
	target := path.Base(c.PayloadRel)
	fi, err := in.root.Lstat(rel(prefix))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fsErr("inspect", prefix, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		old, err := in.root.Readlink(rel(prefix))
		if err != nil {
			return fsErr("read link", prefix, err)
		}
		if isPayloadName(prefix, old) {
			// The payload it leaves is journaled (when a receipt or the
			// journal records it) before the swap: once the new receipt is
			// written it is recorded nowhere else, and a run killed before
			// Finalize removes it leaves it to the next run, by this record.
			oldDir := path.Join(parent, old)
			if in.recordedPayloads(c.prev)[oldDir] && !in.journalNames(oldDir) {
				if err := in.journalDir(oldDir, in.inode(oldDir)); err != nil {
					return err
				}
			}
			if err := in.relink(prefix, target); err != nil {
				return fsErr("activate", prefix, err)
			}
			c.oldDirRel = path.Join(parent, old)
			c.undo = append(c.undo, func() error { return in.relink(prefix, old) })
			return nil
		}
		if err := in.claim(c, prefix, "it links to "+old+", not to a payload directory this installer made"); err != nil {
			return err
		}
	default:
		if err := in.claim(c, prefix, "the installer makes "+prefix+" a link to its payload"); err != nil {
			return err
		}
	}
	if err := in.relink(prefix, target); err != nil {
		return fsErr("activate", prefix, err)
	}
	c.undo = append(c.undo, func() error { return in.root.Remove(rel(prefix)) })
	return nil
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

// linkTarget is the relative target from bin-dir to prefix/bin/cmd. It is
// computed from where bin-dir really is (its symlinked components resolved
// as chroot would: /bin -> usr/bin on a merged-/usr root), because the
// kernel resolves ".." from there.
func (in *Installer) linkTarget(cmd string) string {
	from := strings.Split(strings.Trim(in.resolveDir(in.opt.BinDir), "/"), "/")
	to := strings.Split(strings.Trim(path.Join(in.opt.Prefix, "bin", cmd), "/"), "/")
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	return strings.Repeat("../", len(from)-i) + strings.Join(to[i:], "/")
}

// ours says whether a link in bin-dir (with the given target) points to a
// command in the prefix, i.e. was made by an installer for this prefix.
func (in *Installer) ours(linkPath, target string) bool {
	return in.linkIntoPrefix(in.opt.Prefix, linkPath, target)
}

func (in *Installer) linkCommands(c *Commit, cmds []string, prev []Link) error {
	if err := in.mkdirAll(&c.CreatedDirs, in.opt.BinDir); err != nil {
		return err
	}
	want := map[string]bool{}
	c.planLinks = append([]Link(nil), c.Links...)
	for _, cmd := range cmds {
		c.planLinks = append(c.planLinks, Link{Path: path.Join(in.opt.BinDir, cmd), Target: in.linkTarget(cmd)})
	}
	if err := in.journalCommit(c); err != nil {
		return err
	}
	defer func() { c.planLinks = nil }()
	for _, cmd := range cmds {
		p := path.Join(in.opt.BinDir, cmd)
		want[p] = true
		target := in.linkTarget(cmd)
		fi, err := in.root.Lstat(rel(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fsErr("inspect", p, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			old, err := in.root.Readlink(rel(p))
			if err != nil {
				return fsErr("read link", p, err)
			}
			if in.ours(p, old) {
				if old != target {
					if err := in.relink(p, target); err != nil {
						return fsErr("link", p, err)
					}
					c.undo = append(c.undo, func() error { return in.relink(p, old) })
				}
				c.Links = append(c.Links, Link{Path: p, Target: target})
				continue
			}
			if err := in.claim(c, p, "it links to "+old+", not into "+in.opt.Prefix); err != nil {
				return err
			}
		default:
			if err := in.claim(c, p, "the bundle's "+cmd+" is linked there"); err != nil {
				return err
			}
		}
		if err := in.root.Symlink(target, rel(p)); err != nil {
			return fsErr("link", p, err)
		}
		c.undo = append(c.undo, func() error { return in.root.Remove(rel(p)) })
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
// A file there is overwritten only when it is provably ours: the previous
// receipt lists it with the content it has now (its pre-install state is
// then inherited), or it already holds exactly data. Anything else is the
// site's: refused, or with --force moved to a recorded backup. A merged
// file (musl's path file) keeps the site's content; data is the site's
// bytes (without what an earlier install added, see unmerge) followed by
// appended, our lines added. A file that already holds data is not
// rewritten, and a file that stood there keeps its mode.
func (in *Installer) writeConfig(c *Commit, p string, data []byte, added []string, appended string, merged bool) error {
	created := false
	fi, err := in.root.Lstat(rel(p))
	var old []byte
	prev := c.prevConfig(p)
	perm := fs.FileMode(0o644) // a file that stood there keeps its own
	switch {
	case errors.Is(err, fs.ErrNotExist):
		created = true
	case err != nil:
		return fsErr("inspect", p, err)
	case !fi.Mode().IsRegular():
		if err := in.claim(c, p, "the installer writes a file there"); err != nil {
			return err
		}
		created = true
	default:
		b, _, err := in.readFile(p, maxConfigFile)
		if err != nil {
			return fsErr("read", p, err)
		}
		old = b
		if merged {
			// The site's file keeps its mode; a file of ours is always
			// 0644, never the mode of what --force moved aside.
			perm = fi.Mode().Perm()
		}
		switch {
		case prev != nil && sum(b) == prev.SHA256:
			created = prev.Created // ours as the earlier install left it
		case merged, bytes.Equal(b, data):
			// merged into the site's file, or already exactly this content
		default:
			if err := in.claim(c, p, "its content is not what this installer wrote"); err != nil {
				return err
			}
			old, created = nil, true
		}
	}
	cf := Config{Path: p, SHA256: sum(data), Created: created, Lines: added}
	if merged {
		cf.Appended = appended
	}
	if old == nil || !bytes.Equal(old, data) {
		if err := in.mkdirAll(&c.CreatedDirs, path.Dir(p)); err != nil {
			return err
		}
		c.planConf = &cf
		err := in.journalCommit(c)
		c.planConf = nil
		if err != nil {
			return err
		}
		if err := in.writeFileAtomic(p, data, perm); err != nil {
			return err
		}
		existed := old != nil
		c.undo = append(c.undo, func() error {
			if existed {
				return in.writeFileAtomic(p, old, perm)
			}
			return in.root.Remove(rel(p))
		})
	}
	c.Configs = append(c.Configs, cf)
	return nil
}

// prevConfig is the earlier install's record of the file at p, or nil.
func (c *Commit) prevConfig(p string) *Config {
	if c.prev == nil {
		return nil
	}
	for i := range c.prev.Configs {
		if c.prev.Configs[i].Path == p {
			return &c.prev.Configs[i]
		}
	}
	return nil
}

// missing lists, once each and in order, the entries of more that have lacks.
func missing(have, more []string) []string {
	seen := map[string]bool{}
	for _, h := range have {
		seen[h] = true
	}
	var out []string
	for _, m := range more {
		if !seen[m] {
			out = append(out, m)
			seen[m] = true
		}
	}
	return out
}

// placeEtc creates /etc/slurm and copies the bundle's files there only
// where the site has none.
func (in *Installer) placeEtc(c *Commit, st *Staged) error {
	if err := in.mkdirAll(&c.CreatedDirs, "/etc/slurm"); err != nil {
		return err
	}
	for _, e := range st.EtcFiles {
		dst := path.Join("/etc/slurm", e.Path)
		if _, err := in.root.Lstat(rel(dst)); err == nil {
			c.EtcKept = append(c.EtcKept, dst)
			continue
		}
		if err := in.mkdirAll(&c.CreatedDirs, path.Dir(dst)); err != nil {
			return err
		}
		src := st.etcSrc[e.Path]
		if r, ok := under(src, st.PayloadRel); ok {
			src = path.Join(c.PayloadRel, r) // moved with the payload
		}
		if err := in.copyInRoot(src, dst, e.Mode); err != nil {
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
	c.staged.Discard()
	// The loader cache first: removing one this commit created empties /etc
	// (when the run created that too) before the created directories go.
	c.in.rerunLdconfig(c)
	c.in.removeCreatedDirs(c.CreatedDirs[c.carried:])
	c.CreatedDirs = c.CreatedDirs[:c.carried]
	c.in.settleJournal()
	return errors.Join(errs...)
}

// Finalize makes the commit permanent: the previous payload and the staging
// directory are removed.
func (c *Commit) Finalize() {
	c.in.opt.Log.Debug().Str("dir", c.oldDirRel).Msg("finalize: removing the previous payload")
	// Only by record: the payload directory the previous receipt names, or
	// one the journal names (an interrupted run's, still that directory).
	if c.oldDirRel != "" && c.oldDirRel != c.PayloadRel && path.Dir(c.oldDirRel) == path.Dir(c.in.opt.Prefix) &&
		c.in.journalNames(c.oldDirRel) {
		_ = c.in.root.RemoveAll(rel(c.oldDirRel))
	}
	c.staged.Discard()
	c.undo = nil
	c.in.settleJournal() // the receipt records the rest now
}
